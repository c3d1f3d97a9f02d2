"""Which optional runtime pieces an API needs, so generated code carries only those.

The original generator's output for an API that needs none of them is kept byte
for byte (the served SDKs must not change); each piece below switches on a block
of the templates.
"""
from __future__ import annotations

from collections.abc import Iterator

from uapi.codegen.model import Api
from uapi.codegen.types import TypeRef


def walk(t: TypeRef | None, seen: set[int] | None = None) -> Iterator[TypeRef]:
    if t is None:
        return
    yield t
    for inner in (t.item, *t.variants):
        yield from walk(inner)


def all_types(api: Api) -> Iterator[TypeRef]:
    for model in api.models:
        for prop in model.properties:
            yield from walk(prop.type)
    for alias in api.aliases:
        yield from walk(alias.type)
    for op in api.operations:
        for p in op.parameters:
            yield from walk(p.type)
        if op.body is not None:
            yield from walk(op.body.type)
        yield from walk(op.result_type)


def tricky_union(t: TypeRef) -> bool:
    """A union that one JSON-kind test cannot decode (nor a plain `X | null`)."""
    if t.kind != "union":
        return False
    others = [v for v in t.variants if v.kind != "null"]
    return not (t.kind_distinct or (len(others) == 1 and len(t.variants) == 2))


def features(api: Api) -> frozenset[str]:
    found: set[str] = set()
    types = list(all_types(api))
    if api.naming.typed_timestamps and any(t.format in ("date-time", "date") and t.kind == "string" for t in types):
        found.add("dates")
    if any(tricky_union(t) for t in types):
        found.add("union_try")
    if any(not p.required and p.type.is_nullable_union for m in api.models for p in m.properties):
        found.add("unset")
    if any(m.extra is not None for m in api.models):
        found.add("extra")
    for op in api.operations:
        if any(not p.plain for p in op.parameters):
            found.add("styled")
        if op.params_in("cookie") or (op.auth is not None and op.auth.location == "cookie"):
            found.add("cookies")
        if op.auth is not None and op.auth.prefix == "Basic ":
            found.add("basic")
        if op.body is not None and op.body.media in ("binary", "text"):
            found.add("raw_body")
        if op.body is not None and op.body.media == "multipart":
            found.add("multipart")
        if op.outcomes:
            found.add("outcomes")
        if any(o.media == "bytes" for o in op.outcomes):
            found.add("bytes_answer")
    if not any(op.params_in("path") for op in api.operations):
        found.add("no_path_params")
    if not api.operations:
        found.add("no_operations")
    # Which TypeScript helpers are called, so none is left unused (tsc --noUnusedLocals).
    if any(not p.plain for op in api.operations for p in op.params_in("path")):
        found.add("path_value")
    if any(op.params_in("cookie") or any(not p.plain for p in op.params_in("query") + op.params_in("header"))
           for op in api.operations):
        found.add("styled_call")
    if all(any(not p.plain for p in op.params_in("header")) for op in api.operations):
        found.add("no_header_pairs")
    if "no_header_pairs" in found and all(
            any(not p.plain for p in op.params_in("query")) and not (op.body and op.body.media == "form")
            for op in api.operations):
        found.add("no_pairs")
    # `format: binary` inside a JSON body (bytes / Blob values) has no JSON form of its own:
    # those values are sent base64-encoded, as OpenAPI 3.1's contentEncoding would say.
    if any(op.body is not None and op.body.media == "json" for op in api.operations) and any(
            t.kind == "string" and t.format == "binary" for t in types):
        found.add("json_bytes")
    if found & {"raw_body", "multipart", "outcomes"}:
        found.add("media")
    return frozenset(found)
