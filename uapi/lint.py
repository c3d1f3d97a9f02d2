"""`uapi lint [SPEC]`: the project's contract rules on top of openapi-spec-validator.

The validator checks that the document is well-formed OpenAPI; the rules here
check what *this* project relies on: stable camelCase operationIds for the
generated clients, an `x-error-code` for every input so the server can name the
failing field, one error body shape, valid examples (the fuzzer and the docs
reuse them), and no dead components.

A rule is a generator registered with ``@rule("rule-id")`` that yields
``(json-pointer, message)`` pairs; adding a rule means adding one function.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from uapi import package_data
from uapi.cli_errors import UsageError
from uapi.spec_core import (
    Operation,
    SpecError,
    child,
    definitions,
    iter_operations,
    load_spec,
    lookup,
    operation_parameters,
    pointer,
    resolve,
    validation_problems,
)

# Every 4xx/5xx response must use exactly this schema: clients decode one error shape.
ERROR_SCHEMA_REF = "#/components/schemas/Error"
CAMEL_CASE = re.compile(r"^[a-z][a-zA-Z0-9]*$")
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
# Runtime expressions, per the ABNF of OpenAPI 3.0 section "Runtime Expressions".
RUNTIME_EXPRESSION = re.compile(
    r"\$(?:url|method|statusCode|(?:request|response)\.(?:"
    r"header\.[!#$%&'*+.^_`|~0-9A-Za-z-]+|(?:query|path)\.[^\s{}]+|body(?:#(?:/(?:[^/~]|~[01])*)*)?))"
)
_SPEC_URI = "urn:uapi-spec"  # base URI under which the document is registered for $ref lookups

Node = dict[str, Any]
Hit = tuple[str, str]  # what a rule yields: (json pointer, message)


@dataclass(frozen=True)
class Finding:
    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path} {self.rule}: {self.message}"


RULES: dict[str, Callable[[Node], Iterable[Hit]]] = {}


def rule(rule_id: str) -> Callable[[Callable[[Node], Iterable[Hit]]], Callable[[Node], Iterable[Hit]]]:
    def register(check: Callable[[Node], Iterable[Hit]]) -> Callable[[Node], Iterable[Hit]]:
        RULES[rule_id] = check
        return check
    return register


def lint(document: Node) -> list[Finding]:
    findings = list(_spec_validity(document))
    structurally_valid = not findings
    for rule_id, check in RULES.items():
        try:
            for where, message in check(document):
                findings.append(Finding(where, rule_id, message))
        except Exception as exc:  # noqa: BLE001 - see below
            # Rules assume a well-formed document. On one the validator already
            # rejected, a rule that trips is reported rather than hiding the
            # validator's findings behind a traceback; on a valid one it is a bug.
            if structurally_valid:
                raise
            detail = str(getattr(exc, "ref", None) or exc).splitlines()[0][:160]
            findings.append(Finding("#", "rule-skipped", f"{rule_id} cannot run on this document: {detail}"))
    return list(dict.fromkeys(findings))  # a shared component can be reached twice


def _spec_validity(document: Node) -> Iterator[Finding]:
    for where, message in validation_problems(document):
        yield Finding(where, "spec-invalid", message)


# --- operations --------------------------------------------------------------

@rule("operation-id-missing")
def _operation_id_missing(document: Node) -> Iterator[Hit]:
    for op in iter_operations(document):
        if not op.node.get("operationId"):
            yield op.where, f"{op.method.upper()} {op.path} has no operationId"


@rule("operation-id-duplicate")
def _operation_id_duplicate(document: Node) -> Iterator[Hit]:
    first_use: dict[str, str] = {}
    for op in iter_operations(document):
        operation_id = op.node.get("operationId")
        if operation_id in first_use:
            yield child(op.where, "operationId"), f"'{operation_id}' is already used by {first_use[operation_id]}"
        elif operation_id:
            first_use[operation_id] = op.where


@rule("operation-id-camel-case")
def _operation_id_camel_case(document: Node) -> Iterator[Hit]:
    for op in iter_operations(document):
        operation_id = op.node.get("operationId")
        if operation_id and not CAMEL_CASE.match(str(operation_id)):
            yield child(op.where, "operationId"), f"'{operation_id}' is not camelCase"


@rule("operation-docs")
def _operation_docs(document: Node) -> Iterator[Hit]:
    for op in iter_operations(document):
        for field in ("summary", "description", "tags"):
            value = op.node.get(field)
            if not value or (isinstance(value, str) and not value.strip()):
                yield child(op.where, field), f"{op.method.upper()} {op.path} has no {field}"


# --- examples ----------------------------------------------------------------

@rule("example-invalid")
def _examples_valid(document: Node) -> Iterator[Hit]:
    registry: Registry[Any] = Registry().with_resource(
        _SPEC_URI, Resource.from_contents(document, default_specification=DRAFT4)
    )

    def problem(schema_where: str, instance: Any) -> str | None:
        # Validate through a $ref into the registered document so the schema's
        # own $refs resolve against the whole spec.
        validator = OAS30Validator(
            {"$ref": _SPEC_URI + quote(schema_where, safe="#/~")},
            registry=registry, format_checker=oas30_format_checker,
        )
        error = best_match(validator.iter_errors(instance))
        if error is None:
            return None
        inner = "".join(f"/{step}" for step in error.absolute_path)
        return f"{error.message}" + (f" (at {inner})" if inner else "")

    for kind, where, node in definitions(document):
        if kind == "schema":
            if "example" in node and (message := problem(where, node["example"])):
                yield child(where, "example"), message
            continue
        if kind not in ("parameter", "header", "mediaType") or "schema" not in node:
            continue
        schema_where = child(where, "schema")
        if "example" in node and (message := problem(schema_where, node["example"])):
            yield child(where, "example"), message
        for name, raw in (node.get("examples") or {}).items():
            example, _ = resolve(document, raw)
            if (isinstance(example, dict) and "value" in example
                    and (message := problem(schema_where, example["value"]))):
                yield child(where, "examples", name), message


# --- security ----------------------------------------------------------------

@rule("unknown-security-scheme")
def _security_schemes_defined(document: Node) -> Iterator[Hit]:
    defined = set((document.get("components") or {}).get("securitySchemes") or {})
    sources = [("#/security", document.get("security"))]
    sources += [(child(op.where, "security"), op.node.get("security")) for op in iter_operations(document)]
    for where, requirements in sources:
        for index, requirement in enumerate(requirements or []):
            for name in requirement or {}:
                if name not in defined:
                    yield child(where, index, name), f"security scheme '{name}' is not in components.securitySchemes"


# --- links -------------------------------------------------------------------

def _link_target(document: Node, link: Node) -> tuple[Operation | None, str]:
    """The operation a link points at, or None and why not."""
    operations = list(iter_operations(document))
    if "operationId" in link:
        matches = [op for op in operations if op.node.get("operationId") == link["operationId"]]
        return (matches[0], "") if matches else (None, f"no operation has operationId '{link['operationId']}'")
    if "operationRef" in link:
        ref = unquote(str(link["operationRef"]))
        matches = [op for op in operations if op.where == ref]
        return (matches[0], "") if matches else (None, f"operationRef '{ref}' is not an operation of this document")
    return None, "link has neither operationId nor operationRef"


def _links(document: Node) -> Iterator[tuple[str, Node]]:
    for kind, where, node in definitions(document):
        if kind == "link":
            yield where, node


@rule("link-target")
def _link_targets_exist(document: Node) -> Iterator[Hit]:
    for where, link in _links(document):
        target, why = _link_target(document, link)
        if target is None:
            yield where, why


@rule("link-parameter")
def _link_parameters_exist(document: Node) -> Iterator[Hit]:
    for where, link in _links(document):
        target, _ = _link_target(document, link)
        if target is None:
            continue
        params = operation_parameters(document, target)
        for key in link.get("parameters") or {}:
            location, dot, name = key.partition(".")  # `path.id` form, or a plain name
            if not dot or location not in ("path", "query", "header", "cookie"):
                location, name = "", key
            if not any(name == p_name and location in ("", p_in) for p_in, p_name in params):
                yield child(where, "parameters", key), f"'{target.node.get('operationId', target.where)}' has no parameter '{key}'"


@rule("link-expression")
def _link_expressions_plausible(document: Node) -> Iterator[Hit]:
    for where, link in _links(document):
        values = [(child(where, "parameters", k), v) for k, v in (link.get("parameters") or {}).items()]
        values.append((child(where, "requestBody"), link.get("requestBody")))
        for value_where, value in values:
            if not isinstance(value, str):
                continue  # a constant
            # A value is either one whole expression or a string embedding {expressions}.
            expressions = [value] if value.startswith("$") else re.findall(r"\{(\$[^}]*)\}", value)
            for expression in expressions:
                if not RUNTIME_EXPRESSION.fullmatch(expression):
                    yield value_where, f"'{expression}' is not a runtime expression"


# --- x-error-code ------------------------------------------------------------

def _ignored(node: Any) -> bool:
    return isinstance(node, dict) and node.get("x-lint-ignore") is True


def _request_properties(document: Node, raw: Any, where: str, seen: set[str]) -> Iterator[tuple[str, Node, Node]]:
    """(pointer, as written, resolved) for every property a request body may carry."""
    node, where = resolve(document, raw, where)
    if not isinstance(node, dict) or where in seen:
        return
    seen.add(where)  # recursive schemas terminate; shared ones are checked once
    for name, written in (node.get("properties") or {}).items():
        prop_where = child(where, "properties", name)
        prop, _ = resolve(document, written)
        # readOnly properties are never sent by clients, so they need no input code.
        if isinstance(prop, dict) and not prop.get("readOnly") and not _ignored(written):
            yield prop_where, written, prop
        yield from _request_properties(document, written, prop_where, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from _request_properties(document, node[key], child(where, key), seen)
    for key in ("allOf", "oneOf", "anyOf"):
        for index, sub in enumerate(node.get(key) or []):
            yield from _request_properties(document, sub, child(where, key, index), seen)


def _error_code_holders(document: Node) -> Iterator[tuple[str, Any, str]]:
    """(pointer, x-error-code value or None, label) for each input that needs a code."""
    seen: set[str] = set()
    for kind, where, node in definitions(document):
        if kind == "parameter" and node.get("in") in ("path", "query", "header") and not _ignored(node):
            yield where, node.get("x-error-code"), f"{node['in']} parameter '{node.get('name')}'"
        if kind == "requestBody":
            for media_type, media in (node.get("content") or {}).items():
                schema_where = child(where, "content", media_type, "schema")
                for prop_where, written, prop in _request_properties(document, media.get("schema"), schema_where, seen):
                    # A code beside a $ref is read too: OpenAPI 3.0 has no other place for it.
                    code = written.get("x-error-code", prop.get("x-error-code"))
                    yield prop_where, code, f"request field '{prop_where.rsplit('/', 1)[-1]}'"


@rule("missing-x-error-code")
def _error_code_present(document: Node) -> Iterator[Hit]:
    for where, code, label in _error_code_holders(document):
        if code is None:
            yield where, f"{label} has no x-error-code"


@rule("x-error-code-format")
def _error_code_snake_case(document: Node) -> Iterator[Hit]:
    for where, code, label in _error_code_holders(document):
        if code is not None and not (isinstance(code, str) and SNAKE_CASE.match(code)):
            yield child(where, "x-error-code"), f"{label}: x-error-code {code!r} is not a snake_case string"


# --- error responses ---------------------------------------------------------

@rule("error-schema")
def _error_responses_use_error_schema(document: Node) -> Iterator[Hit]:
    for op in iter_operations(document):
        # An operation bound to another error format by a standard (OAuth's RFC 6749 bodies)
        # says so with x-error-schema; its errors must then all use that schema.
        expected = op.node.get("x-error-schema", ERROR_SCHEMA_REF)
        for code, raw in (op.node.get("responses") or {}).items():
            if str(code)[:1] not in ("4", "5"):
                continue
            response, where = resolve(document, raw, child(op.where, "responses", code))
            media = (response.get("content") or {}).get("application/json")
            if not isinstance(media, dict):
                yield where, f"{code} response has no application/json body; use {expected}"
            elif (media.get("schema") or {}).get("$ref") != expected:
                yield child(where, "content", "application/json", "schema"), f"{code} response schema must be $ref {expected}"


# --- unused components -------------------------------------------------------

def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        mapping = node.get("discriminator", {}).get("mapping", {}) if isinstance(node.get("discriminator"), dict) else {}
        for target in mapping.values():  # a mapping names a schema by ref or by bare name
            yield target if str(target).startswith("#") else pointer("components", "schemas", target)
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


@rule("unused-component")
def _components_used(document: Node) -> Iterator[Hit]:
    reached: set[str] = set()
    pending: list[Any] = [document.get("paths") or {}]
    while pending:
        for ref in _references(pending.pop()):
            parts = ref.split("/")
            if len(parts) >= 4 and parts[:2] == ["#", "components"]:
                component = "/".join(parts[:4])
                if component not in reached:
                    reached.add(component)
                    try:
                        pending.append(lookup(document, component))
                    except SpecError:
                        pass  # a dangling reference is the validator's finding, not this rule's
    requirements = list(document.get("security") or [])
    for op in iter_operations(document):
        requirements += op.node.get("security") or []
    reached |= {pointer("components", "securitySchemes", name) for req in requirements for name in req or {}}
    for section, entries in (document.get("components") or {}).items():
        if section.startswith("x-") or not isinstance(entries, dict):
            continue
        for name in entries:
            if pointer("components", section, name) not in reached:
                yield pointer("components", section, name), f"'{name}' in components.{section} is never used"


# --- command line ------------------------------------------------------------

def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", default=None,
                        help="OpenAPI document, YAML or JSON (default: openapi/uapi.yaml in the working "
                             "directory if there is one, else the installed contract)")


def run(args: argparse.Namespace) -> int:
    if args.spec is None:
        args.spec = str(package_data.default_spec())
    try:
        document = load_spec(args.spec)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    findings = lint(document)
    for finding in findings:
        print(finding)
    if findings:
        print(f"{len(findings)} finding(s) in {args.spec}", file=sys.stderr)
        return 1
    operations = sum(1 for _ in iter_operations(document))
    print(f"ok: {operations} operations, {len(RULES) + 1} rules checked")  # +1: spec-invalid
    return 0
