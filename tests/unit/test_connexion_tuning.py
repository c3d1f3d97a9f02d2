"""The Connexion internals uapi.connexion_tuning relies on are still there and still used.

If a Connexion release renames or stops calling them, these fail instead of the tuning
silently doing nothing (or the server breaking at its first request).
"""
from __future__ import annotations

import connexion
from connexion.apps.asynchronous import AsyncOperation
from connexion.decorators import StarletteDecorator
from connexion.decorators.parameter import AsyncParameterDecorator, get_arguments
from connexion.decorators.response import BaseResponseDecorator
from connexion.middleware.context import ContextMiddleware
from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware, RequestValidationOperation
from connexion.security import SECURITY_HANDLERS, AbstractSecurityHandler
from connexion.uri_parsing import OpenAPIURIParser

from uapi import connexion_tuning
from uapi.app import create_app
from uapi.settings import Settings


def test_the_overridden_members_exist_where_the_tuning_expects_them():
    assert isinstance(AsyncOperation.__dict__["fn"], property)
    assert callable(StarletteDecorator.decorate)
    assert isinstance(StarletteDecorator.uri_parser, property)
    assert callable(AbstractSecurityHandler._accepts_kwarg)
    assert set(connexion_tuning.SECURITY_MAP) == set(SECURITY_HANDLERS)
    app = connexion.AsyncApp(__name__)
    assert app._middleware_app.api_cls.__name__ == "AsyncApi"
    assert isinstance(OpenAPIURIParser.__dict__["param_schemas"], property)
    assert isinstance(OpenAPIURIParser.__dict__["form_defns"], property)
    assert isinstance(BaseResponseDecorator.__dict__["_infer_content_type"], staticmethod)
    assert callable(AsyncParameterDecorator._maybe_get_body) and callable(get_arguments)
    assert isinstance(RequestValidationOperation.__dict__["security_query_params"], property)
    assert RequestValidationMiddleware in ConnexionMiddleware.default_middlewares
    assert connexion_tuning.OnceRequestValidationMiddleware in connexion_tuning.middlewares()
    assert RequestValidationMiddleware not in connexion_tuning.middlewares()


def _connexion_app(tmp_path):
    """The connexion.AsyncApp inside the served app, its middleware stack built."""
    inner = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    while not isinstance(inner, connexion.AsyncApp):
        inner = inner.app
    return inner


def _layer(tmp_path, kind):
    """The one layer of type `kind` in the app's middleware stack."""
    _app, stack = _connexion_app(tmp_path).middleware._build_middleware_stack()
    (layer,) = [layer for layer in stack if isinstance(layer, kind)]
    return layer


def test_the_server_builds_each_handler_stack_once(tmp_path):
    inner = _connexion_app(tmp_path)
    inner.middleware._build_middleware_stack()
    (api,) = inner._middleware_app.apis[""]   # base path "" -> the APIs added there
    operations = list(api.operations.values())
    assert len(operations) == 9
    assert all(isinstance(operation, connexion_tuning.CachedOperation) for operation in operations)
    assert operations[0].fn is operations[0].fn   # built once, kept


def test_swagger_ui_middleware_is_still_a_router_in_front_of_its_next_app():
    # Connexion 3.3: SwaggerUIMiddleware.add_api mounts each API's router (its routes: the spec's
    # JSON and YAML, the UI page, its redirect, its static files) on `self.router`, whose
    # default hands the request to `self.app`. PassThroughSwaggerUIMiddleware reads those routes.
    from connexion.middleware.swagger_ui import SwaggerUIMiddleware
    from starlette.routing import Router

    assert SwaggerUIMiddleware in ConnexionMiddleware.default_middlewares
    assert SwaggerUIMiddleware not in connexion_tuning.middlewares()
    middleware = SwaggerUIMiddleware(app=None)
    assert isinstance(middleware.router, Router)
    assert middleware.router.default == middleware.default_fn


def _swagger_middleware(tmp_path):
    return _layer(tmp_path, connexion_tuning.PassThroughSwaggerUIMiddleware)


