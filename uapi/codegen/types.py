"""The language-neutral type vocabulary of the intermediate model.

Templates turn these into Python annotations, TypeScript types and the code
that converts JSON values; keeping them tiny is what lets one model serve
every language.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["string", "integer", "number", "boolean", "any", "model", "alias", "array", "map", "union"]
JsonKind = Literal["string", "integer", "number", "boolean", "object", "array"]


@dataclass(frozen=True)
class TypeRef:
    """A use of a type.

    `model` and `alias` name a definition (so recursive schemas stay finite);
    `array`/`map` carry their element in `item`; `union` its `variants`, which
    are pairwise distinguishable by JSON kind (checked when the model is built).
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


@dataclass(frozen=True)
class Property:
    json_name: str
    type: TypeRef
    required: bool
    description: str = ""


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
