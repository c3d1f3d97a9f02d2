"""The ASGI layers in front of Connexion, one job each, and the order they run in.

From the outside in:

1. :class:`ServedApp` binds the server's `Services` for the request (`uapi.services`).
2. :class:`CanonicalRequest` rewrites what the original clients send and the framework
   cannot take: a trailing slash, the old token path, a line feed in the path, raw
   non-ASCII bytes in the query.
3. :class:`MethodGuard` answers 405 with `Allow`, decided by the spec's paths.
4. :class:`FieldGuard` answers 400 for too many or too long query parameters.
5. :class:`BodyGuard` answers 400 for a bad Content-Length and 413 past the body limit, and
   reads a chunked body (within the limit) so that the validators see its length.
6. :class:`FormFieldGuard` answers 400 for too many or too long form fields.
7. :class:`ContentTypeGuard` drops or refuses a Content-Type that names no media type.

The guards (3 to 7) run in sequence in one ASGI layer (:class:`~uapi.middlewares.guard.Guards`),
each on the request as the one before left it. Each guard answers its refusal with the
contract's error body (`uapi.http_errors.render`, the one the addressed resource's operations
declare) before anything behind it runs.
"""
from __future__ import annotations

from starlette.types import ASGIApp

from uapi.field_limits import FieldLimits
from uapi.http_errors import SpecPaths
from uapi.middlewares.body import BodyGuard
from uapi.middlewares.canonical import CanonicalRequest
from uapi.middlewares.content_type import ContentTypeGuard
from uapi.middlewares.fields import FieldGuard, FormFieldGuard
from uapi.middlewares.guard import Guards
from uapi.middlewares.methods import MethodGuard
from uapi.middlewares.served_app import ServedApp
from uapi.services import Services

__all__ = ["ServedApp", "in_front_of"]


def in_front_of(app: ASGIApp, services: Services, paths: SpecPaths, max_body_bytes: int,
                field_limits: FieldLimits) -> ServedApp:
    """`app` behind every layer above, in that order (the guards, 3 to 7, in one layer)."""
    guards = Guards(app, paths, [
        MethodGuard(paths),
        FieldGuard(paths, field_limits),
        BodyGuard(paths, max_body_bytes),
        FormFieldGuard(paths, max_body_bytes, field_limits),
        ContentTypeGuard(paths),
    ])
    return ServedApp(CanonicalRequest(guards), services, paths)