def test_swagger_ui_passes_the_api_requests_on_and_routes_its_own(tmp_path):
    import asyncio

    from uapi.app import SPEC_URL, UI_PATH

    layer = _swagger_middleware(tmp_path)
    assert layer._prefixes == tuple(sorted({SPEC_URL, SPEC_URL.replace(".json", ".yaml"), UI_PATH}))
    passed, routed = [], []

    async def next_app(scope, receive, send):
        passed.append(scope)

    async def router(scope, receive, send):
        routed.append(scope["path"])

    layer.app, layer.router = next_app, router

    def scope(path, root_path=""):
        return {"type": "http", "method": "GET", "path": path, "root_path": root_path, "query_string": b"",
                "headers": []}

    api_request = scope("/uapi/phoneCalls/1/2")
    asyncio.run(layer(api_request, None, None))
    assert passed == [api_request] and passed[0] is api_request and routed == []
    ui_paths = [UI_PATH, UI_PATH + "/", UI_PATH + "/index.css", SPEC_URL, SPEC_URL + "/"]
    for path in ui_paths:
        asyncio.run(layer(scope(path), None, None))
    asyncio.run(layer(scope("/behind" + UI_PATH + "/", root_path="/behind"), None, None))
    assert routed == [*ui_paths, "/behind" + UI_PATH + "/"] and len(passed) == 1


def test_swagger_ui_routes_everything_when_a_route_has_a_parameter():
    from starlette.routing import Mount, Route

    def endpoint(request):
        return None

    assert connexion_tuning._route_prefixes(Mount("/x", routes=[Route("/{name}", endpoint=endpoint)])) is None
    assert connexion_tuning._route_prefixes(Mount("/x", routes=[Route("/y", endpoint=endpoint)])) == ["/x", "/x/y"]


def outcome(function, **given):
    try:
        return function(**given)
    except Exception as exc:   # both must fail alike (a value the type cannot take)
        return type(exc), str(exc)


def test_operation_arguments_match_connexions_get_arguments(tmp_path):
    import functools

    from connexion.decorators.parameter import inspect_function_arguments, unwrap_decorators

    (api,) = _layer(tmp_path, ContextMiddleware).apis[""]
    checked = 0
    for routed in api.operations.values():
        operation = routed.operation   # the spec's operation, which the decorators see
        arguments, _has_kwargs = inspect_function_arguments(unwrap_decorators(operation.function))
        ours = connexion_tuning.OperationArguments(operation)
        names = {param["in"]: [] for param in operation.parameters}
        for param in operation.parameters:
            names[param["in"]].append(param["name"])
        path_params = {name: "x1" for name in names.get("path", [])}
        query_sets = [{}, {name: "2" for name in names.get("query", [])}, {name: "true" for name in names.get("query", [])},
                      {name: 3 for name in names.get("query", [])[:1]}, {"notInSpec": "4"}]
        bodies = [None, {"action": "Hold"}] if operation.is_request_body_defined else [None]
        for query_params in query_sets:
            for body in bodies:
                for has_kwargs in (False, True):
                    for content_type in ("application/json", "application/x-www-form-urlencoded",
                                         "application/octet-stream"):
                        if operation.is_request_body_defined and content_type not in operation.consumes:
                            continue
                        given = dict(path_params=dict(path_params), query_params=dict(query_params), body=body,
                                     files={}, arguments=arguments, has_kwargs=has_kwargs,
                                     sanitize=connexion_tuning.pythonic_name, content_type=content_type)
                        assert outcome(ours, **given) == outcome(functools.partial(get_arguments, operation),
                                                                 **given), (operation.operation_id, given)
                        checked += 1
    assert checked > 50


def test_the_uri_parser_resolves_like_connexions(tmp_path):
    (api,) = _layer(tmp_path, ContextMiddleware).apis[""]
    samples = ["", "0", "20", "-3", "abc", "1.5", "true", "False", "null", "a,b", "0003*210"]
    checked = 0
    declared = {"type": "array", "items": {"type": "integer"}}
    extra = [{"name": "listed", "in": "query", "schema": declared},
             {"name": "nullable", "in": "query", "schema": {"type": "integer", "nullable": True}},
             {"name": "deep", "in": "query", "style": "deepObject", "schema": {"type": "object"}}]
    for routed in api.operations.values():
        operation = routed.operation
        for more in ([], extra[:2], extra):
            parameters = [*operation.parameters, *more]
            ours = connexion_tuning.OnceURIParser(parameters, operation.body_definition())
            theirs = OpenAPIURIParser(parameters, operation.body_definition())
            names = [param["name"] for param in parameters if param["in"] in ("query", "path")] + ["undeclared"]
            for sample in samples:
                query = {name: [sample, sample + "1"] if index % 2 else [sample]
                         for index, name in enumerate(names)}
                query["deep[a]"] = [sample]
                resolved = outcome(ours.resolve_query, query_data=dict(query))
                assert resolved == outcome(theirs.resolve_query, query_data=dict(query))
                if isinstance(resolved, dict):   # the same keys in the same order
                    assert list(resolved) == list(theirs.resolve_query(dict(query)))
                path = {name: sample for name in names}
                assert outcome(ours.resolve_path, path_data=dict(path)) == outcome(theirs.resolve_path,
                                                                                  path_data=dict(path))
                checked += 1
    assert checked > 100
