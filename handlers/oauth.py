"""Handlers of the OAuth tag: client-credentials tokens (RFC 6749 §4.4)."""
from __future__ import annotations

import base64
from typing import Any

from connexion import request

from uapi.services import current

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
OAuthReply = tuple[dict[str, Any], int, dict[str, str]]   # body, status, headers


def _oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> OAuthReply:
    return {"error": error, "error_description": description}, status, {**NO_STORE, **(headers or {})}


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8 once decoded
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


async def issue_token(body: dict[str, Any] | None = None) -> OAuthReply:
    form = body or {}
    basic = _basic_credentials(request.headers.get("authorization"))
    client_id, client_secret = basic or (form.get("client_id"), form.get("client_secret"))
    if form.get("grant_type") is None:
        return _oauth_error(400, "invalid_request", "grant_type is required.")
    if form["grant_type"] != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "Only the client_credentials grant is supported.")
    services = current()
    address = request.scope.get("client")
    wait = await services.token_limiter.retry_after(address[0] if address else None, str(client_id or "") or None)
    if wait is not None:
        return _oauth_error(429, "temporarily_unavailable", f"Too many token requests; retry in {wait} s.",
                            {"Retry-After": str(wait)})
    if not client_id or client_secret is None:
        return _oauth_error(401, "invalid_client", "Client credentials are required (form or HTTP Basic).",
                            {"WWW-Authenticate": 'Basic realm="uapi"'})
    app = await services.tokens.authenticate(str(client_id), str(client_secret))
    if app is None:
        return _oauth_error(401, "invalid_client", "Unknown client or wrong secret.",
                            {"WWW-Authenticate": 'Basic realm="uapi"'})
    token = await services.tokens.issue(app)
    answer = {"access_token": token, "token_type": "Bearer", "expires_in": services.settings.token_ttl_seconds}
    return answer, 200, NO_STORE
