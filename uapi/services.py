"""The services of one running server, reachable from handlers and security functions.

Connexion calls handlers and token-info functions by name, with no way to pass them the
app they serve; an outer middleware puts the app's :class:`Services` in a context variable
for the duration of each request.
"""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from uapi.accounts import Directory
from uapi.calls import CallService
from uapi.rate_limits import TokenRateLimiter
from uapi.settings import Settings
from uapi.store.port import Store
from uapi.switch import Switch
from uapi.tokens import TokenService


@dataclass
class Services:
    settings: Settings
    directory: Directory
    store: Store
    switch: Switch
    calls: CallService
    tokens: TokenService
    phonecall_fields: frozenset[str]
    token_limiter: TokenRateLimiter


_current: ContextVar[Services] = ContextVar("uapi_services")


def current() -> Services:
    return _current.get()


def bind(services: Services) -> object:
    return _current.set(services)


def unbind(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
