"""One Settings object for a server instance, filled from CLI flags and UAPI_* variables."""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from uapi import package_data

DEFAULT_SPEC = package_data.SPEC
DEMO_DIRECTORY = package_data.DEMO_DIRECTORY
# The checkout (tests, benchmarks); the server itself finds its files through the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def new_call_id() -> str:
    """20 lowercase hex characters, like the original service's ids."""
    return secrets.token_hex(10)


@dataclass(frozen=True)
class SipSettings:
    """Where the SIP switch listens and sends (`uapi serve --switch sip`)."""

    listen: tuple[str, int] = ("127.0.0.1", 5060)       # Kamailio: phones register and dial here
    trunk: tuple[str, int] | None = None                # where public numbers go
    engine: tuple[str, int] = ("127.0.0.1", 0)          # our 3pcc engine; 0 picks a free port
    proxy: tuple[str, int] | None = None                # an external Kamailio (then none is started)
    workdir: Path | None = None                         # Kamailio's config, pidfile and logs


@dataclass
class Settings:
    database_url: str = field(default_factory=lambda: os.environ.get("UAPI_DATABASE", "sqlite:///uapi.db"))
    directory_path: Path | None = field(
        default_factory=lambda: Path(os.environ["UAPI_DIRECTORY"]) if os.environ.get("UAPI_DIRECTORY") else None
    )
    spec_path: Path = DEFAULT_SPEC
    token_ttl_seconds: int = 3600
    max_body_bytes: int = 65536
    sweep_interval_seconds: float = 1.0
    sip: SipSettings | None = None  # None: the built-in simulated switch  # how often deadlines that passed are written down
    # Injected so tests can control time and ids exactly.
    clock: Callable[[], float] = time.time
    new_id: Callable[[], str] = new_call_id

    @property
    def uses_demo_directory(self) -> bool:
        return self.directory_path is None
