"""The outermost ASGI layer: what the original clients need before routing, and body limits.

* Paths ending in a slash are served as they are, not redirected (those clients treat a
  307 as an error), so the slash is dropped before routing.
* `/oauth/token.php`, the original token path, is the same operation as `/oauth/token`.
* A method the addressed resource does not have answers 405 with its `Allow`, decided by
  the spec's paths with OpenAPI's precedence (`/{userId}/simple` is not an extension named
  "simple"), before the router can send the request to a templated path instead.
* Bodies over the limit answer 413 without being read whole; a chunked body (no
  Content-Length) is read here, within the limit, and handed on with its length.
* Too many or too long query parameters and form fields answer 400 before any parser sees
  them (see `uapi.field_limits`); a form body is read here, within the body limit, to count.
* Bytes the framework cannot handle never reach it: a raw non-ASCII query is percent-encoded,
  a line feed in the path becomes U+FFFD, a non-ASCII Content-Type is dropped from a
  bodiless request and answers 415 otherwise.
* The server's :class:`Services` are bound for the request (see `uapi.services`).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote, quote_from_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uapi import services as services_module
from uapi.errors import UapiError
from uapi.field_limits import FieldLimits
from uapi.http_errors import AllowedMethods, render

API_PREFIXES = ("/uapi/phoneCalls/", "/oauth/")
PATH_ALIASES = {"/oauth/token.php": "/oauth/token"}
PATH_SAFE = "/@*:!$&'()+,;="
QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))  # printable ASCII stays as sent
FORM_MEDIA_TYPE = b"application/x-www-form-urlencoded"


def canonical_path(path: str) -> str:
    if path.startswith(API_PREFIXES) and len(path) > 1:
        path = path.rstrip("/") or "/"
    return PATH_ALIASES.get(path, path)


class CompatibilityMiddleware:
    def __init__(self, app: ASGIApp, services: Any, allowed: AllowedMethods, max_body_bytes: int,
                 field_limits: FieldLimits | None = None) -> None:
        self.app = app
        self.services = services
        self.allowed = allowed
        self.max_body_bytes = max_body_bytes
        self.field_limits = field_limits or FieldLimits(max_fields=100, max_field_bytes=4096)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = _canonical(scope)
        try:
            scope, receive = await self._admit(scope, receive)
        except UapiError as error:
            await _send_error(error, scope["path"], send)
            return
        token = services_module.bind(self.services)
        try:
            await self.app(scope, receive, send)
        finally:
            services_module.unbind(token)

    async def _admit(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        """The request as the app may see it, or the UapiError that answers it here."""
        path = scope["path"]
        allowed = self.allowed.for_path(path) if path.startswith(API_PREFIXES) else []
        if allowed and scope["method"] not in allowed:
            raise UapiError(405, "method_not_allowed", "This method is not allowed here.", {"Allow": ", ".join(allowed)})
        self.field_limits.check(scope.get("query_string", b""), "query parameters")
        too_large = UapiError(413, "request_too_large", f"The request body is larger than {self.max_body_bytes} bytes.")
        try:
            declared = _content_length(scope)
        except ValueError:
            raise UapiError(400, "request_invalid", "The Content-Length header is not a number of bytes.") from None
        if declared is not None and declared > self.max_body_bytes:
            raise too_large
        if declared is None and _header(scope, b"transfer-encoding") is not None:
            # A chunked body: the validators only read bodies with a Content-Length, so it is
            # read here (never past the limit) and handed on with its length.
            body = await _read_body(receive, self.max_body_bytes, too_large)
            scope, receive = _with_body(scope, receive, body)
            declared = len(body)
        content_type = _header(scope, b"content-type")
        if declared and content_type is not None and content_type.split(b";", 1)[0].strip().lower() == FORM_MEDIA_TYPE:
            body = await _read_body(receive, self.max_body_bytes, too_large)
            self.field_limits.check(body, "form fields")
            scope, receive = _with_body(scope, receive, body)
        if content_type is not None and not content_type.isascii():
            # Media types are ASCII; such a header names none. On a request without a body it
            # is noise (clients send a Content-Type on GET and DELETE) and is dropped.
            if declared:
                raise UapiError(415, "content_type_invalid", "The Content-Type header names no media type.")
            scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k != b"content-type"])
        return scope, receive


def _canonical(scope: Scope) -> Scope:
    # The router mounts the API with a `.*` pattern, which stops at a line feed: a path
    # carrying one (%0A) would be a 404 whatever it names. It becomes U+FFFD, which no path
    # parameter accepts either, so a bad parameter still answers 400 with its own code.
    path = canonical_path(scope["path"].replace("\n", "\ufffd"))
    if path != scope["path"]:
        scope = dict(scope, path=path, raw_path=quote(path, safe=PATH_SAFE, errors="surrogatepass").encode())
    query = scope.get("query_string", b"")
    if not query.isascii():
        # Raw bytes beyond ASCII in a query are percent-encoded, as a browser would send them,
        # so nothing downstream (URL building, parameter parsing) has to decode them.
        scope = dict(scope, query_string=quote_from_bytes(query, safe=QUERY_SAFE).encode())
    return scope


def _header(scope: Scope, name: bytes) -> bytes | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key == name:
            return value
    return None


def _content_length(scope: Scope) -> int | None:
    """The declared body size; None when there is none, ValueError when it is not a number."""
    value = _header(scope, b"content-length")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise ValueError(value)
    return int(value)


async def _read_body(receive: Receive, limit: int, too_large: UapiError) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _with_body(scope: Scope, receive: Receive, body: bytes) -> tuple[Scope, Receive]:
    headers = [(k, v) for k, v in scope.get("headers", []) if k not in (b"transfer-encoding", b"content-length")]
    headers.append((b"content-length", str(len(body)).encode()))
    sent = False

    async def receive_() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return dict(scope, headers=headers), receive_


async def _send_error(error: UapiError, path: str, send: Send) -> None:
    response = render(error, path)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(response.body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (response.headers or {}).items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
