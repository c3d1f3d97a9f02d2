"""`uapi lint`: each rule rejects a spec broken in exactly its way, and nothing else fires."""
from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from uapi.cli import main
from uapi.lint import RULES, Finding, lint
from uapi.spec_core import load_spec

Spec = dict[str, Any]
SIMPLE = "#/paths/~1uapi~1phoneCalls~1{userId}~1simple/post"
GET_ITEM = "#/paths/~1uapi~1phoneCalls~1{userId}~1{phoneCallId}"
GET = GET_ITEM + "/get"
JSON = "application~1json"


def post(s: Spec) -> Any:
    return s["paths"]["/uapi/phoneCalls/{userId}/simple"]["post"]


def get_item(s: Spec) -> Any:
    return s["paths"]["/uapi/phoneCalls/{userId}/{phoneCallId}"]


def get(s: Spec) -> Any:
    return get_item(s)["get"]


def schemas(s: Spec) -> Any:
    return s["components"]["schemas"]


def link(s: Spec) -> Any:
    return s["components"]["links"]["GetCall"]


CASES: list[Any] = []


def case(rule_id: str, path: str, also: frozenset[str] = frozenset()) -> Callable[[Callable[[Spec], None]], Callable[[Spec], None]]:
    """Register a mutation that must make `rule_id` (and only it, or `also`) report at `path`."""
    def register(mutate: Callable[[Spec], None]) -> Callable[[Spec], None]:
        CASES.append(pytest.param(mutate, path, rule_id, also, id=f"{rule_id}:{mutate.__name__}"))
        return mutate
    return register


# --- spec-invalid ------------------------------------------------------------

@case("spec-invalid", GET)
def operation_without_responses(s: Spec) -> None:
    del get(s)["responses"]


@case("spec-invalid", "#/info")
def info_not_an_object(s: Spec) -> None:
    s["info"] = 3


# --- operationIds and docs ---------------------------------------------------

@case("operation-id-missing", SIMPLE)
def no_operation_id(s: Spec) -> None:
    del post(s)["operationId"]


# openapi-spec-validator notices duplicates too, but without pointing at the copy.
@case("operation-id-duplicate", "#/paths/~1uapi~1phoneCalls~1{userId}~1{phoneCallId}~1again/get/operationId",
      also=frozenset({"spec-invalid"}))
def duplicate_operation_id(s: Spec) -> None:
    s["paths"]["/uapi/phoneCalls/{userId}/{phoneCallId}/again"] = copy.deepcopy(get_item(s))


@case("operation-id-camel-case", GET + "/operationId")
def pascal_case_operation_id(s: Spec) -> None:
    get(s)["operationId"] = link(s)["operationId"] = "GetPhoneCall"


@case("operation-id-camel-case", GET + "/operationId")
def snake_case_operation_id(s: Spec) -> None:
    get(s)["operationId"] = link(s)["operationId"] = "get_phone_call"


@case("operation-docs", SIMPLE + "/summary")
def no_summary(s: Spec) -> None:
    del post(s)["summary"]


@case("operation-docs", GET + "/description")
def blank_description(s: Spec) -> None:
    get(s)["description"] = "   "


@case("operation-docs", GET + "/tags")
def empty_tags(s: Spec) -> None:
    get(s)["tags"] = []


# --- examples ----------------------------------------------------------------

@case("example-invalid", f"{SIMPLE}/requestBody/content/{JSON}/example")
def media_example_wrong_type_through_ref(s: Spec) -> None:
    post(s)["requestBody"]["content"]["application/json"]["example"]["extension"] = 210


@case("example-invalid", f"{SIMPLE}/responses/200/content/{JSON}/examples/ringing")
def referenced_named_example_outside_enum(s: Spec) -> None:
    s["components"]["examples"]["RingingCall"]["value"]["status"] = "bogus"


@case("example-invalid", f"{GET}/responses/200/content/{JSON}/example")
def example_with_bad_date_time(s: Spec) -> None:
    get(s)["responses"]["200"]["content"]["application/json"]["example"]["started"] = "yesterday"


@case("example-invalid", GET + "/parameters/0/example")
def parameter_example_wrong_type(s: Spec) -> None:
    get(s)["parameters"][0]["example"] = "many"


@case("example-invalid", GET + "/parameters/0/examples/big")
def parameter_named_example_above_maximum(s: Spec) -> None:
    del get(s)["parameters"][0]["example"]
    get(s)["parameters"][0]["examples"] = {"big": {"value": 1000}}


