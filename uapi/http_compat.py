"""The outermost ASGI layer: what the original clients need before routing, and body limits.

* Paths ending in a slash are served as they are, not redirected (those clients treat a
  307 as an error), so the slash is dropped before routing.
* `/oauth/token.php`, the original token path, is the same operation as `/oauth/token`.
* Bodies over the limit answer 413 without being read whole.
* The server's :class:`Services` are bound for the request (see `uapi.services`).
"""
from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uapi import services as services_module
from uapi.errors import UapiError
from uapi.http_errors import render

API_PREFIXES = ("/uapi/phoneCalls/", "/oauth/")
PATH_ALIASES = {"/oauth/token.php": "/oauth/token"}


def canonical_path(path: str) -> str:
    if path.startswith(API_PREFIXES) and len(path) > 1:
        path = path.rstrip("/") or "/"
    return PATH_ALIASES.get(path, path)


class CompatibilityMiddleware:
    def __init__(self, app: ASGIApp, services: Any, max_body_bytes: int) -> None:
        self.app = app
        self.services = services
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = canonical_path(scope["path"])
        if path != scope["path"]:
            scope = dict(scope, path=path, raw_path=path.encode())
        too_large = UapiError(413, "request_too_large", f"The request body is larger than {self.max_body_bytes} bytes.")
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _send_error(too_large, path, send)
            return
        token = services_module.bind(self.services)
        try:
            await self.app(scope, _limited(receive, self.max_body_bytes, too_large), send)
        finally:
            services_module.unbind(token)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _limited(receive: Receive, limit: int, error: UapiError) -> Receive:
    """A receive that raises once a chunked body passes the limit."""
    seen = 0

    async def receive_() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise error
        return message

    return receive_


async def _send_error(error: UapiError, path: str, send: Send) -> None:
    response = render(error, path)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(response.body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (response.headers or {}).items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
