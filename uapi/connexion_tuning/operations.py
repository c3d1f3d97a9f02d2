"""Each operation's handler stack (decorators and URI parser) built once, and `install`."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.decorators import StarletteDecorator

from uapi.connexion_tuning.arguments import OperationParameterDecorator, OperationResponseDecorator


class OnceDecorator(StarletteDecorator):  # type: ignore[misc]  # connexion ships no type information
    """Decorates its handler and builds its URI parser on the first request only."""

    @property
    def _parameter_decorator_cls(self) -> type[OperationParameterDecorator]:
        return OperationParameterDecorator

    @property
    def _response_decorator_cls(self) -> type[OperationResponseDecorator]:
        return OperationResponseDecorator

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


def install(app: Any) -> None:
    """Make `app` (a connexion.AsyncApp, before add_api) keep each operation's handler stack."""
    app._middleware_app.api_cls = CachedOperationsApi
