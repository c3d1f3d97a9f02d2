"""Loading an OpenAPI document and walking it by JSON pointer.

Every warning and error names the JSON pointer of its construct, so a spec
author can jump straight to it; this module owns that vocabulary (pointers,
local `$ref` resolution, `Unsupported` for one skipped construct, `CodegenError`
for the few things that stop generation: a file that is not an OpenAPI 3.x
document, bad command-line input).
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


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


def pointer(base: str, *tokens: str | int) -> str:
    """Append tokens to a JSON pointer, escaping `~` and `/` (RFC 6901)."""
    out = base
    for token in tokens:
        out += "/" + str(token).replace("~", "~0").replace("/", "~1")
    return out


def load_document(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON spec; mapping order is kept, which keeps output order stable."""
    return parse_document(Path(path).read_text(encoding="utf-8"))


def parse_document(text: str) -> dict[str, Any]:
    # libyaml's loader is ~10x faster than the pure-Python one; both keep mapping order.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise CodegenError([Problem("#", f"not YAML or JSON: {exc}")]) from exc
    if not isinstance(data, dict):
        raise CodegenError([Problem("#", "the document is not a mapping")])
    data = dict(_plain(data))
    version = str(data.get("openapi", ""))
    if not version.startswith(("3.0", "3.1")):
        raise CodegenError([Problem("#/openapi", f"only OpenAPI 3.0.x and 3.1.x are supported, "
                                                 f"got {version or 'nothing'!r}")])
    return data


class Unsupported(Exception):
    """One construct cannot be expressed: the caller skips just that construct
    (an operation, a parameter, a field's type) and records the problem as a warning."""

    def __init__(self, where: str, message: str) -> None:
        self.problem = Problem(where, message)
        super().__init__(str(self.problem))


class Resolver:
    """Follows local `$ref`s; external or dangling references raise `Unsupported`,
    so only the construct holding them is skipped."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def lookup(self, ref: str, where: str) -> Any:
        if not ref.startswith("#/"):
            raise Unsupported(where, f"only local references are supported, got {ref!r}")
        node: Any = self.document
        for raw in ref[2:].split("/"):
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise Unsupported(where, f"reference {ref!r} points nowhere")
        return node

    def deref(self, node: Any, where: str) -> tuple[Any, str]:
        """Resolve a chain of references; returns the target and its own pointer."""
        seen: list[str] = []
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str):
                raise Unsupported(where, "$ref must be a string")
            if ref in seen:
                raise Unsupported(where, f"reference cycle through {ref!r}")
            seen.append(ref)
            node = self.lookup(ref, where)
            where = ref
        return node, where


def _plain(node: Any) -> Any:
    """JSON values only: YAML reads unquoted timestamps as datetimes, which examples
    would otherwise carry into generated code; they become RFC 3339 strings."""
    if isinstance(node, dict):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    if isinstance(node, datetime.datetime):
        text = node.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(node, datetime.date):
        return node.isoformat()
    return node
