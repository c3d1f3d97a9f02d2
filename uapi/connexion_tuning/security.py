"""The security handlers with their signature checks answered once (AsyncApp's `security_map`)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from connexion.security import SECURITY_HANDLERS, AbstractSecurityHandler


@functools.cache
def _accepts_kwarg(func: Callable[..., Any], keyword: str) -> bool:
    accepts: bool = AbstractSecurityHandler._accepts_kwarg(func, keyword)
    return accepts


def _remembering_signatures(handler: type[AbstractSecurityHandler]) -> type[AbstractSecurityHandler]:
    """`handler` with its signature check answered once per (function, keyword)."""
    return type(handler.__name__, (handler,), {"_accepts_kwarg": staticmethod(_accepts_kwarg)})


SECURITY_MAP = {scheme: _remembering_signatures(handler) for scheme, handler in SECURITY_HANDLERS.items()}
