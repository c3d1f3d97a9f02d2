"""A Content-Type that names no media type (media types are ASCII) is never handed on.

On a request without a body it is noise (clients send a Content-Type on GET and DELETE) and
is dropped; with a body it answers 415.
"""
from __future__ import annotations

from starlette.types import Receive, Scope

from uapi.errors import UapiError
from uapi.middlewares.guard import Guard, declared_length, header


class ContentTypeGuard(Guard):
    async def admit(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        content_type = header(scope, b"content-type")
        if content_type is None or content_type.isascii():
            return scope, receive
        if declared_length(scope):
            raise UapiError(415, "content_type_invalid", "The Content-Type header names no media type.")
        return dict(scope, headers=[(k, v) for k, v in scope["headers"] if k != b"content-type"]), receive
