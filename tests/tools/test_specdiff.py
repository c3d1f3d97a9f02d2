"""`uapi diff`: each kind of change lands in the right section with a readable line."""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from uapi.cli import main
from uapi.specdiff import Change, Report, diff

Spec = dict[str, Any]
POST = "POST /uapi/phoneCalls/{userId}/simple"
GET = "GET /uapi/phoneCalls/{userId}/{phoneCallId}"


def item(s: Spec) -> Any:
    return s["paths"]["/uapi/phoneCalls/{userId}/{phoneCallId}"]


def get(s: Spec) -> Any:
    return item(s)["get"]


def limit(s: Spec) -> Any:
    return get(s)["parameters"][0]


def schemas(s: Spec) -> Any:
    return s["components"]["schemas"]


def create_props(s: Spec) -> Any:
    return schemas(s)["CreateCall"]["properties"]


def call_props(s: Spec) -> Any:
    return schemas(s)["Call"]["properties"]


def lines(report: Report) -> tuple[list[str], list[str]]:
    return [str(c) for c in report.breaking], [str(c) for c in report.non_breaking]


Mutation = Callable[[Spec, Spec], None]  # (old, new): most cases edit only `new`
BREAKING: list[Any] = []
NON_BREAKING: list[Any] = []


def breaking(line: str) -> Callable[[Mutation], Mutation]:
    def register(mutate: Mutation) -> Mutation:
        BREAKING.append(pytest.param(mutate, line, id=mutate.__name__))
        return mutate
    return register


def non_breaking(line: str) -> Callable[[Mutation], Mutation]:
    def register(mutate: Mutation) -> Mutation:
        NON_BREAKING.append(pytest.param(mutate, line, id=mutate.__name__))
        return mutate
    return register


# --- breaking ----------------------------------------------------------------

@breaking(f"{POST} operation: removed")
def removed_path(old: Spec, new: Spec) -> None:
    del new["paths"]["/uapi/phoneCalls/{userId}/simple"]


@breaking("DELETE /uapi/phoneCalls/{userId}/{phoneCallId} operation: removed")
def removed_operation(old: Spec, new: Spec) -> None:
    item(old)["delete"] = copy.deepcopy(get(old))


@breaking(f"{GET} parameter query.limit: removed")
def removed_parameter(old: Spec, new: Spec) -> None:
    del get(new)["parameters"][0]


@breaking(f"{GET} response 200 status: field removed")
def removed_response_field(old: Spec, new: Spec) -> None:
    del call_props(new)["status"]


@breaking(f"{GET} response 200 id: became optional")
def response_field_no_longer_required(old: Spec, new: Spec) -> None:
    schemas(new)["Call"]["required"] = []


@breaking(f"{GET} response 200 status: enum value 'talking' removed")
def removed_response_enum_value(old: Spec, new: Spec) -> None:
    call_props(new)["status"]["enum"] = ["ringing"]


@breaking(f"{POST} request body extension: enum value '211' removed")
def removed_request_enum_value(old: Spec, new: Spec) -> None:
    create_props(old)["extension"]["enum"] = ["210", "211"]
    create_props(new)["extension"]["enum"] = ["210"]


@breaking(f"{GET} parameter query.since: new required parameter")
def new_required_parameter(old: Spec, new: Spec) -> None:
    get(new)["parameters"].append({"name": "since", "in": "query", "required": True, "schema": {"type": "string"}})


@breaking(f"{GET} parameter query.limit: became required")
def parameter_became_required(old: Spec, new: Spec) -> None:
    limit(new)["required"] = True


@breaking(f"{POST} request body callerId: new required field")
def new_required_request_field(old: Spec, new: Spec) -> None:
    create_props(new)["callerId"] = {"type": "string"}
    schemas(new)["CreateCall"]["required"].append("callerId")


@breaking(f"{POST} request body destination: became required")
def request_field_became_required(old: Spec, new: Spec) -> None:
    schemas(new)["CreateCall"]["required"].append("destination")


@breaking(f"{POST} request body options.recordCall: field removed")
def removed_request_field_now_rejected(old: Spec, new: Spec) -> None:
    del schemas(new)["CallOptions"]["properties"]["recordCall"]
    schemas(new)["CallOptions"]["additionalProperties"] = False


@breaking(f"{POST} request body extension: maxLength tightened: 32 -> 16")
def smaller_max_length(old: Spec, new: Spec) -> None:
    create_props(new)["extension"]["maxLength"] = 16


