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
from typing import Any, Iterable

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from uapi.errors import UapiError, error_body

log = logging.getLogger("uapi.errors")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CODES_BY_STATUS = {
    400: "request_invalid",
    401: "access_denied",
    403: "access_denied",
    404: "resource_not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "content_type_invalid",
}
OAUTH_CODES_BY_STATUS = {401: "invalid_client", 500: "server_error"}
BEARER_CHALLENGE = 'Bearer realm="uapi"'


class AllowedMethods:
    """The methods the spec allows on a concrete path, for a correct `Allow` header.

    Connexion answers a 405 with the methods of the first route matching the path; a path
    can match several templates (`/{userId}/simple` and `/{userId}/{extension}`), so the
    answer is the union over every template that matches.
    """

    def __init__(self, paths: dict[str, Any]) -> None:
        self._templates = [
            (re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"),
             [m.upper() for m in HTTP_METHODS if m in item])
            for template, item in paths.items()
        ]

    def for_path(self, path: str) -> list[str]:
        methods: set[str] = set()
        for pattern, allowed in self._templates:
            if pattern.match(path):
                methods.update(allowed)
        return sorted(methods)


def uapi_error_for(exc: Exception, path: str, allowed: AllowedMethods) -> UapiError:
    """The contract's view of any exception raised while serving `path`."""
    if isinstance(exc, UapiError):
        return exc
    if isinstance(exc, ProblemException):
        status, headers = exc.status, dict(exc.headers or {})
        message = _problem_message(exc)
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


def _problem_message(exc: ProblemException) -> str:
    if exc.status == 415:
        return "The request body must be application/json."
    if exc.status == 403:
        return "The token does not allow this request."
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
            "error": OAUTH_CODES_BY_STATUS.get(error.status, "invalid_request"),
            "error_description": error.message,
        }
        headers = {k: v for k, v in error.headers.items() if k != "WWW-Authenticate"}
    else:
        body, headers = error_body(error.code, error.message), error.headers
    return ConnexionResponse(status_code=error.status, mimetype="application/json",
                             body=json.dumps(body).encode(), headers=headers)


def exception_handler(allowed: AllowedMethods) -> Any:
    async def handle(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        path = request.url.path
        return render(uapi_error_for(exc, path, allowed), path)

    return handle


def handled_exceptions() -> Iterable[type[Exception]]:
    return (UapiError, ProblemException, HTTPException, Exception)
