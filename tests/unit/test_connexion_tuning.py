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


def test_the_server_builds_each_handler_stack_once(tmp_path):
    served = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    inner = served
    while not isinstance(inner, connexion.AsyncApp):
        inner = inner.app
    inner.middleware._build_middleware_stack()
    (api,) = inner._middleware_app.apis[""]   # base path "" -> the APIs added there
    operations = list(api.operations.values())
    assert len(operations) == 9
    assert all(isinstance(operation, connexion_tuning.CachedOperation) for operation in operations)
    assert operations[0].fn is operations[0].fn   # built once, kept