@breaking(f"{GET} parameter query.limit: maximum tightened: 100 -> 50")
def smaller_maximum(old: Spec, new: Spec) -> None:
    limit(new)["schema"]["maximum"] = 50


@breaking(f"{POST} request body destination: maxItems tightened: none -> 3")
def new_max_items(old: Spec, new: Spec) -> None:
    create_props(new)["destination"]["maxItems"] = 3


@breaking(f"{POST} request body extension: minLength tightened: 0 -> 3")
def larger_min_length(old: Spec, new: Spec) -> None:
    create_props(new)["extension"]["minLength"] = 3


@breaking(f"{GET} parameter query.limit: minimum tightened: 1 -> 5")
def larger_minimum(old: Spec, new: Spec) -> None:
    limit(new)["schema"]["minimum"] = 5


@breaking(f"{POST} request body destination: minItems tightened: 0 -> 1")
def larger_min_items(old: Spec, new: Spec) -> None:
    create_props(new)["destination"]["minItems"] = 1


@breaking(f"{POST} request body extension: pattern none -> '^[0-9]+$'")
def new_pattern(old: Spec, new: Spec) -> None:
    create_props(new)["extension"]["pattern"] = "^[0-9]+$"


@breaking(f"{GET} parameter path.userId: pattern '^(@me|[0-9]+)$' -> '^[0-9]+$'")
def changed_pattern(old: Spec, new: Spec) -> None:
    new["components"]["parameters"]["UserId"]["schema"]["pattern"] = "^[0-9]+$"


@breaking(f"{POST} request body destination[]: enum ['1', '2'] introduced")
def new_enum_on_field_without_one(old: Spec, new: Spec) -> None:
    create_props(new)["destination"]["items"]["enum"] = ["1", "2"]


@breaking(f"{GET} parameter query.limit: type changed from integer to string")
def changed_parameter_type(old: Spec, new: Spec) -> None:
    limit(new)["schema"] = {"type": "string"}


@breaking(f"{GET} response 200 started: type changed from string to integer")
def changed_response_field_type(old: Spec, new: Spec) -> None:
    call_props(new)["started"] = {"type": "integer"}


@breaking(f"{GET} response 404: removed")
def removed_response_status(old: Spec, new: Spec) -> None:
    del get(new)["responses"]["404"]


@breaking(f"{POST} request body: media type application/json removed")
def removed_request_media_type(old: Spec, new: Spec) -> None:
    body = new["paths"]["/uapi/phoneCalls/{userId}/simple"]["post"]["requestBody"]["content"]
    body["application/xml"] = body.pop("application/json")


# --- non-breaking ------------------------------------------------------------

@non_breaking("PUT /uapi/phoneCalls/{userId}/{phoneCallId} operation: added")
def added_operation(old: Spec, new: Spec) -> None:
    item(new)["put"] = copy.deepcopy(get(new))


@non_breaking(f"{GET} parameter query.offset: optional parameter added")
def added_optional_parameter(old: Spec, new: Spec) -> None:
    get(new)["parameters"].append({"name": "offset", "in": "query", "schema": {"type": "integer"}})


@non_breaking(f"{GET} response 200 ended: field added")
def added_response_field(old: Spec, new: Spec) -> None:
    call_props(new)["ended"] = {"type": "string", "format": "date-time"}


@non_breaking(f"{POST} request body note: field added")
def added_optional_request_field(old: Spec, new: Spec) -> None:
    create_props(new)["note"] = {"type": "string"}


@non_breaking(f"{POST} request body options.recordCall: field removed")
def removed_request_field_still_accepted(old: Spec, new: Spec) -> None:
    del schemas(new)["CallOptions"]["properties"]["recordCall"]


@non_breaking(f"{GET} response 200 status: enum value 'ended' added")
def added_enum_value(old: Spec, new: Spec) -> None:
    call_props(new)["status"]["enum"].append("ended")


@non_breaking(f"{POST} request body extension: maxLength loosened: 32 -> 64")
def larger_max_length(old: Spec, new: Spec) -> None:
    create_props(new)["extension"]["maxLength"] = 64


@non_breaking(f"{GET} parameter query.limit: minimum loosened: 1 -> none")
def dropped_minimum(old: Spec, new: Spec) -> None:
    del limit(new)["schema"]["minimum"]


