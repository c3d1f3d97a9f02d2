"""Argument values for the README snippets, one call per operation.

Values come from the spec's examples; where a response link feeds a parameter
(e.g. the id of the call just created), the snippet uses the earlier call's
result instead, so the README's snippets run in order against a live server.
The token operation's credentials come from the environment, never the spec.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from uapi.codegen.model import Api, Operation, Parameter


@dataclass(frozen=True)
class Var:
    """A variable defined by the README's setup code (credentials)."""

    name: str


@dataclass(frozen=True)
class ResultRef:
    """A value read from an earlier snippet's result by JSON pointer tokens."""

    operation: Operation
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class Snippet:
    operation: Operation
    arguments: tuple[tuple[Parameter, Any], ...]
    body: Any  # JSON data that may contain Var / ResultRef leaves; None without a body
    has_body: bool


def plan(api: Api) -> list[Snippet]:
    snippets: list[Snippet] = []
    # operationId -> links from earlier snippets to it, with the source snippet
    incoming: dict[str, list[tuple[Snippet, dict[str, str]]]] = {}
    for op in api.operations:
        linked = incoming.get(op.operation_id, [])
        arguments = []
        for param in op.parameters:
            value = _from_links(param, linked)
            if value is _NONE:
                value = _example(param)
            if value is not _NONE:
                arguments.append((param, value))
        body = None
        if op.body is not None:
            body = op.body.example
            if api.token is not None and op.path == api.token.url:
                body = _credentials(body)
        snippet = Snippet(op, tuple(arguments), body, op.body is not None)
        snippets.append(snippet)
        for link in op.links:
            incoming.setdefault(link.operation_id, []).append((snippet, dict(link.parameters)))
    return snippets


_NONE = object()


def _example(param: Parameter) -> Any:
    if param.example is not None:
        return param.example
    if not param.required:
        return _NONE  # optional and undocumented: leave it out
    if param.default is not None:
        return param.default
    if param.type.enum:
        return param.type.enum[0]
    return {"integer": 1, "number": 1, "boolean": True}.get(param.type.kind, f"<{param.name}>")


def _from_links(param: Parameter, linked: list[tuple[Snippet, dict[str, str]]]) -> Any:
    for source, params in linked:
        expression = params.get(param.name, params.get(f"{param.location}.{param.name}"))
        if expression is None:
            continue
        match = re.fullmatch(r"\$response\.body#(/.*)?", expression)
        if match:
            return ResultRef(source.operation, _tokens(match.group(1) or ""))
        match = re.fullmatch(r"\$request\.(path|query|header)\.(.+)", expression)
        if match:
            for earlier, value in source.arguments:
                if earlier.name == match.group(2):
                    return value
        match = re.fullmatch(r"\$request\.body#(/.*)?", expression)
        if match:
            value = _walk(source.body, _tokens(match.group(1) or ""))
            if value is not _NONE:
                return value
    return _NONE


def _tokens(json_pointer: str) -> tuple[str, ...]:
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in json_pointer.split("/")[1:])


def _walk(data: Any, tokens: tuple[str, ...]) -> Any:
    for token in tokens:
        if isinstance(data, dict) and token in data:
            data = data[token]
        elif isinstance(data, list) and token.isdigit() and int(token) < len(data):
            data = data[int(token)]
        else:
            return _NONE
    return data


def _credentials(example: Any) -> Any:
    body = dict(example) if isinstance(example, dict) else {"grant_type": "client_credentials"}
    body["client_id"] = Var("CLIENT_ID")
    body["client_secret"] = Var("CLIENT_SECRET")
    return body
