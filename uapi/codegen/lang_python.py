"""Python spellings of the intermediate model, exposed to templates as filters.

Recursive conversions (decode/encode expressions of nested arrays, unions and
models) are far clearer as Python than as recursive Jinja macros, so they live
here; the templates keep the file structure and prose.
"""
from __future__ import annotations

import json
import re
from typing import Any

from uapi.codegen.examples import ResultRef, Var
from uapi.codegen.features import features, tricky_union
from uapi.codegen.model import Api, Operation
from uapi.codegen.names import python_ident, snake
from uapi.codegen.naming import Naming
from uapi.codegen.schemas import MODEL_TAKEN
from uapi.codegen.types import Property, TypeRef

_DECODE_CHECK = {
    "string": "isinstance({x}, str)",
    "integer": "(isinstance({x}, int) and not isinstance({x}, bool))",
    "number": "(isinstance({x}, (int, float)) and not isinstance({x}, bool))",
    "boolean": "isinstance({x}, bool)",
    "object": "isinstance({x}, dict)",
    "array": "isinstance({x}, list)",
}


_STRICT = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean", "null": "null"}


def reserved_type_names(naming: Naming) -> frozenset[str]:
    """Names the generated modules define or import beside the schema classes."""
    return frozenset({
        "Client", "AsyncClient", naming.error, "BadRequestError", "AuthenticationError", "PermissionDeniedError",
        "NotFoundError", "RateLimitError", "ServerError", naming.connection_error, "Any", "ClassVar", "Literal",
        "TypeAlias", "Mapping", "Sequence", "Iterator", "AsyncIterator", "TracebackType", "Callable", "Unset",
        "UNSET", "None", "True", "False",
    })


