"""The generator's view of a document read by the spec core (`uapi.spec_core`).

Every warning and error names the JSON pointer of its construct, so a spec
author can jump straight to it; this module owns the generator's side of that
vocabulary: `Unsupported` for one skipped construct (a `$ref` the core cannot
follow among them), `CodegenError` for the few things that stop generation: a
file that is not an OpenAPI 3.x document, bad command-line input.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uapi.spec_core import ReferenceProblem, SpecError, load_spec, parse_spec, resolve


@dataclass(frozen=True)
class Problem:
    """One construct the generator cannot express, located by JSON pointer."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer}: {self.message}"


class CodegenError(Exception):
    """Generation refused; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def mapping_at(node: dict[str, Any], key: str) -> dict[str, Any]:
    """`node[key]` when it is a mapping, else an empty one."""
    value = node.get(key)
    return value if isinstance(value, dict) else {}


def load_document(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON spec; mapping order is kept, which keeps output order stable."""
    try:
        return _openapi_3(load_spec(path))
    except SpecError as exc:
        raise CodegenError([Problem("#", str(exc))]) from exc


def parse_document(text: str) -> dict[str, Any]:
    try:
        return _openapi_3(parse_spec(text, "the spec"))
    except SpecError as exc:
        raise CodegenError([Problem("#", str(exc))]) from exc


def _openapi_3(document: dict[str, Any]) -> dict[str, Any]:
    version = str(document.get("openapi", ""))
    if not version.startswith(("3.0", "3.1")):
        raise CodegenError([Problem("#/openapi", f"only OpenAPI 3.0.x and 3.1.x are supported, "
                                                 f"got {version or 'nothing'!r}")])
    return document


class Unsupported(Exception):
    """One construct cannot be expressed: the caller skips just that construct
    (an operation, a parameter, a field's type) and records the problem as a warning."""

    def __init__(self, where: str, message: str) -> None:
        self.problem = Problem(where, message)
        super().__init__(str(self.problem))


class Resolver:
    """Follows local `$ref`s through the spec core; a reference it cannot follow raises
    `Unsupported`, so only the construct holding it is skipped."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def deref(self, node: Any, where: str) -> tuple[Any, str]:
        """Resolve a chain of references; returns the target and its own pointer."""
        try:
            return resolve(self.document, node, where)
        except ReferenceProblem as exc:
            raise Unsupported(where, str(exc)) from None
