"""The outermost layer: the server's `Services`, bound for each request.

Connexion calls handlers and token-info functions by name, with no way to hand them the app
they serve, so they find the services in a context variable (`uapi.services.current`).
"""
from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from uapi import services as services_module
from uapi.http_errors import SpecPaths
from uapi.services import Services


class ServedApp:
    def __init__(self, app: ASGIApp, services: Services, paths: SpecPaths) -> None:
        self.app = app
        self.services = services
        self.paths = paths   # for what answers before the app (uapi.edge_protocol)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = services_module.bind(self.services)
        try:
            await self.app(scope, receive, send)
        finally:
            services_module.unbind(token)