@case("example-invalid", GET + "/parameters/0/schema/example")
def schema_example_above_maximum(s: Spec) -> None:
    get(s)["parameters"][0]["schema"]["example"] = 1000


@case("example-invalid", "#/components/schemas/Call/properties/id/example")
def component_schema_example_wrong_type(s: Spec) -> None:
    schemas(s)["Call"]["properties"]["id"]["example"] = 5


@case("example-invalid", "#/components/parameters/UserId/example")
def component_parameter_example_breaks_pattern(s: Spec) -> None:
    s["components"]["parameters"]["UserId"]["example"] = "bob"


# --- security ----------------------------------------------------------------

@case("unknown-security-scheme", "#/security/0/apiKey")
def root_security_unknown_scheme(s: Spec) -> None:
    s["security"] = [{"apiKey": []}]


@case("unknown-security-scheme", GET + "/security/1/oauth")
def operation_security_unknown_scheme(s: Spec) -> None:
    get(s)["security"].append({"oauth": []})


# --- links -------------------------------------------------------------------

@case("link-target", "#/components/links/GetCall")
def link_to_unknown_operation_id(s: Spec) -> None:
    link(s)["operationId"] = "getPhoneCalls"


@case("link-target", "#/components/links/GetCall")
def link_operation_ref_to_missing_method(s: Spec) -> None:
    del link(s)["operationId"]
    link(s)["operationRef"] = GET_ITEM + "/put"


@case("link-target", f"{SIMPLE}/responses/200/links/Inline")
def inline_link_without_target(s: Spec) -> None:
    post(s)["responses"]["200"]["links"]["Inline"] = {"parameters": {"userId": "$request.path.userId"}}


@case("link-parameter", "#/components/links/GetCall/parameters/path.nope")
def link_parameter_unknown(s: Spec) -> None:
    link(s)["parameters"]["path.nope"] = "$response.body#/id"


@case("link-parameter", "#/components/links/GetCall/parameters/query.phoneCallId")
def link_parameter_wrong_location(s: Spec) -> None:
    link(s)["parameters"]["query.phoneCallId"] = link(s)["parameters"].pop("path.phoneCallId")


@case("link-expression", "#/components/links/GetCall/parameters/path.phoneCallId")
def link_expression_misspelt_source(s: Spec) -> None:
    link(s)["parameters"]["path.phoneCallId"] = "$response.bdy#/id"


@case("link-expression", "#/components/links/GetCall/parameters/userId")
def link_expression_without_name(s: Spec) -> None:
    link(s)["parameters"]["userId"] = "$request.path"


@case("link-expression", "#/components/links/GetCall/requestBody")
def link_embedded_expression_bad(s: Spec) -> None:
    link(s)["requestBody"] = "call {$response.body#/id} of {$caller}"


# --- x-error-code ------------------------------------------------------------

@case("missing-x-error-code", GET_ITEM + "/parameters/1")
def path_parameter_without_code(s: Spec) -> None:
    del get_item(s)["parameters"][1]["x-error-code"]


@case("missing-x-error-code", "#/components/parameters/UserId")
def component_parameter_without_code(s: Spec) -> None:
    del s["components"]["parameters"]["UserId"]["x-error-code"]


@case("missing-x-error-code", GET + "/parameters/2")
def header_parameter_without_code(s: Spec) -> None:
    get(s)["parameters"].append({"name": "X-Trace", "in": "header", "schema": {"type": "string"}})


@case("missing-x-error-code", "#/components/schemas/CallOptions/properties/recordCall")
def nested_property_through_ref_without_code(s: Spec) -> None:
    del schemas(s)["CallOptions"]["properties"]["recordCall"]["x-error-code"]


@case("missing-x-error-code", "#/components/schemas/CreateCall/properties/options")
def property_ref_target_without_code(s: Spec) -> None:
    del schemas(s)["CallOptions"]["x-error-code"]


@case("missing-x-error-code", "#/components/schemas/CreateCall/properties/destination/items/properties/number")
def array_of_objects_property_without_code(s: Spec) -> None:
    schemas(s)["CreateCall"]["properties"]["destination"]["items"] = {
        "type": "object", "properties": {"number": {"type": "string"}}}
    post(s)["requestBody"]["content"]["application/json"]["example"]["destination"] = [{"number": "1"}]


