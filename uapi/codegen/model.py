"""The spec read into a small intermediate model that templates render.

`load_api(path)` returns an `Api`: operations (method, path, parameters, body,
responses, security), schema definitions, the OAuth token endpoint and the
names of the client, in spec order so output is deterministic. Whatever a
client cannot express is skipped (an operation, a parameter) or degraded (a
field's type to any JSON value), each with a warning at its JSON pointer, in
`Api.warnings`; `builder` does the reading.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from uapi.codegen.names import pascal, snake
from uapi.codegen.naming import Naming
from uapi.codegen.spec import Problem
from uapi.codegen.types import AliasDef, ModelDef, TypeRef

Location = Literal["path", "query", "header", "cookie"]
BodyMedia = Literal["json", "form", "multipart", "binary", "text"]
AnswerMedia = Literal["json", "text", "bytes", "empty"]


@dataclass(frozen=True)
class Parameter:
    name: str
    location: Location
    required: bool
    type: TypeRef
    description: str
    example: Any  # the spec's own example, None when it gives none
    default: Any
    pointer: str
    py_name: str = ""
    ts_name: str = ""
    style: str = ""
    explode: bool = False
    # Serialised as JSON text (a parameter described by `content`).
    as_json: bool = False

    # Sent the way the original generator sent everything (scalars as text; exploded
    # query arrays); otherwise serialised by style at run time.
    plain: bool = True


@dataclass(frozen=True)
class Body:
    media: BodyMedia
    content_type: str
    type: TypeRef  # a named model or alias for json / form / multipart
    required: bool
    description: str
    example: Any
    pointer: str


@dataclass(frozen=True)
class Link:
    name: str
    operation_id: str
    parameters: tuple[tuple[str, str], ...]  # target parameter name -> runtime expression


@dataclass(frozen=True)
class Response:
    status: str
    description: str
    type: TypeRef | None
    links: tuple[Link, ...]
    pointer: str
    media: AnswerMedia = "empty"


@dataclass(frozen=True)
class Outcome:
    """How one success answer is read: statuses (empty: any other), medium and type."""

    statuses: tuple[int, ...]
    media: AnswerMedia
    type: TypeRef | None
    low: int = 0  # a range `2XX` as 200..299; 0 for explicit statuses and the fallback
    high: int = 0


@dataclass(frozen=True)
class Auth:
    """Where an operation's token goes: `Authorization: Bearer <t>`, HTTP Basic, or an API key."""

    scheme: str
    location: Literal["header", "query", "cookie"]
    name: str
    prefix: str


@dataclass(frozen=True)
class Pagination:
    size_param: str
    start_param: str
    items_property: str
    total_property: str
    item: TypeRef
    suffix: str  # `PhoneCalls` of listPhoneCalls; names iter_phone_calls / iterPhoneCalls

    @property
    def py_method(self) -> str:
        return "iter_" + snake(self.suffix)

    @property
    def ts_method(self) -> str:
        return "iter" + pascal(self.suffix)


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str
    pointer: str
    summary: str
    description: str
    tags: tuple[str, ...]
    deprecated: bool
    parameters: tuple[Parameter, ...]  # path (in template order), then query, then header, then cookie
    body: Body | None
    responses: tuple[Response, ...]
    result: TypeRef | None  # named type of the 2xx body; None when no 2xx has one
    # 2xx statuses answered without a body while `result` is set, and the JSON
    # value standing in for them (an empty list or collection, never null).
    empty_statuses: tuple[int, ...]
    empty_result: Any
    auth: Auth | None
    pagination: Pagination | None
    py_name: str = ""
    ts_name: str = ""
    # Set when `result` cannot describe the answers (several types, text, bytes,
    # ranges, `default`, bodiless answers without an empty value): read per outcome.
    outcomes: tuple[Outcome, ...] = ()
    result_type: TypeRef | None = None

    @property
    def pascal_name(self) -> str:
        return pascal(self.operation_id)

    @property
    def idempotent(self) -> bool:
        return self.method in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE")

    def params_in(self, location: str) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == location)

    @property
    def links(self) -> tuple[Link, ...]:
        return tuple(link for r in self.responses if r.status.startswith("2") for link in r.links)

    @property
    def has_result(self) -> bool:
        return self.result is not None or bool(self.outcomes)


@dataclass(frozen=True)
class TokenEndpoint:
    """The OAuth 2.0 client-credentials endpoint clients use to get and renew tokens."""

    url: str  # a path relative to the base URL, or an absolute URL
    pointer: str


@dataclass(frozen=True)
class Api:
    title: str
    version: str
    description: str
    server_url: str
    operations: tuple[Operation, ...]
    models: tuple[ModelDef, ...]
    aliases: tuple[AliasDef, ...]
    token: TokenEndpoint | None
    schemas: dict[str, ModelDef | AliasDef] = field(default_factory=dict)
    naming: Naming = field(default_factory=lambda: Naming("api_client", "Api", True))
    warnings: tuple[Problem, ...] = ()

    def model(self, name: str) -> ModelDef | None:
        found = self.schemas.get(name)
        return found if isinstance(found, ModelDef) else None

    def operation(self, operation_id: str) -> Operation | None:
        return next((op for op in self.operations if op.operation_id == operation_id), None)


def load_api(spec_path: str | Path, package_name: str | None = None, client_name: str | None = None) -> Api:
    """Read the spec at `spec_path`; constructs a client cannot express are in `Api.warnings`."""
    from uapi.codegen.builder import ApiBuilder
    from uapi.codegen.spec import load_document

    return ApiBuilder(load_document(spec_path), package_name, client_name).build()


def api_from_text(text: str, package_name: str | None = None, client_name: str | None = None) -> Api:
    from uapi.codegen.builder import ApiBuilder
    from uapi.codegen.spec import parse_document

    return ApiBuilder(parse_document(text), package_name, client_name).build()
