"""Every failure the server can produce, answered with the contract's error body.

Domain errors (:class:`UapiError`), Connexion's problems (auth, content type), Starlette's
routing errors and anything unexpected all end here, so there is exactly one place that
decides what an error looks like on the wire: `{"error": {"code", "message"}}` under
/uapi, an RFC 6749 body under /oauth.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from uapi.errors import UapiError, error_body
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


class AllowedMethods:
    """The methods the spec allows on a concrete path, for a correct `Allow` header and 405s.

    A path can match several templates (`/{userId}/simple` and `/{userId}/{extension}`). As
    OpenAPI says, a concrete path wins over a templated one: at the first segment where two
    matching templates differ, the one with a literal there is the resource the path names,
    and its methods alone are allowed. `HEAD` comes with `GET` (the router answers it).
    """

    def __init__(self, paths: dict[str, Any]) -> None:
        self._templates = []
        for template, item in paths.items():
            segments = template.strip("/").split("/")
            pattern = "^/" + "/".join("[^/]+" if _is_param(seg) else re.escape(seg) for seg in segments) + "$"
            specificity = tuple(1 if _is_param(seg) else 0 for seg in segments)
            methods = [m.upper() for m in HTTP_METHODS if m in item]
            if "GET" in methods and "HEAD" not in methods:
                methods.append("HEAD")
            self._templates.append((re.compile(pattern), specificity, sorted(methods)))

    def for_path(self, path: str) -> list[str]:
        """The methods of the resource `path` names; empty when it names none."""
        matches = [(specificity, methods) for pattern, specificity, methods in self._templates
                   if pattern.match(path)]
        return min(matches)[1] if matches else []


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def uapi_error_for(exc: Exception, path: str, allowed: AllowedMethods) -> UapiError:
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
        message = _problem_message(exc, path)
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
        headers["Allow"] = ", ".join(allowed.for_path(path))
    if status >= 500:
        log.error("server problem serving %s: %r", path, exc)
        return UapiError(500, "internal_server_error", "The server failed to answer this request.")
    return UapiError(status, CODES_BY_STATUS.get(status, "request_invalid"), message, headers)


def _problem_message(exc: ProblemException, path: str) -> str:
    if exc.status == 415:
        if path.startswith("/oauth"):
            return "The request body must be application/x-www-form-urlencoded."
        return "The request body must be application/json."
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


def render(error: UapiError, path: str) -> ConnexionResponse:
    if path.startswith("/oauth"):
        body: dict[str, Any] = {
            "error": error.code if error.code in OAUTH_CODES and error.status < 500
            else OAUTH_CODES_BY_STATUS.get(error.status, "invalid_request"),
            "error_description": error.message,
        }
        headers = {k: v for k, v in error.headers.items() if k != "WWW-Authenticate"}
    else:
        body, headers = error_body(error.code, error.message), error.headers
    return ConnexionResponse(status_code=error.status, mimetype="application/json",
                             body=json.dumps(body).encode(), headers=headers)


def exception_handler(allowed: AllowedMethods) -> Any:
    async def handle(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        # The scope's path, not `request.url`: building the URL decodes the raw query, which
        # may not be UTF-8, and the error handler must not fail itself.
        path = request.scope.get("path", "")
        return render(uapi_error_for(exc, path, allowed), path)

    return handle


def handled_exceptions() -> Iterable[type[Exception]]:
    return (UapiError, ProblemException, HTTPException, Exception)
