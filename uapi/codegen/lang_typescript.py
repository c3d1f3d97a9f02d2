"""TypeScript spellings of the intermediate model, exposed to templates as filters.

TypeScript types describe the JSON itself (JSON property names, no
conversion), so unlike Python there are no decode/encode expressions.
"""
from __future__ import annotations

import json
import re
from typing import Any

from uapi.codegen.examples import ResultRef, Var
from uapi.codegen.features import features
from uapi.codegen.model import Api, Operation
from uapi.codegen.names import camel, ts_ident, ts_key
from uapi.codegen.naming import Naming
from uapi.codegen.types import TypeRef


def reserved_type_names(naming: Naming) -> frozenset[str]:
    """Names the generated module defines, and global types and values its own code
    names: a schema type of the same name would shadow them."""
    return frozenset({
        naming.ts_client, naming.error, "BadRequestError", "AuthenticationError", "PermissionDeniedError",
        "NotFoundError", "RateLimitError", "ServerError", naming.connection_error, "ClientOptions", "RequestOptions",
        "AuthPlacement", "PreparedRequest", "Answer", "Headers", "AbortSignal", "AbortController", "RequestInit",
        "Promise", "Record", "Array", "AsyncGenerator", "Omit", "Set", "URLSearchParams", "TypeError",
        "Blob", "FormData", "ArrayBuffer", "StyledParam",
    })


class TypeScriptLang:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.features = features(api)

    def filters(self) -> dict[str, Any]:
        return {
            "tstype": self.tstype, "tsliteral": tsliteral, "tskey": ts_key, "tsdoc": tsdoc,
            "tspath": path_expr, "tsvalue": self.value, "tsresult_var": result_var,
            "tsparam_type": self.tstype,
        }

    def tstype(self, t: TypeRef) -> str:
        if t.enum:
            return " | ".join(tsliteral(v) for v in t.enum)
        if t.kind == "string" and t.format == "binary":
            return "Blob"
        simple = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean", "any": "unknown",
                  "null": "null"}
        if t.kind in simple:
            return simple[t.kind]
        if t.kind in ("model", "alias"):
            return t.name
        if t.kind == "array":
            assert t.item is not None
            inner = self.tstype(t.item)
            return f"({inner})[]" if "|" in inner else f"{inner}[]"
        if t.kind == "map":
            assert t.item is not None
            return f"Record<string, {self.tstype(t.item)}>"
        return " | ".join(dict.fromkeys(self.tstype(v) for v in t.variants))

    def value(self, value: Any) -> str:
        """A README argument: JSON data whose leaves may be credentials or earlier results."""
        if isinstance(value, Var):
            return camel(value.name)
        if isinstance(value, ResultRef):
            return self._access(value)
        if isinstance(value, list):
            return "[" + ", ".join(self.value(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{ " + ", ".join(f"{ts_key(str(k))}: {self.value(v)}" for k, v in value.items()) + " }"
        return tsliteral(value)

    def _access(self, ref: ResultRef) -> str:
        out = result_var(ref.operation)
        t = ref.operation.result
        for token in ref.tokens:
            while t is not None and t.kind == "alias":
                t = self.api.schemas[t.name].type  # type: ignore[union-attr]
            model = self.api.model(t.name) if t is not None and t.kind == "model" else None
            if t is not None and t.kind == "array" and token.isdigit():
                out, t = f"{out}[{token}]!", t.item
            elif model is not None:
                prop = next(p for p in model.properties if p.json_name == token)
                key = ts_key(token)
                out = f"{out}.{key}" if key == token else f"{out}[{key}]"
                out, t = (out if prop.required else out + "!"), prop.type
            else:
                out, t = f"{out}[{tsliteral(token)}]!", None
        return out


def result_var(op: Operation) -> str:
    return ts_ident(op.operation_id) + "Result"


def tsliteral(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def tsdoc(text: str, indent: int = 0) -> str:
    """Lines of a /** */ comment body (without the opening and closing marks)."""
    pad = " " * indent
    lines = text.replace("*/", "*\\/").strip().splitlines() or [""]
    return "\n".join(f"{pad} * {line}".rstrip() for line in lines)


def path_expr(op: Operation) -> str:
    parts: list[str] = []
    by_name = {p.name: p for p in op.params_in("path")}
    for i, piece in enumerate(re.split(r"\{([^}]+)\}", op.path)):
        if i % 2:
            p = by_name[piece]
            value = f"params.{p.ts_name}" if p.plain else (
                f"pathValue({tsliteral(p.name)}, params.{p.ts_name}, {tsliteral(p.style)}, {tsliteral(p.explode)})")
            parts.append(f"pathSegment({value})")
        elif piece:
            parts.append(json.dumps(piece))
    return " + ".join(parts) or '""'
