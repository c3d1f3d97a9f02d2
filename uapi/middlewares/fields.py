"""400 for too many or too long query parameters and form fields, before any parser sees them
(the parsers downstream are not linear in the number of fields; see `uapi.field_limits`)."""
from __future__ import annotations

from starlette.types import Receive, Scope

from uapi.errors import UapiError
from uapi.field_limits import FieldLimits
from uapi.http_errors import SpecPaths
from uapi.middlewares.body import read_body, with_body
from uapi.middlewares.guard import Guard, declared_length, header

FORM_MEDIA_TYPE = b"application/x-www-form-urlencoded"


class FieldGuard(Guard):
    """The query string's parameters."""

    def __init__(self, paths: SpecPaths, limits: FieldLimits) -> None:
        super().__init__(paths)
        self.limits = limits

    async def admit(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        self.limits.check(scope.get("query_string", b""), "query parameters")
        return scope, receive


class FormFieldGuard(Guard):
    """A form body's fields: the body is read here (BodyGuard, in front, bounds its size)."""

    def __init__(self, paths: SpecPaths, max_body_bytes: int, limits: FieldLimits) -> None:
        super().__init__(paths)
        self.max_body_bytes = max_body_bytes
        self.limits = limits

    async def admit(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        content_type = header(scope, b"content-type")
        if content_type is None or content_type.split(b";", 1)[0].strip().lower() != FORM_MEDIA_TYPE:
            return scope, receive
        if not declared_length(scope):
            return scope, receive
        too_large = UapiError(413, "request_too_large", f"The request body is larger than {self.max_body_bytes} bytes.")
        body = await read_body(receive, self.max_body_bytes, too_large)
        self.limits.check(body, "form fields")
        return with_body(scope, receive, body)
