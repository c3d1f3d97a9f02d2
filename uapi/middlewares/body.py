"""Body size: 400 for a Content-Length that is not a number, 413 past the limit.

A body over the limit is refused without being read whole. A chunked body (no
Content-Length) is read here, never past the limit, and handed on with its length: the
validators behind only read bodies that declare one.
"""
from __future__ import annotations

from starlette.types import Message, Receive, Scope

from uapi.errors import UapiError
from uapi.http_errors import SpecPaths
from uapi.middlewares.guard import Guard, header


class BodyGuard(Guard):
    def __init__(self, paths: SpecPaths, max_body_bytes: int) -> None:
        super().__init__(paths)
        self.max_body_bytes = max_body_bytes

    async def admit(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        too_large = UapiError(413, "request_too_large", f"The request body is larger than {self.max_body_bytes} bytes.")
        declared = header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise UapiError(400, "request_invalid", "The Content-Length header is not a number of bytes.")
            if int(declared) > self.max_body_bytes:
                raise too_large
            return scope, receive
        if header(scope, b"transfer-encoding") is None:
            return scope, receive
        body = await read_body(receive, self.max_body_bytes, too_large)
        return with_body(scope, receive, body)


async def read_body(receive: Receive, limit: int, too_large: UapiError) -> bytes:
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


def with_body(scope: Scope, receive: Receive, body: bytes) -> tuple[Scope, Receive]:
    """The request with `body` already read: a Content-Length, and `receive` answering it once."""
    headers = [(k, v) for k, v in scope.get("headers", []) if k not in (b"transfer-encoding", b"content-length")]
    headers.append((b"content-length", str(len(body)).encode()))
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return dict(scope, headers=headers), receive_again