@case("missing-x-error-code", f"{SIMPLE}/requestBody/content/{JSON}/schema/allOf/0/properties/note")
def inline_all_of_property_without_code(s: Spec) -> None:
    body = post(s)["requestBody"]["content"]["application/json"]
    body["schema"] = {"allOf": [{"type": "object", "properties": {"note": {"type": "string"}}},
                                {"$ref": "#/components/schemas/CreateCall"}]}


@case("x-error-code-format", "#/components/schemas/CreateCall/properties/extension/x-error-code")
def camel_case_error_code(s: Spec) -> None:
    schemas(s)["CreateCall"]["properties"]["extension"]["x-error-code"] = "extensionInvalid"


@case("x-error-code-format", GET + "/parameters/0/x-error-code")
def numeric_error_code(s: Spec) -> None:
    get(s)["parameters"][0]["x-error-code"] = 42


# --- error responses ---------------------------------------------------------

@case("error-schema", f"{GET}/responses/404/content/{JSON}/schema")
def error_response_with_other_schema(s: Spec) -> None:
    get(s)["responses"]["404"]["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/Call"}


@case("error-schema", f"#/components/responses/BadRequest/content/{JSON}/schema")
def component_error_response_inline_schema(s: Spec) -> None:
    content = s["components"]["responses"]["BadRequest"]["content"]["application/json"]
    content["schema"] = {"type": "object", "properties": {"message": {"type": "string"}}}


@case("error-schema", GET + "/responses/5XX")
def server_error_range_without_body(s: Spec) -> None:
    get(s)["responses"]["5XX"] = {"description": "Unexpected failure."}


@case("error-schema", GET + "/responses/415")
def error_response_only_text(s: Spec) -> None:
    get(s)["responses"]["415"] = {"description": "x", "content": {"text/plain": {"schema": {"type": "string"}}}}


@case("error-schema", f"{GET}/responses/404/content/{JSON}/schema")
def operation_declaring_another_error_schema_but_using_the_default(s: Spec) -> None:
    # x-error-schema binds every error of the operation to the schema it names.
    get(s)["x-error-schema"] = "#/components/schemas/Call"


def test_an_operation_may_declare_its_own_error_schema() -> None:
    spec = load_spec(Path(__file__).parent / "specs" / "clean.yaml")
    operation = spec["paths"]["/uapi/phoneCalls/{userId}/{phoneCallId}"]["get"]
    operation["x-error-schema"] = "#/components/schemas/Call"
    for response in operation["responses"].values():
        for media in (response.get("content") or {}).values():
            if media.get("schema", {}).get("$ref") == "#/components/schemas/Error":
                media["schema"] = {"$ref": "#/components/schemas/Call"}
    assert [f for f in lint(spec) if f.rule == "error-schema"] == []


# --- unused components -------------------------------------------------------

UNUSED = {
    "schemas": {"type": "string"},
    "responses": {"description": "unused"},
    "parameters": {"name": "q", "in": "query", "schema": {"type": "string"}, "x-error-code": "q_invalid"},
    "examples": {"value": 1},
    "requestBodies": {"content": {"application/json": {"schema": {"type": "object"}}}},
    "headers": {"schema": {"type": "string"}},
    "securitySchemes": {"type": "apiKey", "in": "header", "name": "X-Key"},
    "links": {"operationId": "getPhoneCall"},
}

for _section, _entry in UNUSED.items():
    def _add_unused(s: Spec, section: str = _section, entry: Any = _entry) -> None:
        s["components"].setdefault(section, {})["Unused"] = copy.deepcopy(entry)
    _add_unused.__name__ = f"unused_{_section}"
    case("unused-component", f"#/components/{_section}/Unused")(_add_unused)


@case("unused-component", "#/components/schemas/Leaf")
def schema_used_only_by_unused_schema(s: Spec) -> None:
    schemas(s)["Orphan"] = {"type": "object", "properties": {"leaf": {"$ref": "#/components/schemas/Leaf"}}}
    schemas(s)["Leaf"] = {"type": "string"}


# --- the tests ---------------------------------------------------------------

@pytest.mark.parametrize(("mutate", "path", "rule_id", "also"), CASES)
def test_rule_rejects_broken_spec(spec: Spec, mutate: Callable[[Spec], None], path: str, rule_id: str,
                                  also: frozenset[str]) -> None:
    mutate(spec)
    findings = lint(spec)
    assert (path, rule_id) in {(f.path, f.rule) for f in findings}, findings
    # The breakage is caught by its own rule, not as collateral of another.
    assert {f.rule for f in findings} - also == {rule_id}, findings


