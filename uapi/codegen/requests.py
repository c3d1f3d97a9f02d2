"""What a call sends: parameters (path, query, header, cookie, in any style) and
request bodies (JSON, form, multipart with files, raw bytes, text).

When a body is offered in several media types the client uses, in order of
preference, JSON, form-encoded, multipart, then the first other one (XML offered
beside JSON is simply not used). A parameter the client cannot send (a reserved
header, an unknown location) is left out with a warning.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from uapi.codegen.model import Body, BodyMedia, Parameter
from uapi.codegen.names import pascal, python_ident, ts_ident
from uapi.codegen.naming import Naming
from uapi.codegen.schemas import SchemaConverter
from uapi.codegen.spec import Problem, Resolver, Unsupported
from uapi.codegen.types import ANY, AliasDef, TypeRef
from uapi.spec_core import child

_DEFAULT_STYLE = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}
_SCALARS = ("string", "integer", "number", "boolean")
# Arguments every generated method has besides the operation's parameters.
_PY_TAKEN = frozenset({"body", "timeout", "extra_headers"})
_TS_TAKEN = frozenset({"body", "options"})
# Locals of the generated `iter_*` methods.
_PY_PAGER = frozenset({"start", "page", "items", "item"})
_MEDIA_RANK: dict[str, int] = {"json": 0, "form": 1, "multipart": 2, "binary": 3, "text": 3}


def media_kind(content_type: str) -> BodyMedia:
    base = content_type.split(";")[0].strip().lower()
    if base == "application/json" or base.endswith("+json") or base == "*/*json":
        return "json"
    if base == "application/x-www-form-urlencoded":
        return "form"
    if base.startswith("multipart/"):
        return "multipart"
    if base.startswith("text/") or base.endswith("/xml") or base.endswith("+xml"):
        return "text"
    return "binary"


class RequestReader:
    def __init__(self, schemas: SchemaConverter, resolver: Resolver, warnings: list[Problem], naming: Naming) -> None:
        self.schemas = schemas
        self.resolver = resolver
        self.warnings = warnings
        self.naming = naming

    def parameter(self, raw: Any, where: str) -> Parameter | None:
        node, where = self.resolver.deref(raw, where)
        if not isinstance(node, dict):
            raise Unsupported(where, "a parameter must be a mapping")
        name, location = node.get("name"), node.get("in")
        if location not in _DEFAULT_STYLE or not isinstance(name, str) or not name:
            raise Unsupported(where, "a parameter needs a name and `in` of path, query, header or cookie")
        if location == "header" and name.lower() in ("accept", "content-type", "authorization"):
            self.warnings.append(Problem(child(where, "name"), f"header parameter {name!r} is ignored, "
                                                                 "as OpenAPI says"))
            return None
        schema, schema_where, as_json = node.get("schema"), child(where, "schema"), False
        if "schema" not in node and isinstance(node.get("content"), dict) and node["content"]:
            content_type, media = next(iter(node["content"].items()))
            schema_where = child(where, "content", content_type, "schema")
            schema = media.get("schema") if isinstance(media, dict) else None
            as_json = "json" in str(content_type)
        style = str(node.get("style", _DEFAULT_STYLE[location]))
        explode = bool(node.get("explode", style == "form"))
        t = self.schemas.convert(schema if schema is not None else {"type": "string"}, schema_where, pascal(name))
        required = bool(node.get("required", False)) or location == "path"
        plain = (location != "cookie" and not as_json and style == _DEFAULT_STYLE[location]
                 and explode == (style == "form") and _sent_as_text(t, location))
        try:
            target, _ = self.resolver.deref(schema, schema_where) if schema is not None else ({}, schema_where)
        except Unsupported:
            target = {}
        target = target if isinstance(target, dict) else {}
        return Parameter(name, location, required, t, str(node.get("description", "") or "").strip(),
                         node.get("example", target.get("example")), target.get("default"), where,
                         style=style, explode=explode, as_json=as_json, plain=plain)

    def argument_names(self, params: list[Parameter], paginated: bool) -> tuple[Parameter, ...]:
        """Argument names unique within the method, clear of keywords and the method's own arguments."""
        py_taken = set(_PY_TAKEN | (_PY_PAGER if paginated else frozenset()))
        ts_taken = set(_TS_TAKEN)
        out = []
        for p in params:
            py_name = python_ident(p.name, frozenset(py_taken))
            ts_name = ts_ident(p.name, frozenset(ts_taken))
            py_taken.add(py_name)
            ts_taken.add(ts_name)
            out.append(replace(p, py_name=py_name, ts_name=ts_name))
        return tuple(out)

    def body(self, node: dict[str, Any], where: str, op_id: str) -> Body | None:
        if "requestBody" not in node:
            return None
        try:
            raw, at = self.resolver.deref(node["requestBody"], child(where, "requestBody"))
        except Unsupported as exc:
            self.warnings.append(Problem(exc.problem.pointer, exc.problem.message + "; the body is not sent"))
            return None
        content = raw.get("content") if isinstance(raw, dict) else None
        if not isinstance(content, dict) or not content:
            return None
        ranked = sorted(content.items(), key=lambda item: _MEDIA_RANK[media_kind(str(item[0]))])
        content_type, media = ranked[0]
        content_type = str(content_type)
        kind = media_kind(content_type)
        media = media if isinstance(media, dict) else {}
        media_where = child(at, "content", content_type)
        schema = media.get("schema")
        if kind == "binary":
            t = TypeRef("string", format="binary", json_kind="string")
        elif kind == "text":
            t = TypeRef("string", json_kind="string")
        else:
            t = self.named(schema, child(media_where, "schema"), pascal(op_id) + "Request")
            if kind in ("form", "multipart") and t.kind != "model":
                self.warnings.append(Problem(child(media_where, "schema"), f"a {kind} body should be an object; "
                                                                             "sent as a mapping of fields"))
        example = media.get("example")
        if example is None and isinstance(schema, dict):
            try:
                target, _ = self.resolver.deref(schema, media_where)
                example = target.get("example") if isinstance(target, dict) else None
            except Unsupported:
                example = None
        if kind in ("binary", "text"):
            example = None
        return Body(kind, content_type, t, bool(raw.get("required", False)),
                    str(raw.get("description", "") or "").strip(), example, at)

    def named(self, schema: Any, where: str, name: str) -> TypeRef:
        """A body or result type, given a name when the spec wrote it inline."""
        t = self.schemas.convert(schema if schema is not None else {}, where, name)
        if t.kind in ("model", "alias"):
            return t
        name = self.schemas.claim(name, where)
        self.schemas.defs.aliases.setdefault(name, AliasDef(name, where, "", t))
        return TypeRef("alias", name=name, json_kind=t.json_kind)


def _sent_as_text(t: TypeRef, location: str) -> bool:
    """Scalars (and, in a query, arrays of scalars) are sent as text by the original code path."""
    if t.json_kind in _SCALARS and t.kind != "union" and t.kind != "any":
        return True
    item = t.item if t.kind == "array" else None
    return location == "query" and item is not None and item.json_kind in _SCALARS and item.kind != "union"


__all__ = ["ANY", "RequestReader", "media_kind"]
