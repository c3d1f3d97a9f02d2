"""A mock HTTP server made from OpenAPI documents, for calling generated clients.

It reads the document itself (not the generator's model), so a generator bug
cannot hide in a shared misreading. Each document is served under its own
prefix (`/<key>/...`). A request is matched to an operation by method and
path template, checked (required parameters present, a JSON body that parses
and validates against the request schema) and answered with the operation's
success response: the spec's example when it validates against the response
schema, else a value made from the schema. Checks that fail answer 400 with the
reason, which the calling test reports.
"""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema.validators
import openapi_schema_validator
import referencing
import referencing.exceptions
import referencing.jsonschema

from tests.clients.schema_values import SchemaValues
from uapi.spec_core import HTTP_METHODS

DOC_URI = "urn:mock-document"


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str | None
    body: bytes


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: dict[str, Any]
    pointer: str
    answer: Answer


@dataclass
class MockDocument:
    """The routes of one document and how to check requests against it."""

    document: dict[str, Any]
    routes: list[Route] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.values = SchemaValues(self.document)
        self._validators: dict[tuple[str, bool], Any] = {}
        self._checkable: dict[str, bool] = {}
        self.v31 = str(self.document.get("openapi", "3.0")).startswith("3.1")
        resource = referencing.Resource.from_contents(self.document, referencing.jsonschema.DRAFT202012)
        self.registry: referencing.Registry[Any] = referencing.Registry().with_resource(DOC_URI, resource)
        for path, item in (self.document.get("paths") or {}).items():
            item = self.values.resolve(item)
            shared = item.get("parameters") or []
            for method in HTTP_METHODS:
                if method not in item:
                    continue
                operation = dict(item[method])
                operation["parameters"] = _merge_parameters(self.values, shared, operation.get("parameters") or [])
                pointer = "/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method
                self.routes.append(Route(method.upper(), _path_pattern(path), operation, pointer,
                                         self._answer(operation, pointer)))
        # Literal segments before templated ones, as OpenAPI asks (`/pets/mine` before `/pets/{id}`).
        self.routes.sort(key=lambda r: r.pattern.pattern.count("[^/]"))

    def valid(self, value: Any, pointer: str, *, reading: bool) -> str | None:
        """The first validation error of `value` against the schema at `pointer`, or None."""
        validator = self._validators.get((pointer, reading))
        if validator is None:
            # Built once per schema: a validator over a large document (Figma's, Star Trek's)
            # costs tens of milliseconds to build, far more than a validation.
            validator = self._validators[(pointer, reading)] = self._validator(pointer, reading)
        try:
            error = next(iter(validator.iter_errors(value)), None)
        except referencing.exceptions.Unresolvable:
            return None  # a discriminator mapping by bare schema name: not checked
        return None if error is None else f"{error.message} at {list(error.absolute_path)}"

    def _validator(self, pointer: str, reading: bool) -> Any:
        if self.v31:
            kind: Any = openapi_schema_validator.OAS31Validator
        else:
            kind = openapi_schema_validator.OAS30ReadValidator if reading else openapi_schema_validator.OAS30WriteValidator
        # oneOf read as anyOf: real documents' members overlap (objects of optional properties),
        # and a client sending a value that fits two members has done nothing wrong.
        kind = jsonschema.validators.extend(kind, {"oneOf": _any_of})
        return kind({"$ref": DOC_URI + "#" + pointer}, registry=self.registry,
                    format_checker=openapi_schema_validator.oas30_format_checker)

    def checkable(self, pointer: str, media_object: dict[str, Any]) -> bool:
        """Whether request values are validated against this schema: only when a value made from
        it passes, since some documents' schemas admit no value at all (allOf of a string and an
        integer, additionalProperties: false beside another member's properties)."""
        if pointer not in self._checkable:
            made = self.values.make(media_object.get("schema", {}), reading=False)
            self._checkable[pointer] = not isinstance(made, bytes) and self.valid(made, pointer, reading=False) is None
        return self._checkable[pointer]

    def _answer(self, operation: dict[str, Any], pointer: str) -> Answer:
        responses = operation.get("responses") or {}
        status_key = _success_key(responses)
        if status_key is None:
            return Answer(204, None, b"")
        status = 200 if status_key in ("default", "2XX", "2xx") else int(status_key)
        response = self.values.resolve(responses[status_key])
        content = response.get("content") or {}
        media = _pick_media(content)
        if media is None or status == 204:
            return Answer(status if status != 200 or media is not None else 204, None, b"")
        media_object = content[media]
        schema_pointer = f"{pointer}/responses/{_escape(status_key)}/content/{_escape(media)}/schema"
        value = self._value(media_object, schema_pointer, reading=True)
        if _is_json(media):
            return Answer(status, media, json.dumps(value).encode())
        if media.startswith("text/"):
            return Answer(status, media, str(value if isinstance(value, str) else "text").encode())
        return Answer(status, media, b"\x00\x01mock bytes")

    def _value(self, media_object: dict[str, Any], schema_pointer: str, *, reading: bool) -> Any:
        """The spec's example when it validates (real documents carry stale ones), else one made up."""
        schema = media_object.get("schema")
        candidates = []
        if "example" in media_object:
            candidates.append(media_object["example"])
        for example in (media_object.get("examples") or {}).values():
            example = self.values.resolve(example)
            if isinstance(example, dict) and "value" in example:
                candidates.append(example["value"])
        if schema is None:
            return candidates[0] if candidates else {}
        for candidate in candidates:
            if self.valid(candidate, schema_pointer, reading=reading) is None:
                return candidate
        return self.values.make(schema, reading=reading)

    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Answer:
        for route in self.routes:
            if route.method == method and route.pattern.fullmatch(path):
                problem = self._check(route, query, headers, body)
                if problem is not None:
                    return _problem(f"{route.pointer}: {problem}")
                return route.answer
        return _problem(f"no operation {method} {path}", 404)

    def _check(self, route: Route, query: str, headers: dict[str, str], body: bytes) -> str | None:
        names = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
        cookie = SimpleCookie(headers.get("cookie", ""))
        for parameter in route.operation["parameters"]:
            name, where = parameter.get("name", ""), parameter.get("in")
            if not parameter.get("required") or where == "path":
                continue
            schema = self.values.resolve(parameter.get("schema") or {})
            if where == "query" and schema.get("type") == "object" and parameter.get("explode", True):
                continue  # an exploded object sends its properties, not its name
            present = {"query": lambda n: n in names or any(k.startswith(n + "[") for k in names),
                       "header": lambda n: n.lower() in headers,
                       "cookie": lambda n: n in cookie}.get(str(where), lambda n: True)(name)
            if not present and not (where == "header" and name.lower() in ("accept", "content-type", "authorization")):
                return f"required {where} parameter {name!r} missing"
        request_body = self.values.resolve(route.operation.get("requestBody") or {})
        if not request_body:
            return None
        if request_body.get("required") and not body:
            return "required request body missing"
        content_type = headers.get("content-type", "").split(";")[0].strip()
        if body and _is_json(content_type):
            try:
                value = json.loads(body)
            except ValueError as exc:
                return f"request body is not JSON: {exc}"
            media = next((m for m in request_body.get("content") or {} if m.split(";")[0] == content_type), None)
            if media is not None and "schema" in request_body["content"][media]:
                pointer = f"{route.pointer}/requestBody/content/{_escape(media)}/schema"
                if self.checkable(pointer, request_body["content"][media]):
                    return self.valid(value, pointer, reading=False)
        return None


