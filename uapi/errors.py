"""The one error type of the domain and the one error body of the API.

Every failure under /uapi answers ``{"error": {"code": ..., "message": ...}}``; the
domain raises :class:`UapiError` and ``uapi.app`` maps framework failures onto it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class UapiError(Exception):
    """A failure with an HTTP status, a snake_case code and a human message."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def bad_request(code: str, message: str) -> UapiError:
    return UapiError(400, code, message)


def forbidden(message: str) -> UapiError:
    return UapiError(403, "access_denied", message)
