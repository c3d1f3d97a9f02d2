"""What every guard shares: look at a request, refuse it with the contract's error body or
pass it on (possibly changed)."""
from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from uapi.errors import UapiError
from uapi.http_errors import SpecPaths, render


class Guard:
    """One check of a request; `Guards` runs them."""

    def __init__(self, paths: SpecPaths) -> None:
        self.paths = paths   # the contract's paths and methods, for the guards that need them

    async def admit(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        """The request as the app behind may see it; raises the UapiError that answers it instead."""
        raise NotImplementedError


class Guards:
    """Guards run in sequence, in one ASGI layer: each admits the request as the one before
    left it; the first refusal answers (with the error body the path it saw takes), and the app
    behind sees the request as the last one left it. The same as nesting the guards, each in
    front of the next, without an ASGI call per guard on every request."""

    def __init__(self, app: ASGIApp, paths: SpecPaths, guards: list[Guard]) -> None:
        self.app = app
        self.paths = paths   # which error body a refusal takes
        self.guards = tuple(guards)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for guard in self.guards:
            try:
                scope, receive = await guard.admit(scope, receive)
            except UapiError as error:
                await send_error(error, self.paths.oauth_errors(scope["path"]), send)
                return
        await self.app(scope, receive, send)


def header(scope: Scope, name: bytes) -> bytes | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key == name:
            return value
    return None


async def send_error(error: UapiError, oauth: bool, send: Send) -> None:
    response = render(error, oauth)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(response.body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (response.headers or {}).items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def declared_length(scope: Scope) -> int:
    """The body size the request declares (BodyGuard, in front, made sure it is a number); 0 without one."""
    value = header(scope, b"content-length")
    return int(value) if value is not None and value.strip().isdigit() else 0
