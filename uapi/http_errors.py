"""Every failure the server can produce, answered with the contract's error body.

Domain errors (:class:`UapiError`), Connexion's problems (auth, content type), Starlette's
routing errors and anything unexpected all end here, so there is exactly one place that
decides what an error looks like on the wire: `{"error": {"code", "message"}}`, or an RFC
6749 body for the operations whose `x-error-schema` is the OAuthError schema (/oauth/token).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from uapi.errors import UapiError, error_body
from uapi.json_bodies import json_body
from uapi.spec_core import HTTP_METHODS
from uapi.store.faults import database_unavailable, one_line, unavailable_error

log = logging.getLogger("uapi.errors")

CODES_BY_STATUS = {
    400: "request_invalid",
    401: "access_denied",
    403: "access_denied",
    404: "resource_not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "content_type_invalid",
}
OAUTH_CODES_BY_STATUS = {401: "invalid_client", 500: "server_error", 503: "temporarily_unavailable"}
# RFC 6749 §5.2 codes a failure may carry itself (the spec's `x-error-code` of a form field).
OAUTH_CODES = frozenset({"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                         "unsupported_grant_type", "invalid_scope"})
BEARER_CHALLENGE = 'Bearer realm="uapi"'


OAUTH_ERROR_SCHEMA = "#/components/schemas/OAuthError"


@dataclass(frozen=True)
class _Resource:
    pattern: re.Pattern[str]
    specificity: tuple[int, ...]
    methods: list[str]
    oauth_errors: bool   # its operations answer errors with the OAuthError schema (x-error-schema)
    body_types: tuple[str, ...]   # the media types its request bodies take


class SpecPaths:
    """The spec's resources as concrete paths name them: the methods each allows (for a correct
    `Allow` header and 405s) and which error body its operations answer.

    A path can match several templates (`/{userId}/simple` and `/{userId}/{extension}`). As
    OpenAPI says, a concrete path wins over a templated one: at the first segment where two
    matching templates differ, the one with a literal there is the resource the path names.
    `HEAD` comes with `GET` (the router answers it).
    """

    def __init__(self, paths: dict[str, Any]) -> None:
        self._resources = []
        for template, item in paths.items():
            segments = template.strip("/").split("/")
            pattern = "^/" + "/".join("[^/]+" if _is_param(seg) else re.escape(seg) for seg in segments) + "$"
            operations = [op for method, op in item.items() if method in HTTP_METHODS and isinstance(op, dict)]
            methods = [m.upper() for m in HTTP_METHODS if m in item]
            if "GET" in methods and "HEAD" not in methods:
                methods.append("HEAD")
            self._resources.append(_Resource(
                re.compile(pattern), tuple(1 if _is_param(seg) else 0 for seg in segments), sorted(methods),
                any(op.get("x-error-schema") == OAUTH_ERROR_SCHEMA for op in operations),
                tuple(dict.fromkeys(media for op in operations for media in (op.get("requestBody") or {}).get("content", {})))))

    def _resource(self, path: str) -> _Resource | None:
        matches = [resource for resource in self._resources if resource.pattern.match(path)]
        return min(matches, key=lambda resource: resource.specificity) if matches else None

    def methods_for(self, path: str) -> list[str]:
        """The methods of the resource `path` names; empty when it names none."""
        resource = self._resource(path)
        return resource.methods if resource else []

    def oauth_errors(self, path: str) -> bool:
        """Whether `path` names a resource whose errors are RFC 6749 bodies; a path that names
        none gets the API's own error body."""
        resource = self._resource(path)
        return resource.oauth_errors if resource else False

    def body_types(self, path: str) -> tuple[str, ...]:
        resource = self._resource(path)
        return resource.body_types if resource else ()


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def uapi_error_for(exc: Exception, path: str, paths: SpecPaths) -> UapiError:
    """The contract's view of any exception raised while serving `path`."""
    if isinstance(exc, UapiError):
        return exc
    if isinstance(exc, MultiPartException):
        # Starlette's form parser refusing a body (too many fields or files, malformed
        # multipart): the client's fault, never a 500. The edge limits usually answer first.
        return UapiError(400, "request_invalid", "The form body is malformed or too large.")
    if database_unavailable(exc):
        log.warning("database unavailable serving %s: %s", path, one_line(exc))
        return unavailable_error()
    if isinstance(exc, ProblemException):
        status, headers = exc.status, dict(exc.headers or {})
        message = _problem_message(exc, paths.body_types(path))
    elif isinstance(exc, HTTPException):
        status, headers = exc.status_code, dict(exc.headers or {})
        message = {404: f"No resource at {path}.", 405: "This method is not allowed here."}.get(status, str(exc.detail))
    else:
        log.error("unexpected failure serving %s", path, exc_info=exc)
        return UapiError(500, "internal_server_error", "The server failed to answer this request.")
    if status == 401:
        headers["WWW-Authenticate"] = _challenge(exc)
        message = "A valid access token is required (Authorization: Bearer <token>)."
    if status == 405:
        headers["Allow"] = ", ".join(paths.methods_for(path))
    if status >= 500:
        log.error("server problem serving %s: %r", path, exc)
        return UapiError(500, "internal_server_error", "The server failed to answer this request.")
    return UapiError(status, CODES_BY_STATUS.get(status, "request_invalid"), message, headers)


def _problem_message(exc: ProblemException, body_types: tuple[str, ...]) -> str:
    if exc.status == 415:
        return f"The request body must be {' or '.join(body_types) or 'absent'}."
    if exc.status == 403:
        return "The token does not allow this request."
    if exc.status == 400 and str(exc.detail or "").startswith("RequestBody is required"):
        return "A request body is required."
    # Connexion's own details can quote schema text; keep them out of the answer.
    return exc.title or "The request is invalid."


def _challenge(exc: Exception) -> str:
    detail = str(getattr(exc, "detail", "") or "")
    if "No authorization token provided" in detail or "Missing" in detail:
        return BEARER_CHALLENGE
    return f'{BEARER_CHALLENGE}, error="invalid_token"'


def render(error: UapiError, oauth: bool = False) -> ConnexionResponse:
    """`error` as the contract answers it: an RFC 6749 body (`oauth`, see SpecPaths.oauth_errors)
    or the API's own `{"error": {"code", "message"}}`."""
    if oauth:
        body: dict[str, Any] = {
            "error": error.code if error.code in OAUTH_CODES and error.status < 500
            else OAUTH_CODES_BY_STATUS.get(error.status, "invalid_request"),
            "error_description": error.message,
        }
        headers = {k: v for k, v in error.headers.items() if k != "WWW-Authenticate"}
    else:
        body, headers = error_body(error.code, error.message), error.headers
    return ConnexionResponse(status_code=error.status, mimetype="application/json",
                             body=json_body(body), headers=headers)


def exception_handler(paths: SpecPaths) -> Any:
    async def handle(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        # The scope's path, not `request.url`: building the URL decodes the raw query, which
        # may not be UTF-8, and the error handler must not fail itself.
        path = request.scope.get("path", "")
        return render(uapi_error_for(exc, path, paths), paths.oauth_errors(path))

    return handle


def handled_exceptions() -> Iterable[type[Exception]]:
    return (UapiError, ProblemException, HTTPException, Exception)
