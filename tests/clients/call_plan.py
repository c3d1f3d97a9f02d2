"""Arguments for every operation of a generated client, made from the document.

Every parameter (optional ones too, so each serialisation style runs) and the
body get a value made from their schema in the document (`SchemaValues`); the
Python side then turns that JSON into the typed values the generated signature
asks for (models through the generated `decode_*` functions, `datetime`,
`date`, `bytes`), so a call made with them type-checks as user code would.
"""
from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from tests.clients.schema_values import SchemaValues
from uapi.codegen.model import Operation, Parameter
from uapi.codegen.names import snake
from uapi.codegen.types import TypeRef

NO_BODY = object()


@dataclass(frozen=True)
class Call:
    operation: Operation
    parameters: tuple[tuple[Parameter, Any], ...]  # JSON values
    body: Any  # JSON value (bytes for binary), NO_BODY without a body


def plan(values: SchemaValues, operation: Operation) -> Call:
    parameters = []
    for parameter in operation.parameters:
        raw = values.resolve(values.at(parameter.pointer))
        schema = raw.get("schema")
        if schema is None:
            schema = next(iter((raw.get("content") or {}).values()), {}).get("schema", {})
        parameters.append((parameter, values.make(schema, reading=False)))
    body: Any = NO_BODY
    if operation.body is not None:
        raw_body = values.resolve(values.at(operation.body.pointer))
        media = (raw_body.get("content") or {}).get(operation.body.content_type) or {}
        schema = media.get("schema", {})
        body = values.make(schema, reading=False)
        if operation.body.media == "binary" and not isinstance(body, bytes):
            body = b"\x00\x01mock bytes"
        elif operation.body.media == "text" and not isinstance(body, str):
            body = "text"
    return Call(operation, tuple(parameters), body)


def python_value(t: TypeRef, value: Any, models: ModuleType) -> Any:
    """`value` (JSON) as the generated Python code types `t`."""
    if value is None:
        return None
    if t.kind in ("model", "alias"):
        return getattr(models, "decode_" + snake(t.name))(value)
    if t.kind == "string" and isinstance(value, str):
        if t.format == "date-time" and models_typed_timestamps(models):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if t.format == "date" and models_typed_timestamps(models):
            return dt.date.fromisoformat(value)
        if t.format == "binary":
            return value.encode()
    if t.kind == "array" and t.item is not None and isinstance(value, list):
        return [python_value(t.item, v, models) for v in value]
    if t.kind == "map" and t.item is not None and isinstance(value, dict):
        return {k: python_value(t.item, v, models) for k, v in value.items()}
    if t.kind == "union":
        # The first member that reads the value, as the generated decoders try them.
        for variant in t.variants:
            if variant.kind == "null":
                continue
            try:
                return python_value(variant, value, models)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
    return value


def models_typed_timestamps(models: ModuleType) -> bool:
    # Our own spec keeps timestamps as strings (`typedTimestamps: false`); the models say which.
    return "_datetime" in vars(models)


def python_arguments(call: Call, models: ModuleType) -> dict[str, Any]:
    kwargs = {p.py_name: python_value(p.type, v, models) for p, v in call.parameters}
    if call.body is not NO_BODY and call.operation.body is not None:
        kwargs["body"] = python_value(call.operation.body.type, call.body, models)
    return kwargs


def typescript_arguments(call: Call) -> dict[str, Any]:
    """The `params` object of a TypeScript call; bytes travel as {"$blob": base64} for the runner."""
    params = {p.ts_name: _blobs(v) for p, v in call.parameters}
    if call.body is not NO_BODY:
        params["body"] = _blobs(call.body)
    return params


def _blobs(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$blob": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [_blobs(v) for v in value]
    if isinstance(value, dict):
        return {k: _blobs(v) for k, v in value.items()}
    return value