class PythonLang:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.dates = api.naming.typed_timestamps
        self.features = features(api)

    def filters(self) -> dict[str, Any]:
        return {
            "pytype": self.pytype, "pydecode": self.decode, "pyencode": self.encode, "pyrepr": pyrepr,
            "pyattr": attr, "pydoc": docstring, "pypath": path_expr, "snake": snake,
            "pyparam_type": self.param_type, "pybody_type": self.body_type, "pyvalue": self.value,
            "pyresult_var": result_var, "pyclient_imports": self.client_imports,
            "pyclient_typing": self.client_typing, "pyalias": self.alias_text, "pystrict": self.strict, "pyoptional_nullable": optional_nullable,
        }

    def client_imports(self, api: Api) -> list[str]:
        """Model names and decoders the client module uses, so it imports nothing unused."""
        names: set[str] = set()
        for op in api.operations:
            if op.result is not None:
                names |= {op.result.name, "decode_" + snake(op.result.name)}
            for outcome in op.outcomes:
                if outcome.media == "json" and outcome.type is not None:
                    names |= _type_names(outcome.type) | {"decode_" + snake(outcome.type.name)}
            if op.body is not None:
                names |= _type_names(op.body.type)
                if op.body.type.kind == "alias":
                    # The encoder is called on the body: importing it is what the array-body bug lacked.
                    names.add("encode_" + snake(op.body.type.name))
            if op.pagination is not None:
                names |= _type_names(op.pagination.item)
            for param in op.parameters:
                names |= _type_names(param.type)
        return sorted(names, key=lambda n: (n.startswith(("decode_", "encode_")), n))

    def client_typing(self, api: Api) -> set[str]:
        needed = set()
        for op in api.operations:
            if op.body is not None and op.body.type.kind == "model":
                needed.add("Any")  # Mapping[str, Any] bodies
            if any(p.type.kind == "array" for p in op.parameters):
                needed.add("Sequence")
            if any(_has_enum(p.type) for p in op.parameters) or any(
                    o.type is not None and _has_enum(o.type) for o in op.outcomes):
                needed.add("Literal")
            if op.body is not None and op.body.type.kind != "model" and "Any" in self.pytype(op.body.type):
                needed.add("Any")
            if any("Any" in self.pytype(p.type) for p in op.parameters) or (
                    op.result_type is not None and "Any" in self.pytype(op.result_type)):
                needed.add("Any")
            if any(p.type.kind in ("model", "alias") and not p.plain for p in op.parameters):
                needed.add("Any")
            if "_dt." in "".join(self.pytype(p.type) for p in op.parameters) + (
                    self.pytype(op.result_type) if op.result_type is not None else ""):
                needed.add("datetime")
        return needed

    def value(self, value: Any) -> str:
        """A README argument: JSON data whose leaves may be credentials or earlier results."""
        if isinstance(value, Var):
            return value.name
        if isinstance(value, ResultRef):
            return self._access(value)
        if isinstance(value, list):
            return "[" + ", ".join(self.value(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{pyrepr(str(k))}: {self.value(v)}" for k, v in value.items()) + "}"
        return pyrepr(value)

    def _access(self, ref: ResultRef) -> str:
        out = result_var(ref.operation)
        t = ref.operation.result
        for token in ref.tokens:
            while t is not None and t.kind == "alias":
                t = self.api.schemas[t.name].type  # type: ignore[union-attr]
            model = self.api.model(t.name) if t is not None and t.kind == "model" else None
            if t is not None and t.kind == "array" and token.isdigit():
                out, t = f"{out}[{token}]", t.item
            elif model is not None:
                prop = next(p for p in model.properties if p.json_name == token)
                out, t = f"{out}.{attr(prop)}", prop.type
            else:
                out, t = f"{out}[{pyrepr(token)}]", None
        return out

    def pytype(self, t: TypeRef) -> str:
        if t.enum:
            literal = [v for v in t.enum if not isinstance(v, float)]
            parts = ["Literal[" + ", ".join(pyrepr(v) for v in literal) + "]"] if literal else []
            return " | ".join(parts + (["float"] if len(literal) < len(t.enum) else []))
        if t.kind == "string" and t.format == "binary":
            return "bytes"
        if t.kind == "string" and self.dates and t.format in ("date-time", "date"):
            return "_dt.datetime" if t.format == "date-time" else "_dt.date"
        simple = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "any": "Any",
                  "null": "None"}
        if t.kind in simple:
            return simple[t.kind]
        if t.kind in ("model", "alias"):
            return t.name
        if t.kind == "array":
            assert t.item is not None
            return f"list[{self.pytype(t.item)}]"
        if t.kind == "map":
            assert t.item is not None
            return f"dict[str, {self.pytype(t.item)}]"
        return " | ".join(dict.fromkeys(self.pytype(v) for v in t.variants))

    def alias_text(self, t: TypeRef) -> str:
        """The quoted right-hand side of a TypeAlias (quoted, so aliases may be recursive)."""
        text = self.pytype(t)
        return f'"{text}"' if '"' not in text else repr(text)

    def param_type(self, t: TypeRef) -> str:
        # Arrays are read, never kept: any sequence will do.
        if t.kind == "array" and t.item is not None:
            return f"Sequence[{self.pytype(t.item)}]"
        return self.pytype(t)

    def body_type(self, t: TypeRef) -> str:
        """Request bodies take the model or a plain mapping with the JSON names."""
        return f"{t.name} | Mapping[str, Any]" if t.kind == "model" else self.pytype(t)

    def strict(self, t: TypeRef, expr: str, depth: int = 0) -> str:
        """Like `decode`, but raising when the JSON does not have `t`'s shape: what lets a
        union without a discriminator be read by trying its members in order."""
        while t.kind == "alias":
            t = self.api.schemas[t.name].type  # type: ignore[union-attr]
        if t.enum:
            return f"_among({expr}, ({', '.join(pyrepr(v) for v in t.enum)},))"
        if t.kind == "model":
            return f"{t.name}.from_dict(_is({expr}, \"object\"))"
        if t.kind in _STRICT and not (t.kind == "string" and (t.format == "binary" or (
                self.dates and t.format in ("date-time", "date")))):
            return f"_is({expr}, {pyrepr(_STRICT[t.kind])})"
        if t.kind in ("array", "map"):
            assert t.item is not None
            var = f"v{depth}"
            inner = self.strict(t.item, var, depth + 1)
            if t.kind == "array":
                return f"[{inner} for {var} in _is({expr}, \"array\")]"
            return f"{{k{depth}: {inner} for k{depth}, {var} in _is({expr}, \"object\").items()}}"
        return self.decode(t, expr, depth)

    def decode(self, t: TypeRef, expr: str, depth: int = 0) -> str:
        """Expression turning decoded JSON `expr` into a value of type `t`."""
        if t.kind == "model":
            return f"{t.name}.from_dict({expr})"
        if t.kind == "alias":
            return f"decode_{snake(t.name)}({expr})"
        if t.kind in ("array", "map"):
            assert t.item is not None
            var = f"v{depth}"
            inner = self.decode(t.item, var, depth + 1)
            if t.kind == "array":
                return f"list({expr})" if inner == var else f"[{inner} for {var} in {expr}]"
            return f"dict({expr})" if inner == var else f"{{k{depth}: {inner} for k{depth}, {var} in {expr}.items()}}"
        if t.kind == "union":
            return self._union(t, expr, depth, self.decode)
        if t.kind == "string" and self.dates and t.format == "date-time":
            return f"_datetime({expr})"
        if t.kind == "string" and self.dates and t.format == "date":
            return f"_date({expr})"
        return expr

    def _union(self, t: TypeRef, expr: str, depth: int, convert: Any) -> str:
        others = [v for v in t.variants if v.kind != "null"]
        if not tricky_union(t) and len(others) == 1 and len(t.variants) == 2:
            inner = convert(others[0], expr, depth)
            return expr if inner == expr else f"(None if {expr} is None else {inner})"
        if not tricky_union(t):
            # Encoding tests Python values with plain isinstance, so mypy can narrow the other
            # branches (`isinstance(x, int) and not isinstance(x, bool)` leaves bool behind).
            check = (lambda v: _DECODE_CHECK[v.json_kind or "object"]) if convert == self.decode else (
                lambda v: self._encode_check(v, True))
            return self._chain(t, expr, depth, convert, check)
        if convert != self.decode:
            return f"_encode({expr})"
        var = f"u{depth}"
        tags = dict(t.tags)
        options = []
        for v in t.variants:
            strict = self.strict(v, var, depth + 1)
            if v.kind == "model" and v.name in tags:
                values = ", ".join(pyrepr(x) for x in tags[v.name])
                strict = f"{v.name}.from_dict(_tagged({var}, {pyrepr(t.discriminator)}, ({values},)))"
            options.append(f"lambda {var}: {strict}")
        return f"_one_of({expr}, {', '.join(options)})"

    def encode(self, t: TypeRef, expr: str, depth: int = 0) -> str:
        """Expression turning a value of type `t` into JSON-ready data."""
        if t.kind == "model":
            return f"{expr}.to_dict()"
        if t.kind == "alias":
            return f"encode_{snake(t.name)}({expr})"
        if t.kind in ("array", "map"):
            assert t.item is not None
            var = f"v{depth}"
            inner = self.encode(t.item, var, depth + 1)
            if t.kind == "array":
                return f"list({expr})" if inner == var else f"[{inner} for {var} in {expr}]"
            return f"dict({expr})" if inner == var else f"{{k{depth}: {inner} for k{depth}, {var} in {expr}.items()}}"
        if t.kind == "union":
            return self._union(t, expr, depth, self.encode)
        if t.kind == "string" and self.dates and t.format in ("date-time", "date"):
            return f"{expr}.isoformat()"
        return expr

    def _encode_check(self, t: TypeRef, has_bool: bool = False) -> str:
        # Python values of model members are instances, not dicts.
        target = t
        while target.kind == "alias":
            target = self.api.schemas[target.name].type  # type: ignore[union-attr]
        if target.kind == "model":
            return f"isinstance({{x}}, {target.name})"
        if not has_bool:
            return _DECODE_CHECK[t.json_kind or "object"]
        # Plain isinstance tests let mypy narrow the other branches (a bool is an int, and encodes as itself).
        return {"integer": "isinstance({x}, int)", "number": "isinstance({x}, (int, float))"}.get(
            t.json_kind or "object", _DECODE_CHECK[t.json_kind or "object"])

    def _chain(self, t: TypeRef, expr: str, depth: int, convert: Any, check: Any) -> str:
        *tested, last = t.variants
        out: str = convert(last, expr, depth)
        for variant in reversed(tested):
            branch = convert(variant, expr, depth)
            if branch != out:  # members needing no conversion need no test either
                out = f"({branch} if {check(variant).format(x=expr)} else {out})"
        return out


