"""405 with `Allow` for a method the addressed resource does not have.

Decided from the spec's paths with OpenAPI's precedence (`/{userId}/simple` is not an
extension named "simple", see `uapi.http_errors.SpecPaths`), before the router could
send the request on to a templated path that happens to have the method.
"""
from __future__ import annotations

from starlette.types import Receive, Scope

from uapi.errors import UapiError
from uapi.middlewares.canonical import API_PREFIXES
from uapi.middlewares.guard import Guard


class MethodGuard(Guard):
    async def admit(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        path = scope["path"]
        allowed = self.paths.methods_for(path) if path.startswith(API_PREFIXES) else []
        if allowed and scope["method"] not in allowed:
            raise UapiError(405, "method_not_allowed", "This method is not allowed here.", {"Allow": ", ".join(allowed)})
        return scope, receive
