"""The Swagger UI middleware, which lets the API's requests pass without routing them."""
from __future__ import annotations

from typing import Any

from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from starlette.routing import BaseRoute, Mount


def _route_prefixes(route: BaseRoute, prefix: str = "") -> list[str] | None:
    """The literal path prefixes under which `route` (a Route or a Mount of them) can answer, or
    None when one of its paths has a parameter (no literal prefix to tell it by)."""
    path = str(getattr(route, "path", "{}"))
    if "{" in path:
        return None
    if isinstance(route, Mount):
        found: list[str] = [prefix + path]   # a Mount answers its own path and everything under it
        for child in route.routes:
            inner = _route_prefixes(child, prefix + path)
            if inner is None:
                return None
            found += inner
        return found
    return [prefix + path]


class PassThroughSwaggerUIMiddleware(SwaggerUIMiddleware):  # type: ignore[misc]
    """Connexion's Swagger UI middleware, which passes the API's requests on without routing them.

    Connexion runs every request through its Swagger UI router (each route's regular
    expression, a copy of the scope in a context variable) before the request reaches the
    next app, 14 us a list page. The router answers only paths that start with one of its
    routes' paths (the spec's JSON and YAML, the UI page, its redirect and its static files),
    or that do once a trailing slash is added or removed (its redirect). The router matches the
    path past `root_path`, a suffix of `scope["path"]`: a request whose path contains none of
    the routes' paths cannot reach any of them, and it goes on to the next app unchanged.
    Every other request takes Connexion's path. A route with a path parameter (none of
    Connexion 3.3's) would have no such prefix: the router then sees every request.
    """

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self._prefixes: tuple[str, ...] | None = ()

    def add_api(self, *args: Any, **kwargs: Any) -> None:
        super().add_api(*args, **kwargs)
        prefixes = [] if self._prefixes is None else list(self._prefixes)
        for route in self.router.routes:
            found = _route_prefixes(route)
            if found is None:
                self._prefixes = None
                return
            prefixes += [prefix for prefix in found if prefix]
        # A Mount at "" (an API served at the root) is not a prefix; its routes' paths are.
        # A path holding "/uapi/ui/index.html" holds "/uapi/ui": the shorter one is enough.
        self._prefixes = tuple(prefix for prefix in sorted(set(prefixes))
                               if not any(other != prefix and other in prefix for other in prefixes))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        prefixes = self._prefixes
        if prefixes is not None and scope["type"] == "http":
            path = scope["path"]
            for prefix in prefixes:
                if prefix in path:
                    break
            else:
                await self.app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
