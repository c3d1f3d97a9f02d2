"""The spec core: the one place an OpenAPI document is read, resolved and walked.

The server, `uapi lint`, `uapi diff`, `uapi handlers` and `uapi generate` all read the contract
through :func:`load_spec` (or :func:`parse_spec` for text already in hand), follow `$ref`s with
:func:`resolve`, and walk operations with :func:`iter_operations`, so they cannot disagree about
what a document says. :func:`validation_problems` is openapi-spec-validator's verdict, for the
tools that report on a document rather than serve it (the server lets Connexion validate).

Only local references (``#/...``) are supported: the contract is one file, and a
tool that silently fetched remote documents would make its results depend on
the network.
"""
from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from uapi import package_data
from uapi.cli_errors import yaml_problem

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DEFAULT_SPEC = package_data.SPEC   # the installed contract, what the server serves without --spec

# libyaml's loader is ~10x faster than the pure-Python one (it matters to `uapi generate`'s
# benchmark); both keep mapping order, which keeps generated output stable.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SpecError(Exception):
    """The file cannot be read, parsed, or a reference cannot be followed."""


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON OpenAPI document into plain JSON values (see :func:`parse_spec`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise SpecError(f"cannot read {path}: not UTF-8 text") from None
    return parse_spec(text, path)


def parse_spec(text: str, source: str | Path) -> dict[str, Any]:
    """Parse a document; `source` names it in errors (`FILE:LINE:COLUMN: problem`), and a
    `.json` suffix selects the JSON parser. The result holds JSON values only: string keys,
    no dates."""
    try:
        data = json.loads(text) if Path(source).suffix == ".json" else yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except json.JSONDecodeError as exc:
        raise SpecError(f"cannot parse {source}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    except yaml.YAMLError as exc:   # PyYAML's own text names the input "<unicode string>"
        raise SpecError(f"cannot parse {yaml_problem(exc, source)}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{source}: top level is not a mapping")
    plain: dict[str, Any] = _json_values(data)
    return plain


def _json_values(node: Any) -> Any:
    # OpenAPI is JSON written as YAML: YAML reads `200:` as the integer 200 and an unquoted
    # timestamp as a datetime, where the author (and every JSON consumer) means strings.
    if isinstance(node, dict):
        return {str(key): _json_values(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_json_values(item) for item in node]
    if isinstance(node, datetime.datetime):
        text = node.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(node, datetime.date):
        return node.isoformat()
    return node


def validation_problems(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(pointer, one-line message) for every way the document is not valid OpenAPI."""
    # Imported here: `uapi generate` and `uapi diff` never validate and need not pay for the import.
    from jsonschema_path import SchemaPath
    from openapi_spec_validator.shortcuts import get_validator_cls
    from openapi_spec_validator.validation.exceptions import ValidatorDetectError
    from referencing.exceptions import Unresolvable

    try:
        validator = get_validator_cls(document)(SchemaPath.from_dict(document))
        for error in validator.iter_errors():
            where = pointer(*error.absolute_path) if error.absolute_path else "#"
            yield where, error.message.splitlines()[0]
    except ValidatorDetectError:
        yield "#/openapi", "no supported `openapi`/`swagger` version field"
    except Unresolvable as exc:
        yield "#", f"unresolvable reference {getattr(exc, 'ref', '')!r}"


def escape(token: str) -> str:
    """Escape one JSON Pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def pointer(*tokens: str | int) -> str:
    """Build a ``#/a/b`` pointer from raw tokens."""
    return "#" + "".join("/" + escape(str(token)) for token in tokens)


def child(base: str, *tokens: str | int) -> str:
    """Extend an existing pointer by raw tokens."""
    return base + pointer(*tokens)[1:]


class ReferenceProblem(SpecError):
    """A `$ref` that cannot be followed: not a string, not local, dangling, or cyclic."""


def lookup(document: dict[str, Any], ref: str) -> Any:
    """Return the node a local ``#/...`` pointer designates (``#`` alone is the document)."""
    if ref != "#" and not ref.startswith("#/"):
        raise ReferenceProblem(f"only local references are supported, got {ref!r}")
    node: Any = document
    for token in ref[2:].split("/") if ref != "#" else []:
        token = unescape(token)
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise ReferenceProblem(f"reference {ref!r} points nowhere")
    return node


def resolve(document: dict[str, Any], node: Any, where: str = "") -> tuple[Any, str]:
    """Follow a chain of ``$ref`` objects; return the final node and its pointer.

    The pointer is where the node is *defined*, so that findings about shared
    components are reported once, at the component, not at every use.
    """
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str):
            raise ReferenceProblem("$ref must be a string")
        if ref in seen:
            raise ReferenceProblem(f"reference cycle through {ref!r}")
        seen.add(ref)
        node, where = lookup(document, ref), ref
    return node, where


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    node: dict[str, Any]
    where: str  # pointer to the operation object
    path_item: dict[str, Any]
    path_item_where: str


def iter_operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, raw_item in (document.get("paths") or {}).items():
        if not isinstance(raw_item, dict):
            continue
        item, item_where = resolve(document, raw_item, pointer("paths", path))
        for method in HTTP_METHODS:
            if isinstance(item.get(method), dict):
                yield Operation(path, method, item[method], child(item_where, method), item, item_where)


def operation_parameters(document: dict[str, Any], op: Operation) -> dict[tuple[str, str], dict[str, Any]]:
    """Effective parameters of an operation keyed by (in, name): operation-level
    entries override path-level ones, as the specification says."""
    params: dict[tuple[str, str], dict[str, Any]] = {}
    for owner in (op.path_item, op.node):
        for raw in owner.get("parameters") or []:
            param, _ = resolve(document, raw)
            if isinstance(param, dict) and "name" in param and "in" in param:
                params[(str(param["in"]), str(param["name"]))] = param
    return params


def parameter_schema(param: dict[str, Any]) -> Any:
    """The schema of a parameter, whether given directly or through `content`."""
    if "schema" in param:
        return param["schema"]
    for media in (param.get("content") or {}).values():
        if isinstance(media, dict) and "schema" in media:
            return media["schema"]
    return None


# Definition sites. Findings are reported where an object is *defined*, never
# through a $ref, so a shared component yields one finding instead of one per use.
# Callbacks are not walked: the contract has none.

Definition = tuple[str, str, dict[str, Any]]  # (kind, pointer, node)


def _schema_defs(where: str, node: Any) -> Iterator[Definition]:
    if not isinstance(node, dict) or "$ref" in node:
        return
    yield "schema", where, node
    for name, sub in (node.get("properties") or {}).items():
        yield from _schema_defs(child(where, "properties", name), sub)
    for key in ("items", "additionalProperties", "not"):
        yield from _schema_defs(child(where, key), node.get(key))
    for key in ("allOf", "oneOf", "anyOf"):
        for index, sub in enumerate(node.get(key) or []):
            yield from _schema_defs(child(where, key, index), sub)


def _content_defs(where: str, content: Any) -> Iterator[Definition]:
    for media_type, media in (content or {}).items():
        if isinstance(media, dict):
            yield "mediaType", child(where, media_type), media
            yield from _schema_defs(child(where, media_type, "schema"), media.get("schema"))


def _param_defs(kind: str, where: str, node: Any) -> Iterator[Definition]:
    """Parameters and headers share their shape: schema or content, example(s)."""
    if not isinstance(node, dict) or "$ref" in node:
        return
    yield kind, where, node
    yield from _schema_defs(child(where, "schema"), node.get("schema"))
    yield from _content_defs(child(where, "content"), node.get("content"))


def _body_defs(kind: str, where: str, node: Any) -> Iterator[Definition]:
    """Request bodies and responses: content, plus headers and links for responses."""
    if not isinstance(node, dict) or "$ref" in node:
        return
    yield kind, where, node
    yield from _content_defs(child(where, "content"), node.get("content"))
    for name, header in (node.get("headers") or {}).items():
        yield from _param_defs("header", child(where, "headers", name), header)
    for name, link in (node.get("links") or {}).items():
        if isinstance(link, dict) and "$ref" not in link:
            yield "link", child(where, "links", name), link


def definitions(document: dict[str, Any]) -> list[Definition]:
    """Every parameter, header, requestBody, response, mediaType, schema and link
    object, each once, at the pointer where it is written."""
    found: list[Definition] = []
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        item_where = pointer("paths", path)
        for index, param in enumerate(item.get("parameters") or []):
            found += _param_defs("parameter", child(item_where, "parameters", index), param)
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            op_where = child(item_where, method)
            for index, param in enumerate(op.get("parameters") or []):
                found += _param_defs("parameter", child(op_where, "parameters", index), param)
            found += _body_defs("requestBody", child(op_where, "requestBody"), op.get("requestBody"))
            for code, response in (op.get("responses") or {}).items():
                found += _body_defs("response", child(op_where, "responses", code), response)
    components = document.get("components") or {}
    for name, node in (components.get("schemas") or {}).items():
        found += _schema_defs(pointer("components", "schemas", name), node)
    for section, kind in (("parameters", "parameter"), ("headers", "header")):
        for name, node in (components.get(section) or {}).items():
            found += _param_defs(kind, pointer("components", section, name), node)
    for section, kind in (("requestBodies", "requestBody"), ("responses", "response")):
        for name, node in (components.get(section) or {}).items():
            found += _body_defs(kind, pointer("components", section, name), node)
    for name, node in (components.get("links") or {}).items():
        if isinstance(node, dict) and "$ref" not in node:
            found.append(("link", pointer("components", "links", name), node))
    return found
