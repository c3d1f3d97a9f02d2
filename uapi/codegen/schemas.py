"""JSON Schema (OpenAPI 3.0 dialect) → TypeRef / ModelDef / AliasDef.

The generator supports a deliberately small dialect: objects, arrays, maps,
primitives, string/integer enums, `allOf` of objects (merged) and
`oneOf`/`anyOf` whose members differ in JSON kind (so a client can decode them
without a discriminator). Anything else is reported as a Problem at its JSON
pointer instead of being approximated.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, cast

from uapi.codegen.names import pascal
from uapi.codegen.spec import CodegenError, Problem, Resolver, pointer
from uapi.codegen.types import AliasDef, Definitions, JsonKind, Kind, ModelDef, Property, TypeRef

# Keywords the model expresses.
_HANDLED = {"$ref", "type", "properties", "required", "items", "enum", "additionalProperties",
            "oneOf", "anyOf", "allOf", "nullable", "format"}
# Annotations and validation-only keywords: the server validates, clients need
# not, so dropping them loses nothing a client could act on.
_IGNORED = {"description", "title", "example", "default", "pattern", "minimum", "maximum",
            "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems",
            "maxItems", "uniqueItems", "multipleOf", "minProperties", "maxProperties",
            "readOnly", "writeOnly", "deprecated", "externalDocs", "xml"}
_WHY = {
    "not": "`not` cannot be expressed as a type",
    "discriminator": "discriminated unions are not supported; use members of different JSON kinds",
}
_PRIMITIVES = ("string", "integer", "number", "boolean")
_COMPONENT = re.compile(r"^#/components/schemas/([^/]+)$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def type_name(key: str) -> str:
    """Class name for a schema: kept as written when it already is an identifier."""
    if _IDENT.match(key):
        return key[0].upper() + key[1:]
    return pascal(key) or "Schema"


class SchemaConverter:
    def __init__(self, document: dict[str, Any], resolver: Resolver, problems: list[Problem]) -> None:
        self.resolver = resolver
        self.problems = problems
        self.defs = Definitions()
        components = (document.get("components") or {}).get("schemas") or {}
        self.components: dict[str, Any] = components if isinstance(components, dict) else {}
        # type name -> pointer of the schema that owns it, to refuse two schemas
        # generating the same class.
        self._owner: dict[str, str] = {}
        # pointer of an inline object -> its synthesized name, so a shared
        # response or parameter reached from two operations yields one class.
        self._inline: dict[str, str] = {}
        for key in self.components:
            self._claim(type_name(key), pointer("#/components/schemas", key))

    # -- entry points -------------------------------------------------------

    def convert_components(self) -> None:
        for key, node in self.components.items():
            where = pointer("#/components/schemas", key)
            name = type_name(key)
            try:
                if self._is_object_model(node):
                    self._define_model(name, node, where)
                else:
                    target = self.convert(node, where, name)
                    self.defs.aliases[name] = AliasDef(name, where, _text(node, "description"), target)
            except CodegenError as exc:
                self.problems.extend(exc.problems)

    def convert(self, node: Any, where: str, hint: str) -> TypeRef:
        """Type of the schema `node` found at `where`; inline objects are named after `hint`."""
        if not isinstance(node, dict):
            raise CodegenError([Problem(where, "a schema must be a mapping")])
        if "$ref" in node:
            return self._ref(node, where, hint)
        self._check_keywords(node, where)
        if "allOf" in node:
            return self._all_of(node, where, hint)
        if "oneOf" in node or "anyOf" in node:
            return self._union(node, where, hint)
        if "enum" in node:
            return self._enum(node, where)
        kind = node.get("type")
        if kind is None:
            kind = "object" if "properties" in node or "additionalProperties" in node else (
                "array" if "items" in node else None)
        if kind is None:
            return TypeRef("any")
        if kind == "array":
            if "items" not in node:
                raise CodegenError([Problem(where, "an array schema needs `items`")])
            item = self.convert(node["items"], pointer(where, "items"), hint + "Item")
            return TypeRef("array", item=item, json_kind="array")
        if kind == "object":
            if node.get("properties"):
                return self._inline_model(node, where, hint)
            extra = node.get("additionalProperties", True)
            item = TypeRef("any") if isinstance(extra, bool) else self.convert(
                extra, pointer(where, "additionalProperties"), hint + "Value")
            return TypeRef("map", item=item, json_kind="object")
        if kind in _PRIMITIVES:
            fmt = node.get("format", "")
            if fmt == "binary":
                raise CodegenError([Problem(pointer(where, "format"),
                                            "format: binary (raw bytes) is not supported; clients speak JSON")])
            return TypeRef(cast(Kind, kind), format=str(fmt), json_kind=cast(JsonKind, kind))
        raise CodegenError([Problem(pointer(where, "type"), f"unsupported type {kind!r}")])

    # -- pieces -------------------------------------------------------------

    def _claim(self, name: str, where: str) -> None:
        owner = self._owner.get(name)
        if owner is not None and owner != where:
            raise CodegenError([Problem(where, f"would generate type {name!r}, already generated for {owner}; "
                                               "give one of them a distinct component name")])
        self._owner[name] = where

    def _check_keywords(self, node: dict[str, Any], where: str) -> None:
        problems = []
        for key in node:
            if key in _HANDLED or key in _IGNORED or key.startswith("x-"):
                continue
            why = _WHY.get(key, "this keyword is not supported by the generator")
            problems.append(Problem(pointer(where, key), f"schema keyword {key!r}: {why}"))
        if node.get("nullable") is True:
            problems.append(Problem(pointer(where, "nullable"),
                                    "nullable is not supported: generated clients leave absent fields out "
                                    "and could not tell null from absent"))
        if isinstance(node.get("type"), list):
            problems.append(Problem(pointer(where, "type"), "a list of types is not OpenAPI 3.0"))
        if problems:
            raise CodegenError(problems)

    def _ref(self, node: dict[str, Any], where: str, hint: str) -> TypeRef:
        extra = [k for k in node if k not in ("$ref", "description") and not k.startswith("x-")]
        if extra:
            raise CodegenError([Problem(pointer(where, extra[0]),
                                        "keywords beside $ref are ignored by OpenAPI 3.0; move them into the target")])
        ref = node["$ref"]
        match = _COMPONENT.match(ref) if isinstance(ref, str) else None
        if match:
            key = match.group(1).replace("~1", "/").replace("~0", "~")
            if key in self.components:
                return self._component_ref(key, where)
        target, target_where = self.resolver.deref(node, where)
        return self.convert(target, target_where, hint)

    def _component_ref(self, key: str, where: str) -> TypeRef:
        node = self.components[key]
        name = type_name(key)
        if self._is_object_model(node):
            return TypeRef("model", name=name, json_kind="object")
        return TypeRef("alias", name=name, json_kind=self._json_kind(node, pointer("#/components/schemas", key)))

    def _is_object_model(self, node: Any) -> bool:
        if not isinstance(node, dict) or "$ref" in node:
            return False
        if "allOf" in node:
            return len(node["allOf"]) > 1 or bool(node.get("properties"))
        return bool(node.get("properties")) and node.get("type", "object") == "object"

    def _json_kind(self, node: Any, where: str) -> JsonKind | None:
        """Wire kind of a schema without converting it (safe for recursive schemas)."""
        node, where = self.resolver.deref(node, where)
        if not isinstance(node, dict):
            return None
        kind = node.get("type")
        if kind in _PRIMITIVES or kind in ("object", "array"):
            return kind  # type: ignore[no-any-return]
        if "allOf" in node or "properties" in node or "additionalProperties" in node:
            return "object"
        if "items" in node:
            return "array"
        if "enum" in node:
            return _enum_kind(node["enum"])
        return None

    def _enum(self, node: dict[str, Any], where: str) -> TypeRef:
        values = node["enum"]
        kind = _enum_kind(values) if isinstance(values, list) and values else None
        declared = node.get("type")
        if kind is None or (declared is not None and declared != kind and not (declared == "number" and kind == "integer")):
            raise CodegenError([Problem(pointer(where, "enum"),
                                        "enum values must be all strings, all integers or all booleans, "
                                        "matching the schema's type")])
        return TypeRef(cast(Kind, kind), enum=tuple(values), json_kind=kind)

    def _union(self, node: dict[str, Any], where: str, hint: str) -> TypeRef:
        key = "oneOf" if "oneOf" in node else "anyOf"
        here = pointer(where, key)
        clash: list[str] = [k for k in ("type", "properties", "items", "allOf", "enum") if k in node]
        if clash or ("oneOf" in node and "anyOf" in node):
            raise CodegenError([Problem(here, f"{key} beside {(clash or ['oneOf/anyOf'])[0]} is not supported")])
        members = node[key]
        if not isinstance(members, list) or not members:
            raise CodegenError([Problem(here, f"{key} needs a non-empty list")])
        variants = [self.convert(m, pointer(here, i), f"{hint}Option{i + 1}") for i, m in enumerate(members)]
        if len(variants) == 1:
            return variants[0]
        kinds: list[str] = []
        for i, variant in enumerate(variants):
            if variant.json_kind is None:
                raise CodegenError([Problem(pointer(here, i), f"{key} members must each have one JSON kind "
                                                              "(no free-form or nested union members)")])
            kinds.append(variant.json_kind)
        if len(set(kinds)) != len(kinds) or {"integer", "number"} <= set(kinds):
            raise CodegenError([Problem(here, f"{key} members must differ in JSON kind to be decoded without "
                                              f"a discriminator, got {', '.join(kinds)}")])
        return TypeRef("union", variants=tuple(variants))

    def _all_of(self, node: dict[str, Any], where: str, hint: str) -> TypeRef:
        members = node["allOf"]
        if not isinstance(members, list) or not members:
            raise CodegenError([Problem(pointer(where, "allOf"), "allOf needs a non-empty list")])
        if len(members) == 1 and not node.get("properties"):
            return self.convert(members[0], pointer(where, "allOf", 0), hint)
        return self._inline_model(node, where, hint)

    def _inline_model(self, node: dict[str, Any], where: str, hint: str) -> TypeRef:
        name = self._inline.get(where)
        if name is None:
            name = type_name(hint)
            self._claim(name, where)
            self._inline[where] = name
            self._define_model(name, node, where)
        return TypeRef("model", name=name, json_kind="object")

    def _define_model(self, name: str, node: dict[str, Any], where: str) -> None:
        # Registered before its properties are converted so self-references terminate.
        placeholder = ModelDef(name, where, _text(node, "description"), ())
        self.defs.models[name] = placeholder
        fields, required, is_open = self._collect(node, where)
        properties = []
        problems = []
        for json_name, (schema, at) in fields.items():
            try:
                t = self.convert(schema, at, name + (pascal(json_name) or "Field"))
            except CodegenError as exc:
                problems.extend(exc.problems)
                continue
            description = _text(schema, "description") if isinstance(schema, dict) else ""
            self._describe_inline(t, f"The `{json_name}` field of `{name}`.")
            properties.append(Property(json_name, t, json_name in required, description))
        for missing in sorted(required - fields.keys()):
            problems.append(Problem(pointer(where, "required"), f"required property {missing!r} is not declared"))
        if problems:
            raise CodegenError(problems)
        self.defs.models[name] = ModelDef(name, where, placeholder.description, tuple(properties), is_open)

    def _describe_inline(self, t: TypeRef, text: str) -> None:
        """Give an undocumented inline object (e.g. `Error.error`) a docstring saying where it sits."""
        while t.kind == "array" and t.item is not None:
            t = t.item
        model = self.defs.models.get(t.name) if t.kind == "model" else None
        if model is not None and not model.description and model.pointer in self._inline:
            self.defs.models[t.name] = replace(model, description=text)

    def _collect(self, node: dict[str, Any], where: str) -> tuple[dict[str, tuple[Any, str]], set[str], bool]:
        """Properties of an object schema, with allOf members merged in order."""
        self._check_keywords(node, where)
        fields: dict[str, tuple[Any, str]] = {}
        required: set[str] = set()
        is_open = True
        for i, member in enumerate(node.get("allOf") or []):
            at = pointer(where, "allOf", i)
            target, target_where = self.resolver.deref(member, at)
            if not isinstance(target, dict) or self._json_kind(target, target_where) != "object":
                raise CodegenError([Problem(at, "allOf members must all be objects")])
            sub_fields, sub_required, sub_open = self._collect(target, target_where)
            for key, value in sub_fields.items():
                if key in fields and fields[key][0] != value[0]:
                    raise CodegenError([Problem(value[1], f"property {key!r} is declared differently by two allOf members")])
                fields[key] = value
            required |= sub_required
            is_open = is_open and sub_open
        if node.get("type", "object") != "object":
            raise CodegenError([Problem(pointer(where, "type"), "an object with properties must have type object")])
        properties = node.get("properties") or {}
        for key, schema in properties.items():
            fields[key] = (schema, pointer(where, "properties", key))
        required |= set(node.get("required") or [])
        extra = node.get("additionalProperties", True)
        if isinstance(extra, dict) and properties:
            raise CodegenError([Problem(pointer(where, "additionalProperties"),
                                        "a schema for additionalProperties beside properties is not supported")])
        if extra is False:
            is_open = False
        return fields, required, is_open


def _enum_kind(values: Any) -> JsonKind | None:
    if not isinstance(values, list) or not values:
        return None
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if all(isinstance(v, str) for v in values):
        return "string"
    return None


def _text(node: Any, key: str) -> str:
    value = node.get(key, "") if isinstance(node, dict) else ""
    return str(value).strip() if value is not None else ""
