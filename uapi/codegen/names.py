"""Identifier spelling shared by every target language.

Names come from operationIds, schema names and JSON property names written by
spec authors, so they are split into words once here and re-joined in each
language's convention; languages only add their own reserved words.
"""
from __future__ import annotations

import keyword
import re

_BOUNDARY = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9])|[A-Z]?[a-z0-9]+|[A-Z]+")


def words(name: str) -> list[str]:
    """Split `phoneCallId`, `PhoneCallID`, `access_token`, `X-Request-Id` into words."""
    return [w.lower() for w in _BOUNDARY.findall(name)]


def snake(name: str) -> str:
    return "_".join(words(name))


def camel(name: str) -> str:
    parts = words(name)
    return parts[0] + "".join(p.capitalize() for p in parts[1:]) if parts else ""


def pascal(name: str) -> str:
    return "".join(p.capitalize() for p in words(name))


def screaming(name: str) -> str:
    return snake(name).upper()


# Names a Python identifier must not take: keywords and soft keywords would not
# parse or would confuse readers; the rest collide with what generated code defines.
PYTHON_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | {"self", "cls"}

TS_RESERVED = frozenset(
    ["break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else", "enum", "export", "extends", "false", "finally", "for", "function", "if", "import", "in", "instanceof", "new", "null", "return", "super", "switch", "this", "throw", "true", "try", "typeof", "var", "void", "while", "with", "implements", "interface", "let", "package", "private", "protected", "public", "static", "yield", "await", "async", "of"]
)


def python_ident(name: str, taken: frozenset[str] = frozenset()) -> str:
    """A snake_case Python identifier for `name`, suffixed with `_` past reserved words."""
    ident = snake(name) or "value"
    if ident[0].isdigit():
        ident = "n_" + ident
    while ident in PYTHON_RESERVED or ident in taken:
        ident += "_"
    return ident


def ts_ident(name: str, taken: frozenset[str] = frozenset()) -> str:
    ident = camel(name) or "value"
    if ident[0].isdigit():
        ident = "n" + ident
    while ident in TS_RESERVED or ident in taken:
        ident += "_"
    return ident


_TS_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def ts_key(name: str) -> str:
    """A TypeScript property key: JSON names stay as they are, quoted when needed."""
    return name if _TS_PLAIN_KEY.match(name) else '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
