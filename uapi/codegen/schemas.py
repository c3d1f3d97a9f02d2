"""JSON Schema (OpenAPI 3.0 and 3.1 dialects) → TypeRef / ModelDef / AliasDef.

Every schema gets a type: objects with properties become models, the rest
aliases of arrays, maps, primitives, enums (any scalars, null included) and
unions (`oneOf`/`anyOf`, with or without a discriminator). `nullable: true` and
3.1 `type: [..., "null"]` become unions with null. `allOf` members are merged;
members carrying only constraints or prose are ignored. Validation keywords are
left to the server. What cannot be expressed degrades to "any JSON value" with
a warning at its JSON pointer, never failing the document.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, cast

from uapi.codegen.names import pascal, python_ident
from uapi.codegen.spec import Problem, Resolver, Unsupported, mapping_at
from uapi.codegen.types import ANY, NULL, AliasDef, Definitions, JsonKind, Kind, ModelDef, Property, TypeRef
from uapi.spec_core import child

_PRIMITIVES = ("string", "integer", "number", "boolean")
_COMPONENT = re.compile(r"^#/components/schemas/([^/]+)$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keywords that give a schema a shape; a schema with none of them only constrains or documents.
_SHAPING = ("$ref", "type", "properties", "additionalProperties", "items", "enum", "const",
            "oneOf", "anyOf", "allOf", "prefixItems")
# Attribute names a generated dataclass defines itself, or that its annotations use.
MODEL_TAKEN = frozenset({"additional_properties", "to_dict", "from_dict", "str", "int", "float", "bool",
                         "list", "dict", "bytes", "field"})


def type_name(key: str) -> str:
    """Class name for a schema: kept as written when it already is an identifier."""
    if _IDENT.match(key):
        return key[0].upper() + key[1:]
    return pascal(key) or "Schema"


def shaping(node: Any) -> bool:
    return isinstance(node, dict) and any(k in node for k in _SHAPING)


class SchemaConverter:
    def __init__(self, document: dict[str, Any], resolver: Resolver, warnings: list[Problem],
                 reserved: frozenset[str] = frozenset()) -> None:
        self.resolver = resolver
        self.warnings = warnings
        self.defs = Definitions()
        components = (document.get("components") or {}).get("schemas") or {}
        self.components: dict[str, Any] = components if isinstance(components, dict) else {}
        # Type names in use, so two schemas never generate the same class and no
        # schema shadows what the client's own code defines.
        self._taken: set[str] = set(reserved)
        self._component_names: dict[str, str] = {}
        for key in self.components:
            self._component_names[key] = self._unique(type_name(key))
        # pointer of an inline object -> its synthesized name, so a shared
        # response or parameter reached from two operations yields one class.
        self._inline: dict[str, str] = {}

    # -- entry points -------------------------------------------------------

    def convert_components(self) -> None:
        for key, node in self.components.items():
            where = child("#/components/schemas", key)
            name = self._component_names[key]
            if self._makes_model(node):
                self._inline[where] = name
                self._define_model(name, node, where)
            else:
                target = self.convert(node, where, name)
                self.defs.aliases[name] = AliasDef(name, where, _text(node, "description"), target)

    def convert(self, node: Any, where: str, hint: str) -> TypeRef:
        """Type of the schema `node` found at `where`; inline objects are named after `hint`.
        What cannot be expressed becomes `any`, with a warning."""
        try:
            return self._convert(node, where, hint)
        except Unsupported as exc:
            self.warnings.append(exc.problem)
            return ANY

    def claim(self, name: str, where: str) -> str:
        """A unique type name for the named body or result type at `where`."""
        found = self._inline.get(where)
        if found is None:
            found = self._unique(type_name(name))
            self._inline[where] = found
        return found

    # -- conversion ---------------------------------------------------------

    def _convert(self, node: Any, where: str, hint: str) -> TypeRef:
        if isinstance(node, bool) or node is None or node == {}:
            return ANY  # `true`, `{}`: any value
        if not isinstance(node, dict):
            raise Unsupported(where, "a schema must be a mapping")
        if "$ref" in node:
            return _or_null(self._ref(node, where, hint), _nullable(node))
        return _or_null(self._shape(node, where, hint), _nullable(node))

    def _shape(self, node: dict[str, Any], where: str, hint: str) -> TypeRef:
        if self._makes_model(node):
            return self._inline_model(node, where, hint)
        if "allOf" in node:
            return self._all_of(node, where, hint)
        if "oneOf" in node or "anyOf" in node:
            return self._union(node, where, hint)
        if "const" in node:
            return _enum([node["const"]])
        if "enum" in node:
            return _enum(node["enum"]) if isinstance(node["enum"], list) else ANY
        kinds = _types(node)
        if len(kinds) > 1:
            variants = [self._convert({**node, "type": k}, where, hint) for k in kinds]
            return TypeRef("union", variants=tuple(dict.fromkeys(variants)))
        kind = kinds[0] if kinds else None
        if kind is None:
            if "properties" in node or "additionalProperties" in node:
                kind = "object"
            elif "items" in node or "prefixItems" in node:
                kind = "array"
            elif "format" in node and isinstance(node.get("format"), str):
                kind = "string"
            else:
                return NULL if "null" in _raw_types(node) else ANY
        if kind == "array":
            items = node.get("items")
            if not isinstance(items, (dict, bool)):
                return TypeRef("array", item=ANY, json_kind="array")
            item = self.convert(items, child(where, "items"), hint + "Item")
            return TypeRef("array", item=item, json_kind="array")
        if kind == "object":
            extra = node.get("additionalProperties", True)
            item = ANY if isinstance(extra, bool) else self.convert(
                extra, child(where, "additionalProperties"), hint + "Value")
            return TypeRef("map", item=item, json_kind="object")
        if kind in _PRIMITIVES:
            return TypeRef(cast(Kind, kind), format=str(node.get("format", "") or ""), json_kind=cast(JsonKind, kind))
        raise Unsupported(child(where, "type"), f"unknown type {kind!r}; any JSON value is accepted instead")

    def _ref(self, node: dict[str, Any], where: str, hint: str) -> TypeRef:
        ref = node["$ref"]
        match = _COMPONENT.match(ref) if isinstance(ref, str) else None
        if match:
            key = match.group(1).replace("~1", "/").replace("~0", "~")
            if key in self.components:
                return self._component_ref(key)
        target, target_where = self.resolver.deref(node, where)
        return self._convert(target, target_where, hint)

    def _component_ref(self, key: str) -> TypeRef:
        node = self.components[key]
        name = self._component_names[key]
        if self._makes_model(node):
            return _or_null(TypeRef("model", name=name, json_kind="object"), _nullable(node))
        kind = self._json_kind(node, child("#/components/schemas", key))
        return TypeRef("alias", name=name, json_kind=kind)

    def _makes_model(self, node: Any) -> bool:
        """Whether a schema becomes a class: the one decision both definitions and references use."""
        if not isinstance(node, dict) or "$ref" in node:
            return False
        if node.get("properties") and ("object" in _raw_types(node) or not _types(node)):
            return True
        if "allOf" in node and isinstance(node["allOf"], list):
            objects = [m for m in node["allOf"] if self._objectish(m)]
            return len(objects) >= 1 and len([m for m in node["allOf"] if shaping(m)]) >= 2
        return False

    def _objectish(self, member: Any) -> bool:
        try:
            target, where = self.resolver.deref(member, "#")
        except Unsupported:
            return False
        return isinstance(target, dict) and self._json_kind(target, where) == "object" and shaping(target)

    def _json_kind(self, node: Any, where: str) -> JsonKind | None:
        """Wire kind of a schema without converting it (safe for recursive schemas)."""
        try:
            node, where = self.resolver.deref(node, where)
        except Unsupported:
            return None
        if not isinstance(node, dict) or _nullable(node):
            return None
        kinds = _types(node)
        if len(kinds) == 1 and kinds[0] in (*_PRIMITIVES, "object", "array"):
            return cast(JsonKind, kinds[0])
        if kinds:
            return None
        if "properties" in node or "additionalProperties" in node:
            return "object"
        if "allOf" in node and isinstance(node["allOf"], list):
            shaped = [m for m in node["allOf"] if shaping(m)]
            kinds_of = {self._json_kind(m, where) for m in shaped}
            return kinds_of.pop() if len(kinds_of) == 1 else None
        if "items" in node:
            return "array"
        if "enum" in node:
            return _enum(node["enum"]).json_kind if isinstance(node["enum"], list) else None
        return None

    def _union(self, node: dict[str, Any], where: str, hint: str) -> TypeRef:
        key = "oneOf" if "oneOf" in node else "anyOf"
        here = child(where, key)
        members = node[key]
        if not isinstance(members, list) or not members:
            raise Unsupported(here, f"{key} needs a non-empty list; any JSON value is accepted instead")
        shaped = [(i, m) for i, m in enumerate(members) if shaping(m) or m == {} or m is True]
        if not shaped:
            # Members that only constrain (e.g. alternative `required` lists): the rest of the schema types it.
            rest = {k: v for k, v in node.items() if k not in ("oneOf", "anyOf")}
            return self._shape(rest, where, hint) if shaping(rest) else ANY
        variants: list[TypeRef] = []
        for i, member in shaped:
            t = self.convert(member, child(here, i), f"{hint}Option{i + 1}")
            for v in (t.variants if t.kind == "union" and not t.discriminator else (t,)):
                if v not in variants:
                    variants.append(v)
        if ANY in variants:
            return ANY
        if len(variants) == 1:
            return variants[0]
        # null goes last, so `X | None` reads naturally.
        variants.sort(key=lambda v: v.kind == "null")
        discriminator, tags = self._tags(node, variants)
        return TypeRef("union", variants=tuple(variants), discriminator=discriminator, tags=tags)

    def _tags(self, node: dict[str, Any], variants: list[TypeRef]) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
        spec = node.get("discriminator")
        if not isinstance(spec, dict) or not isinstance(spec.get("propertyName"), str):
            return "", ()
        mapping = mapping_at(spec, "mapping")
        by_name: dict[str, list[str]] = {}
        for value, target in mapping.items():
            match = _COMPONENT.match(str(target))
            key = match.group(1) if match else str(target)
            if key in self._component_names:
                by_name.setdefault(self._component_names[key], []).append(str(value))
        tags = []
        for v in variants:
            if v.kind != "model":
                continue
            key = next((k for k, n in self._component_names.items() if n == v.name), v.name)
            tags.append((v.name, tuple(by_name.get(v.name) or [key])))
        return str(spec["propertyName"]), tuple(tags)

    def _all_of(self, node: dict[str, Any], where: str, hint: str) -> TypeRef:
        members = node["allOf"] if isinstance(node["allOf"], list) else []
        shaped = [(i, m) for i, m in enumerate(members) if shaping(m)]
        if len(shaped) == 1:
            i, member = shaped[0]
            return self._convert(member, child(where, "allOf", i), hint)
        if not shaped:
            rest = {k: v for k, v in node.items() if k != "allOf"}
            return self._shape(rest, where, hint) if shaping(rest) else ANY
        raise Unsupported(child(where, "allOf"), "allOf of members that are not all objects cannot be "
                                                   "expressed; any JSON value is accepted instead")

    def _inline_model(self, node: dict[str, Any], where: str, hint: str) -> TypeRef:
        name = self._inline.get(where)
        if name is None:
            name = self._unique(type_name(hint))
            self._inline[where] = name
            self._define_model(name, node, where)
        return TypeRef("model", name=name, json_kind="object")

    def _define_model(self, name: str, node: dict[str, Any], where: str) -> None:
        # Registered before its properties are converted so self-references terminate.
        placeholder = ModelDef(name, where, _text(node, "description"), ())
        self.defs.models[name] = placeholder
        fields: dict[str, tuple[Any, str]] = {}
        required: set[str] = set()
        state = {"open": True, "extra": None}
        self._collect(node, where, fields, required, state, set())
        properties = []
        attrs: set[str] = set()
        for json_name, (schema, at) in fields.items():
            t = self.convert(schema, at, name + (pascal(json_name) or "Field"))
            description = _text(schema, "description") if isinstance(schema, dict) else ""
            self._describe_inline(t, f"The `{json_name}` field of `{name}`.")
            attr = python_ident(json_name, MODEL_TAKEN | attrs)
            attrs.add(attr)
            properties.append(Property(json_name, t, json_name in required, description, attr))
        for missing in sorted(required - fields.keys()):
            attr = python_ident(missing, MODEL_TAKEN | attrs)
            attrs.add(attr)
            properties.append(Property(missing, ANY, True, "", attr))
        extra = state["extra"]
        self.defs.models[name] = ModelDef(name, where, placeholder.description, tuple(properties),
                                          bool(state["open"]), extra if isinstance(extra, TypeRef) else None)

    def _describe_inline(self, t: TypeRef, text: str) -> None:
        """Give an undocumented inline object (e.g. `Error.error`) a docstring saying where it sits."""
        while t.kind == "array" and t.item is not None:
            t = t.item
        model = self.defs.models.get(t.name) if t.kind == "model" else None
        if model is not None and not model.description and self._inline.get(model.pointer) == t.name \
                and not _COMPONENT.match(model.pointer):
            self.defs.models[t.name] = replace(model, description=text)

    def _collect(self, node: dict[str, Any], where: str, fields: dict[str, tuple[Any, str]], required: set[str],
                 state: dict[str, Any], seen: set[str]) -> None:
        """Properties of an object schema, with allOf members merged in order (later ones win)."""
        if where in seen:
            return
        seen.add(where)
        for i, member in enumerate(node.get("allOf") or []):
            at = child(where, "allOf", i)
            try:
                target, target_where = self.resolver.deref(member, at)
            except Unsupported as exc:
                self.warnings.append(exc.problem)
                continue
            if isinstance(target, dict) and self._json_kind(target, target_where) == "object":
                self._collect(target, target_where, fields, required, state, seen)
            elif shaping(target):
                self.warnings.append(Problem(at, "allOf member is not an object: its fields are not merged "
                                                 "(they stay readable as additional properties)"))
        for key, schema in (node.get("properties") or {}).items():
            fields[str(key)] = (schema, child(where, "properties", str(key)))
        required |= {str(r) for r in node.get("required") or [] if isinstance(r, str)}
        extra = node.get("additionalProperties", True)
        if extra is False:
            state["open"] = False
        elif isinstance(extra, dict) and extra:
            state["extra"] = self.convert(extra, child(where, "additionalProperties"), "Value")

    def _unique(self, name: str) -> str:
        """`name`, or `NameModel` when it is taken (by the client's own code or another schema),
        then `NameModel2`, ..."""
        candidate = name
        if candidate in self._taken:
            candidate, n = name + "Model", 1
            while candidate in self._taken:
                n += 1
                candidate = f"{name}Model{n}"
        self._taken.add(candidate)
        return candidate


def _raw_types(node: dict[str, Any]) -> list[str]:
    kind = node.get("type")
    if isinstance(kind, list):
        return [str(k) for k in kind]
    return [str(kind)] if kind is not None else []


def _types(node: dict[str, Any]) -> list[str]:
    return [k for k in _raw_types(node) if k != "null"]


def _nullable(node: dict[str, Any]) -> bool:
    if node.get("nullable") is True:
        return True
    raw = _raw_types(node)
    return "null" in raw and len(raw) > 1


def _or_null(t: TypeRef, nullable: bool) -> TypeRef:
    if not nullable or t.kind in ("any", "null"):
        return t
    if t.kind == "union":
        return t if NULL in t.variants else replace(t, variants=(*t.variants, NULL))
    return TypeRef("union", variants=(t, NULL))


def _enum(values: list[Any]) -> TypeRef:
    """Enums of any scalar kind; null among the values makes the type nullable."""
    scalars = tuple(dict.fromkeys(v for v in values if isinstance(v, (str, int, float, bool))))
    if not scalars:
        return NULL if None in values else ANY
    kinds = {_scalar_kind(v) for v in scalars}
    if len(kinds) == 1:
        kind = kinds.pop()
    elif kinds == {"integer", "number"}:
        kind = "number"
    else:
        kind = "any"
    base = TypeRef(cast(Kind, kind), enum=scalars, json_kind=None if kind == "any" else cast(JsonKind, kind))
    return _or_null(base, None in values)


def _scalar_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return "number" if isinstance(value, float) else "string"


def _text(node: Any, key: str) -> str:
    value = node.get(key, "") if isinstance(node, dict) else ""
    return str(value).strip() if value is not None else ""