class MockServer:
    """A threaded HTTP server on 127.0.0.1 serving documents under `/<key>`."""

    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self.documents = {key: MockDocument(doc) for key, doc in documents.items()}
        self.requests = 0
        mocks = self.documents
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
            # Headers and body go in two writes: with Nagle on, the second waits out the
            # client's delayed ACK (~40 ms a call).
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                url = urlsplit(self.path)
                key, _, rest = url.path.lstrip("/").partition("/")
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                owner.requests += 1
                mock = mocks.get(key)
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    answer = (mock.handle(self.command, "/" + rest, url.query, headers, body) if mock is not None
                              else _problem(f"no document {key!r}", 404))
                except Exception as exc:  # noqa: BLE001 - the mock's own failure, reported to the caller
                    answer = _problem(f"mock failed: {type(exc).__name__}: {exc}", 500)
                self.send_response(answer.status)
                if answer.content_type is not None:
                    self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            do_GET = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_HEAD = do_PATCH = do_TRACE = _serve

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> MockServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _any_of(validator: Any, members: list[Any], instance: Any, schema: Any) -> Iterator[Any]:
    if not any(validator.evolve(schema=member).is_valid(instance) for member in members):
        yield jsonschema.ValidationError(f"{instance!r} is valid under no member of the oneOf")


def _merge_parameters(values: SchemaValues, shared: list[Any], own: list[Any]) -> list[dict[str, Any]]:
    merged = {(p["name"], p["in"]): p for p in (values.resolve(x) for x in shared)}
    merged.update({(p["name"], p["in"]): p for p in (values.resolve(x) for x in own)})
    return list(merged.values())


def _path_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def _success_key(responses: dict[str, Any]) -> str | None:
    keys = [str(k) for k in responses]
    explicit = sorted(k for k in keys if k.isdigit() and 200 <= int(k) < 300)
    # Prefer an explicit status with a body: the mock should give the client something to decode.
    with_body = [k for k in explicit if (responses[k] or {}).get("content") or "$ref" in (responses[k] or {})]
    for group in (with_body, explicit, [k for k in keys if k.upper() == "2XX"], [k for k in keys if k == "default"]):
        if group:
            return group[0]
    return None


def _pick_media(content: dict[str, Any]) -> str | None:
    if not content:
        return None
    for media in content:
        if _is_json(media):
            return media
    return next(iter(content))


def _is_json(media: str) -> bool:
    base = media.split(";")[0].strip().lower()
    return base == "application/json" or base.endswith("+json") or base == "*/*"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _problem(message: str, status: int = 400) -> Answer:
    return Answer(status, "application/json", json.dumps({"error": {"code": "mock", "message": message}}).encode())


def iter_routes(server: MockServer) -> Iterator[tuple[str, Route]]:
    for key, mock in server.documents.items():
        for route in mock.routes:
            yield key, route