def test_clean_spec_passes(spec: Spec) -> None:
    assert lint(spec) == []


def test_every_rule_has_a_breaking_case() -> None:
    covered = {param.values[2] for param in CASES}
    assert set(RULES) | {"spec-invalid"} <= covered
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", rule_id) for rule_id in RULES)


def test_transitively_unused_components_are_all_reported(spec: Spec) -> None:
    schema_used_only_by_unused_schema(spec)
    paths = {f.path for f in lint(spec)}
    assert paths == {"#/components/schemas/Orphan", "#/components/schemas/Leaf"}


def test_schema_reached_through_discriminator_mapping_is_used(spec: Spec) -> None:
    schemas(spec)["Call"]["discriminator"] = {
        "propertyName": "status", "mapping": {"ringing": "#/components/schemas/Ringing", "talking": "Talking"}}
    schemas(spec)["Ringing"] = {"type": "object"}
    schemas(spec)["Talking"] = {"type": "object"}
    assert lint(spec) == []


def test_valid_operation_ref_and_embedded_expression_pass(spec: Spec) -> None:
    del link(spec)["operationId"]
    link(spec)["operationRef"] = GET.replace("{", "%7B").replace("}", "%7D")  # URI-encoded form
    link(spec)["requestBody"] = "status {$statusCode} via {$request.header.X-Trace} for {$url}"
    assert lint(spec) == []


@pytest.mark.parametrize("where", ["parameter", "property"])
def test_x_lint_ignore_and_exemptions_need_no_code(spec: Spec, where: str) -> None:
    if where == "parameter":
        get(spec)["parameters"].append({"name": "X-Debug", "in": "header", "schema": {"type": "string"},
                                        "x-lint-ignore": True})
    else:
        schemas(spec)["CreateCall"]["properties"]["debug"] = {"type": "string", "x-lint-ignore": True}
    # Cookie parameters and readOnly fields (already in the clean spec) are exempt too.
    assert lint(spec) == []


def test_dangling_reference_is_reported_not_raised(spec: Spec) -> None:
    get(spec)["responses"]["200"]["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/Nope"}
    findings = lint(spec)
    assert Finding("#", "spec-invalid", "unresolvable reference '/components/schemas/Nope'") in findings
    assert {f.rule for f in findings} <= {"spec-invalid", "rule-skipped"}


def test_finding_renders_as_one_line() -> None:
    assert str(Finding("#/paths/~1a/get", "operation-docs", "no summary")) == "#/paths/~1a/get operation-docs: no summary"


def test_unquoted_yaml_status_codes_are_strings(tmp_path: Path) -> None:
    source = (Path(__file__).parent / "specs" / "clean.yaml").read_text()
    unquoted = tmp_path / "unquoted.yaml"
    unquoted.write_text(re.sub(r"'(\d{3})':", r"\1:", source))
    assert "        200:" in unquoted.read_text()
    assert lint(load_spec(unquoted)) == []


# --- command line ------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_cli_clean_spec_exits_zero_with_summary(spec: Spec, write_spec: Any, capsys: Any, suffix: str) -> None:
    assert main(["lint", str(write_spec(spec, suffix))]) == 0
    assert capsys.readouterr().out == f"ok: 2 operations, {len(RULES) + 1} rules checked\n"


def test_cli_prints_findings_and_exits_one(spec: Spec, write_spec: Any, capsys: Any) -> None:
    no_summary(spec)
    assert main(["lint", str(write_spec(spec))]) == 1
    out = capsys.readouterr().out
    assert out == f"{SIMPLE}/summary operation-docs: POST /uapi/phoneCalls/{{userId}}/simple has no summary\n"


def test_cli_defaults_to_openapi_uapi_yaml(spec: Spec, tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    (tmp_path / "openapi").mkdir()
    (tmp_path / "openapi" / "uapi.yaml").write_text((Path(__file__).parent / "specs" / "clean.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["lint"]) == 0
    assert capsys.readouterr().out.startswith("ok: 2 operations")


def test_cli_unreadable_spec_exits_two(tmp_path: Path, capsys: Any) -> None:
    assert main(["lint", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: [unclosed\n")
    assert main(["lint", str(broken)]) == 2
