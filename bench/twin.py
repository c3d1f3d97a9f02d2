"""The benchmark's twin: the list and hang-up-by-id routes on bare Starlette, no Connexion.

It builds the same :class:`uapi.services.Services` as the real server (`uapi.app.build_services`),
checks the bearer token with ``services.tokens.verify``, resolves user and extension with the
same scope functions and calls the same domain operations (``services.calls.list_live``,
``services.calls.hang_up``), answering the same bodies, and runs the same deadline sweeper
(``uapi.app.sweep_forever``). What it leaves out is everything Connexion adds: spec routing,
parameter validation, security handlers, the request/response lifecycle objects, and the
server's compatibility middleware. The throughput gap between the two is the price of the
spec-first framework layer.

Not a server to deploy: it serves only the two routes the benchmark drives, and trusts
`count`/`startIndex` to be valid integers.
"""
from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from uapi.accounts import Directory, Principal, resolve_extensions, resolve_user
from uapi.app import build_services, services_lifespan
from uapi.errors import UapiError
from uapi.filters import list_query
from uapi.settings import Settings
from uapi.spec_core import load_spec

UNAUTHORIZED = UapiError(401, "access_denied", "A valid access token is required (Authorization: Bearer <token>).")


def create_twin(settings: Settings, directory: Directory) -> Starlette:
    services = build_services(settings, directory, load_spec(settings.spec_path))

    async def principal(request: Request) -> Principal:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UNAUTHORIZED
        found = await services.tokens.verify(token.strip())
        if found is None:
            raise UNAUTHORIZED
        return found

    def present(request: Request, doc: dict[str, Any]) -> dict[str, Any]:
        call = dict(doc["call"])
        base = f"{request.url.scheme}://{request.url.netloc}"
        call["links"] = {"self": f"{base}/uapi/phoneCalls/{doc['userId']}/{call['extension']}/{call['id']}"}
        return call

    async def scope(request: Request) -> list:
        found = await principal(request)
        user_id, extension = request.path_params["userId"], request.path_params["extension"]
        user = resolve_user(services.directory, found, user_id, extension)
        return resolve_extensions(services.directory, user, extension)

    async def list_phone_calls(request: Request) -> Response:
        try:
            extensions = await scope(request)
            start = int(request.query_params.get("startIndex", 0))
            query = list_query(None, None, None, None, start, int(request.query_params.get("count", 20)))
            total, docs = await services.calls.list_live(extensions, query)
        except UapiError as exc:
            return _error(exc)
        if total == 0:
            return Response(status_code=204)
        entry = [present(request, doc) for doc in docs]
        return JSONResponse({"startIndex": start, "itemsPerPage": len(entry), "totalResults": total, "entry": entry})

    async def hang_up_phone_call(request: Request) -> Response:
        try:
            extensions = await scope(request)
            hung_up = await services.calls.hang_up(extensions, request.path_params["phoneCallId"],
                                                   request.query_params.get("phoneNumber"))
        except UapiError as exc:
            return _error(exc)
        if not hung_up:
            return Response(status_code=204)
        return JSONResponse([present(request, doc) for doc in hung_up])

    app = Starlette(routes=[
        Route("/uapi/phoneCalls/{userId}/{extension}", list_phone_calls, methods=["GET"]),
        Route("/uapi/phoneCalls/{userId}/{extension}/{phoneCallId}", hang_up_phone_call, methods=["DELETE"]),
    ], lifespan=services_lifespan(services))  # same store and sweeper as the server
    return app


def _error(exc: UapiError) -> Response:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers or None)
