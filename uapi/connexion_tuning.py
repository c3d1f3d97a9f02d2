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
from connexion.security import SECURITY_HANDLERS, AbstractSecurityHandler


class OnceDecorator(StarletteDecorator):  # type: ignore[misc]  # connexion ships no type information
    """Decorates its handler and builds its URI parser on the first request only."""

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


def install(app: Any) -> None:
    """Make `app` (a connexion.AsyncApp, before add_api) keep each operation's handler stack."""
    app._middleware_app.api_cls = CachedOperationsApi
