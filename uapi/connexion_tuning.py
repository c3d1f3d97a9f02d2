"""Per-request work of Connexion 3.3 that depends only on the operation, done once instead.

Measured with bench/bench_server.py (cpu/req) and a profile of the request path, three things
Connexion rebuilds on every request although nothing in them changes between requests:

* `AsyncOperation.fn` is a property: each request builds a new decorator around the handler;
* that decorator wraps the handler again (parameter and response decorators, each inspecting
  the handler's signature) and builds a new URI parser from the operation's parameters;
* the security handlers inspect the token-info function's signature, twice per request.

`install(app)` swaps in subclasses that keep these per operation (each operation object
serves exactly one operation, so nothing is shared between operations). Requests take the
same path through the same Connexion code otherwise. These are Connexion internals: the range
pinned in pyproject.toml is the one checked, by tests/unit/test_connexion_tuning.py.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.decorators import StarletteDecorator
from connexion.decorators.parameter import AsyncParameterDecorator, pythonic
from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
    RequestValidationOperation,
)
from connexion.security import SECURITY_HANDLERS, AbstractSecurityHandler

# Connexion converts every parameter name (camelCase to snake_case through `inflection`, three
# regular expressions) on every request, several times each. The names are the spec's and the
# request's query keys: a bounded cache answers each once (bounded: query keys come from clients).
pythonic_name = functools.lru_cache(maxsize=1024)(pythonic)


class NamingParameterDecorator(AsyncParameterDecorator):  # type: ignore[misc]
    """Connexion's parameter decorator with `pythonic` answered from `pythonic_name`."""

    def __init__(self, *, framework: Any, pythonic_params: bool = False) -> None:
        super().__init__(framework=framework, pythonic_params=pythonic_params)
        if pythonic_params:
            self.sanitize_fn = pythonic_name


class OnceDecorator(StarletteDecorator):  # type: ignore[misc]  # connexion ships no type information
    """Decorates its handler and builds its URI parser on the first request only."""

    @property
    def _parameter_decorator_cls(self) -> type[NamingParameterDecorator]:
        return NamingParameterDecorator

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._decorated: Callable[..., Any] | None = None
        self._uri_parser: Any = None

    def decorate(self, function: Callable[..., Any]) -> Callable[..., Any]:
        if self._decorated is None:
            self._decorated = super().decorate(function)
        return self._decorated

    @property
    def uri_parser(self) -> Any:
        if self._uri_parser is None:
            self._uri_parser = super().uri_parser
        return self._uri_parser


class CachedOperation(AsyncOperation):  # type: ignore[misc]
    @functools.cached_property
    def fn(self) -> Callable[..., Any]:
        decorated: Callable[..., Any] = OnceDecorator(pythonic_params=self.pythonic_params,
                                                      jsonifier=self.jsonifier)(self._fn)
        return decorated


class CachedOperationsApi(AsyncApi):  # type: ignore[misc]
    def make_operation(self, operation: Any) -> CachedOperation:
        cached: CachedOperation = CachedOperation.from_operation(operation, pythonic_params=self.pythonic_params,
                                                                 jsonifier=self.jsonifier)
        return cached


@functools.cache
def _accepts_kwarg(func: Callable[..., Any], keyword: str) -> bool:
    accepts: bool = AbstractSecurityHandler._accepts_kwarg(func, keyword)
    return accepts


def _remembering_signatures(handler: type[AbstractSecurityHandler]) -> type[AbstractSecurityHandler]:
    """`handler` with its signature check answered once per (function, keyword)."""
    return type(handler.__name__, (handler,), {"_accepts_kwarg": staticmethod(_accepts_kwarg)})


SECURITY_MAP = {scheme: _remembering_signatures(handler) for scheme, handler in SECURITY_HANDLERS.items()}


class OnceRequestValidationOperation(RequestValidationOperation):  # type: ignore[misc]
    """Request validation with its parameter validator (and URI parser) built once.

    Connexion builds both on every request. An operation without a requestBody has no media
    type to check and no body to validate (Connexion's own path finds an empty `consumes` and
    an empty body schema for it): only its parameters are validated. Operations with a body
    take Connexion's path, with the same validator.
    """

    @functools.cached_property
    def parameter_validator(self) -> Any:
        # Built at the first request, once every middleware has read the operation (Connexion
        # adds the path's parameters to it as each one does).
        uri_parser = self._operation.uri_parser_class(self._operation.parameters, self._operation.body_definition())
        return self._validator_map["parameter"](self._operation.parameters, uri_parser=uri_parser,
                                                strict_validation=self.strict_validation,
                                                security_query_params=self.security_query_params)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._operation.request_body:
            await super().__call__(scope, receive, send)
            return
        self.parameter_validator.validate(scope)
        await self.next_app(scope, receive, send)


class OnceRequestValidationAPI(RequestValidationAPI):  # type: ignore[misc]
    def make_operation(self, operation: Any) -> OnceRequestValidationOperation:
        return OnceRequestValidationOperation(self.next_app, operation=operation,
                                              strict_validation=self.strict_validation,
                                              validator_map=self.validator_map)


class OnceRequestValidationMiddleware(RequestValidationMiddleware):  # type: ignore[misc]
    api_cls = OnceRequestValidationAPI


def middlewares() -> list[Any]:
    """Connexion's default middleware stack (AsyncApp's `middlewares` option) with the tuned layers."""
    replacements = {RequestValidationMiddleware: OnceRequestValidationMiddleware}
    return [replacements.get(layer, layer) for layer in ConnexionMiddleware.default_middlewares]


def install(app: Any) -> None:
    """Make `app` (a connexion.AsyncApp, before add_api) keep each operation's handler stack."""
    app._middleware_app.api_cls = CachedOperationsApi
