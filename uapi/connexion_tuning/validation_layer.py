"""The request validation middleware with its parameter validator built once per operation."""
from __future__ import annotations

import functools
from typing import Any

from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
    RequestValidationOperation,
)


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
