"""The language-neutral type vocabulary of the intermediate model.

Templates turn these into Python annotations, TypeScript types and the code
that converts JSON values; keeping them tiny is what lets one model serve
every language.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["string", "integer", "number", "boolean", "null", "any", "model", "alias", "array", "map", "union"]
JsonKind = Literal["string", "integer", "number", "boolean", "null", "object", "array"]


@dataclass(frozen=True)
class TypeRef:
    """A use of a type.

    `model` and `alias` name a definition (so recursive schemas stay finite);
    `array`/`map` carry their element in `item`; `union` its `variants`.
    A union whose members differ in JSON kind is decoded by one type test;
    otherwise by the discriminator (`tags`: member name -> its values of the
    `discriminator` property), else by trying members in order. Nullable
    types are unions with a `null` member. `enum` may mix scalar kinds and null.
    """

    kind: Kind
    name: str = ""
    item: TypeRef | None = None
    variants: tuple[TypeRef, ...] = ()
    enum: tuple[Any, ...] = ()
    format: str = ""
    # What the value looks like on the wire; lets unions be told apart by a
    # single type test on the decoded JSON.
    json_kind: JsonKind | None = None
    discriminator: str = ""
    tags: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def is_nullable_union(self) -> bool:
        return self.kind == "union" and any(v.kind == "null" for v in self.variants)

    @property
    def kind_distinct(self) -> bool:
        """Members told apart by the JSON kind alone (the original union decoding)."""
        kinds = [v.json_kind for v in self.variants]
        return (None not in kinds and "null" not in kinds and len(set(kinds)) == len(kinds)
                and not {"integer", "number"} <= set(kinds) and not self.discriminator)


ANY = TypeRef("any")
NULL = TypeRef("null", json_kind="null")


@dataclass(frozen=True)
class Property:
    json_name: str
    type: TypeRef
    required: bool
    description: str = ""
    py_name: str = ""  # the attribute, unique within its model; set by the model builder


@dataclass(frozen=True)
class ModelDef:
    """A named JSON object with declared properties (a class/interface)."""

    name: str
    pointer: str
    description: str
    properties: tuple[Property, ...]
    # False when the schema says additionalProperties: false; unknown fields are
    # otherwise kept so a model re-encodes to exactly what was received.
    open: bool = True
    # additionalProperties given as a schema beside properties.
    extra: TypeRef | None = None


@dataclass(frozen=True)
class AliasDef:
    """A named schema that is not an object with properties (e.g. `DialNumber`)."""

    name: str
    pointer: str
    description: str
    type: TypeRef


@dataclass
class Definitions:
    models: dict[str, ModelDef] = field(default_factory=dict)
    aliases: dict[str, AliasDef] = field(default_factory=dict)