@non_breaking(f"{GET} parameter path.userId: pattern '^(@me|[0-9]+)$' -> none")
def dropped_pattern(old: Spec, new: Spec) -> None:
    del new["components"]["parameters"]["UserId"]["schema"]["pattern"]


@non_breaking(f"{GET} response 500: added")
def added_response_status(old: Spec, new: Spec) -> None:
    get(new)["responses"]["500"] = copy.deepcopy(get(new)["responses"]["404"])


# --- the tests ---------------------------------------------------------------

@pytest.mark.parametrize(("mutate", "line"), BREAKING)
def test_breaking_change_is_reported(spec: Spec, mutate: Mutation, line: str) -> None:
    old, new = spec, copy.deepcopy(spec)
    mutate(old, new)
    breaks, _ = lines(diff(old, new))
    assert line in breaks
    assert diff(old, new).has_breaking


@pytest.mark.parametrize(("mutate", "line"), NON_BREAKING)
def test_non_breaking_change_is_reported(spec: Spec, mutate: Mutation, line: str) -> None:
    old, new = spec, copy.deepcopy(spec)
    mutate(old, new)
    breaks, others = lines(diff(old, new))
    assert breaks == []
    assert line in others


def test_identical_specs_have_no_changes(spec: Spec) -> None:
    new = copy.deepcopy(spec)
    get(new)["description"] = "Reworded."  # prose is not part of the wire contract
    assert lines(diff(spec, new)) == ([], [])


def test_refs_compare_by_structure_not_by_name(spec: Spec) -> None:
    new = copy.deepcopy(spec)
    schemas(new)["PhoneCall"] = schemas(new).pop("Call")
    for response in (get(new)["responses"]["200"],
                     new["paths"]["/uapi/phoneCalls/{userId}/simple"]["post"]["responses"]["200"]):
        response["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/PhoneCall"}
    get(new)["parameters"][0] = {"$ref": "#/components/parameters/Limit"}
    new["components"]["parameters"]["Limit"] = copy.deepcopy(limit(spec))
    assert lines(diff(spec, new)) == ([], [])
    inline = copy.deepcopy(spec)
    get(inline)["responses"]["200"]["content"]["application/json"]["schema"] = copy.deepcopy(schemas(spec)["Call"])
    assert lines(diff(spec, inline)) == ([], [])


def test_all_of_parts_are_merged(spec: Spec) -> None:
    new = copy.deepcopy(spec)
    call = schemas(new)["Call"]
    schemas(new)["Call"] = {"allOf": [
        {"type": "object", "required": ["id"], "properties": {"id": call["properties"]["id"]}},
        {"type": "object", "properties": {k: v for k, v in call["properties"].items() if k != "id"}},
    ]}
    assert lines(diff(spec, new)) == ([], [])


def test_recursive_schemas_terminate(spec: Spec) -> None:
    call_props(spec)["parent"] = {"$ref": "#/components/schemas/Call"}
    new = copy.deepcopy(spec)
    del call_props(new)["started"]
    breaks, _ = lines(diff(spec, new))
    assert f"{GET} response 200 started: field removed" in breaks


def test_report_sections() -> None:
    report = Report([Change("GET", "/a", "response 200", "removed")], [])
    assert report.render() == "Breaking changes:\nGET /a response 200: removed\nNon-breaking changes:\n(none)"


# --- command line ------------------------------------------------------------

def test_cli_removed_field_exits_one(spec: Spec, write_spec: Any, capsys: Any) -> None:
    new = copy.deepcopy(spec)
    del call_props(new)["status"]
    assert main(["diff", str(write_spec(spec)), str(write_spec(new, ".json"))]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"Breaking changes:\n{POST} response 200 status: field removed\n")
    assert out.endswith("Non-breaking changes:\n(none)\n")


def test_cli_added_optional_parameter_exits_zero(spec: Spec, write_spec: Any, capsys: Any) -> None:
    new = copy.deepcopy(spec)
    added_optional_parameter(spec, new)
    assert main(["diff", str(write_spec(spec)), str(write_spec(new))]) == 0
    assert capsys.readouterr().out == (
        "Breaking changes:\n(none)\nNon-breaking changes:\n"
        f"{GET} parameter query.offset: optional parameter added\n"
    )


def test_cli_unreadable_spec_exits_two(spec: Spec, write_spec: Any, tmp_path: Any, capsys: Any) -> None:
    assert main(["diff", str(write_spec(spec)), str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
