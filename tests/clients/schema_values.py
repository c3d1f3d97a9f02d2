"""Values made from the JSON schemas of an OpenAPI document (3.0 or 3.1).

The mock server answers with them and the call test sends them, so both sides
of a call agree with the document rather than with the generator. A value is
the simplest one a schema admits: the first enum member, the first member of
a oneOf (with its discriminator value), every required property and, near the
top, the optional ones too (so their decoding is exercised), one array item.
`format: binary` strings become `bytes`.
"""
from __future__ import annotations

import re
from typing import Any

# Optional properties are filled down to this depth; deeper, only required ones
# (recursive schemas such as trees end there).
OPTIONAL_DEPTH = 3
MAX_DEPTH = 12
_STRING_TRIES = ("string", "abc", "ABC", "a1", "123", "a", "A", "1", "a-b", "a_b", "Abc1")
_FORMATS = {
    "date-time": "2024-01-02T03:04:05Z",
    "date": "2024-01-02",
    "time": "03:04:05Z",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "email": "someone@example.com",
    "uri": "https://example.com/x",
    "url": "https://example.com/x",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "byte": "aGVsbG8=",
}


class SchemaValues:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, node: Any) -> Any:
        """Follow local `$ref`s (3.1 siblings of `$ref` are merged over the target)."""
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
            target = self.at(node["$ref"])
            extra = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **extra} if extra and isinstance(target, dict) else target
            seen += 1
            if seen > 50:
                raise ValueError(f"$ref loop at {node}")
        return node

    def at(self, ref: str) -> Any:
        node: Any = self.document
        for token in ref[2:].split("/") if ref != "#" else []:
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    def make(self, schema: Any, *, reading: bool, depth: int = 0) -> Any:
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or depth > MAX_DEPTH:
            return None if depth > MAX_DEPTH else {}
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            members = [m for m in schema["enum"] if m is not None]
            return members[0] if members else None
        if schema.get("allOf"):
            return self._all_of(schema, reading, depth)
        for key in ("oneOf", "anyOf"):
            if schema.get(key):
                return self._one_of(schema, key, reading, depth)
        kind = _type(schema)
        if kind == "object":
            return self._object(schema, reading, depth)
        if kind == "array":
            # One item near the top; deeper, as few as allowed (recursive trees end there).
            count = max(int(schema.get("minItems", 0)), 1 if depth < OPTIONAL_DEPTH else 0)
            return [self.make(schema.get("items") or {}, reading=reading, depth=depth + 1) for _ in range(count)]
        if kind == "integer":
            return _number(schema, 1)
        if kind == "number":
            return _number(schema, 1.5)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        if kind == "string":
            return self._string(schema)
        return "anything"  # a schema without type: any JSON value will do

    def _string(self, schema: dict[str, Any]) -> Any:
        fmt = schema.get("format", "")
        if fmt == "binary" or schema.get("contentMediaType") == "application/octet-stream":
            return b"\x00\x01mock bytes"
        if fmt in _FORMATS:
            return _FORMATS[fmt]
        pattern = schema.get("pattern")
        low = int(schema.get("minLength", 0))
        high = int(schema.get("maxLength", 10**6))
        for text in _STRING_TRIES:
            text = text * max(1, -(-low // len(text)))
            text = text[:high] if len(text) > high else text
            if pattern is None or re.search(pattern, text):
                return text
        return "string"

    def _object(self, schema: dict[str, Any], reading: bool, depth: int) -> dict[str, Any]:
        required = set(schema.get("required") or [])
        out: dict[str, Any] = {}
        for name, member in (schema.get("properties") or {}).items():
            member_schema = self.resolve(member)
            skipped = member_schema.get("writeOnly" if reading else "readOnly") if isinstance(member_schema, dict) else False
            if name in required or (depth < OPTIONAL_DEPTH and not skipped):
                out[name] = self.make(member, reading=reading, depth=depth + 1)
        extra = schema.get("additionalProperties")
        for name in required - out.keys():
            # Required but not declared (Figma's `team_id`): additionalProperties' schema says what it is.
            out[name] = self.make(extra if isinstance(extra, dict) else {"type": "string"}, reading=reading,
                                  depth=depth + 1)
        if isinstance(extra, dict) and extra and not schema.get("properties"):
            out["key"] = self.make(extra, reading=reading, depth=depth + 1)
        return out

    def _all_of(self, schema: dict[str, Any], reading: bool, depth: int) -> Any:
        merged: dict[str, Any] = {}
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        for member in [*schema["allOf"], rest]:
            value = self.make(member, reading=reading, depth=depth)
            if isinstance(value, dict):
                merged.update(value)
            elif value not in (None, {}, "anything"):
                return value  # allOf of scalar constraints: any member's value
        return merged

    def _one_of(self, schema: dict[str, Any], key: str, reading: bool, depth: int) -> Any:
        members = schema[key]
        usable = [m for m in members if _type(self.resolve(m)) != "null"] or members
        chosen = usable[0]
        value = self.make(chosen, reading=reading, depth=depth)
        discriminator = schema.get("discriminator")
        if isinstance(discriminator, dict) and isinstance(value, dict):
            name = discriminator.get("propertyName", "")
            tag = _schema_name(chosen)
            for mapped, target in (discriminator.get("mapping") or {}).items():
                if isinstance(chosen, dict) and chosen.get("$ref") in (target, f"#/components/schemas/{target}"):
                    tag = mapped
                    break
            if name:
                value[name] = tag
        siblings = {k: v for k, v in schema.items() if k not in (key, "discriminator")}
        if siblings.get("properties") and isinstance(value, dict):
            value = {**self._object(siblings, reading, depth), **value}
        return value


def _type(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if kinds else "null"
    if kind:
        return str(kind)
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return ""


def _number(schema: dict[str, Any], default: int | float) -> int | float:
    low = schema.get("minimum")
    high = schema.get("maximum")
    value = default
    if isinstance(low, (int, float)) and not isinstance(low, bool) and value < low:
        value = low + (1 if schema.get("exclusiveMinimum") is True else 0)
    if isinstance(high, (int, float)) and not isinstance(high, bool) and value > high:
        value = high
    if isinstance(schema.get("multipleOf"), (int, float)):
        value = schema["multipleOf"]
    return int(value) if isinstance(default, int) else value


def _schema_name(member: Any) -> str:
    ref = member.get("$ref", "") if isinstance(member, dict) else ""
    return ref.rsplit("/", 1)[-1]
