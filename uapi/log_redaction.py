"""Tokens never reach the logs: uvicorn's access log writes each request's path with its
query, and `accessRequestToken=<token>` is a credential.

A filter on the `uvicorn.access` logger rewrites the path argument of each record before any
handler formats it, so every handler and format (the default one, a JSON one configured
with --log-config) sees the redacted query.
"""
from __future__ import annotations

import logging
from urllib.parse import unquote_plus

ACCESS_LOGGER = "uvicorn.access"
TOKEN_PARAMETER = "accessrequesttoken"
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` with the value of every query parameter named accessRequestToken replaced.

    Names are compared decoded (`access%52equestToken` is the same parameter to the server)
    and regardless of case, to err on the side of hiding.
    """
    path, sep, query = text.partition("?")
    if not sep:
        return text
    pairs = query.split("&")
    for index, pair in enumerate(pairs):
        name, equals, _value = pair.partition("=")
        if equals and unquote_plus(name).lower() == TOKEN_PARAMETER:
            pairs[index] = f"{name}={REDACTED}"
    return f"{path}?{'&'.join(pairs)}"


class TokenRedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def redact_access_log() -> None:
    """Install the filter once per process (create_app may run many times in tests)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, TokenRedactingFilter) for existing in logger.filters):
        logger.addFilter(TokenRedactingFilter())
