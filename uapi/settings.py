"""One Settings object for a server instance, filled from CLI flags and UAPI_* variables."""
from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from uapi import package_data
from uapi.spec_core import DEFAULT_SPEC

DEMO_DIRECTORY = package_data.DEMO_DIRECTORY
# The checkout (tests, benchmarks); the server itself finds its files through the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


DEFAULT_RETENTION_DAYS = 30.0   # how long ended calls stay readable (see uapi.retention)


def retention_from_environment() -> float:
    return float(os.environ.get("UAPI_RETENTION_DAYS") or DEFAULT_RETENTION_DAYS)


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


@dataclass(frozen=True)
class EdgeLimits:
    """What one request and one client may cost the server before anything else runs.

    Defaults are generous for the original clients (a handful of parameters, one token an hour)
    and tight enough that a client without a token cannot hold the event loop or the
    descriptors: see README, `uapi serve`.
    """

    max_fields: int = 100                   # query parameters of a request, and fields of a form body
    max_field_bytes: int = 4096             # one encoded name=value pair
    max_header_bytes: int = 16384           # request line and headers together (431 beyond)
    header_timeout_seconds: float = 10.0    # from a request's first byte (or the connection) to its last header
    keep_alive_seconds: float = 5.0         # an idle keep-alive connection is closed after this
    max_connections: int = 1000             # open connections; more are answered 503 and closed
    token_rate_per_client: str = "30/minute"   # /oauth/token attempts naming one client_id
    token_rate_per_address: str = "120/minute"  # /oauth/token attempts from one address
    max_live_tokens: int = 100              # unexpired tokens of one client; the oldest is revoked first


@dataclass
class Settings:
    database_url: str = field(default_factory=lambda: os.environ.get("UAPI_DATABASE", "sqlite:///uapi.db"))
    directory_path: Path | None = field(
        default_factory=lambda: Path(os.environ["UAPI_DIRECTORY"]) if os.environ.get("UAPI_DIRECTORY") else None
    )
    spec_path: Path = DEFAULT_SPEC
    token_ttl_seconds: int = 3600
    max_body_bytes: int = 65536
    # Ended calls are purged this many days after they ended; 0 keeps them forever.
    retention_days: float = field(default_factory=retention_from_environment)
    limits: EdgeLimits = field(default_factory=lambda: EdgeLimits())
    demo: bool = False  # the demo directory may serve on a non-loopback address (`uapi serve --demo`)
    sweep_interval_seconds: float = 1.0
    sip: SipSettings | None = None  # None: the built-in simulated switch  # how often deadlines that passed are written down
    # Injected so tests can control time and ids exactly.
    clock: Callable[[], float] = time.time
    new_id: Callable[[], str] = new_call_id

    @property
    def uses_demo_directory(self) -> bool:
        return self.directory_path is None