def _has_enum(t: TypeRef) -> bool:
    return bool(t.enum) or any(_has_enum(inner) for inner in (t.item, *t.variants) if inner is not None)


def _type_names(t: TypeRef) -> set[str]:
    names = {t.name} if t.kind in ("model", "alias") else set()
    for inner in (t.item, *t.variants):
        if inner is not None:
            names |= _type_names(inner)
    return names


def result_var(op: Operation) -> str:
    return python_ident(op.operation_id) + "_result"


def attr(prop: Property) -> str:
    return prop.py_name or python_ident(prop.json_name, MODEL_TAKEN)


def optional_nullable(prop: Property) -> bool:
    """An optional field that may also be null: absent (UNSET) is kept apart from None."""
    return not prop.required and prop.type.is_nullable_union


def pyrepr(value: Any) -> str:
    """A Python literal for JSON data; strings double-quoted like the rest of the code."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(pyrepr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{pyrepr(str(k))}: {pyrepr(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Python literal for {value!r}")


def docstring(text: str, indent: int = 4) -> str:
    """Body of a triple-quoted docstring: escaped and indented; blank lines kept blank."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
    if text.endswith('"'):
        text = text[:-1] + '\\"'  # a closing quote would run into the docstring's own
    pad = " " * indent
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines()).lstrip()


def path_expr(op: Operation) -> str:
    """The request path as a concatenation, so braces or quotes in literals stay inert."""
    parts: list[str] = []
    by_name = {p.name: p for p in op.params_in("path")}
    for i, piece in enumerate(re.split(r"\{([^}]+)\}", op.path)):
        if i % 2:
            p = by_name[piece]
            value = p.py_name if p.plain else (f"_core.path_value({pyrepr(p.name)}, {p.py_name}, "
                                               f"{pyrepr(p.style)}, {p.explode})")
            parts.append(f"_core.path_segment({value})")
        elif piece:
            parts.append(json.dumps(piece))
    return " + ".join(parts) or '""'

