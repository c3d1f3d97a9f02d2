"""A throwaway PostgreSQL server for the test session.

Uses UAPI_TEST_POSTGRES_URL when set (an existing server); otherwise runs initdb and
pg_ctl from the PostgreSQL binaries on this machine into a temporary directory, on a free
loopback port. PostgreSQL refuses to run as root, so as root the server runs as the
`postgres` user through runuser. Missing binaries are a failure, not a skip: the suite
promises that PostgreSQL is exercised. The fault tests take a LocalPostgres of their own
(`local_postgres`), which they stop and start again under load.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import free_port

USER = "uapi"


def _binaries() -> Path:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql "
                       "(Debian: apt-get install postgresql) or set UAPI_TEST_POSTGRES_URL")


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class LocalPostgres:
    """A PostgreSQL server of our own in a temporary directory, which a test may stop and start
    again (the fault tests restart it under load); `url` stays the same across restarts."""

    def __init__(self) -> None:
        self.bin_dir = _binaries()
        self.root = Path(tempfile.mkdtemp(prefix="uapi-pg-"))
        self.data = self.root / "data"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            os.chmod(self.root, 0o755)
        self.port = free_port()
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *args)

    def _run(self, *command: str) -> None:
        try:
            subprocess.run(_as_server_user(list(command)), check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"{Path(command[0]).name} failed: {exc.stderr or exc.stdout}") from exc

    def init(self) -> None:
        self._run(str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8",
                  "--no-sync")

    def start(self) -> None:
        self._pg_ctl("-w", "-t", "60", "-l", str(self.root / "server.log"),
                     "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=200", "start")
        _wait_until_ready(self.port)

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session at once (clients see their connections dropped) and waits."""
        self._pg_ctl("-w", "-t", "60", "-m", mode, "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(_as_server_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                                            "stop"]), capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def local_postgres() -> Iterator[LocalPostgres]:
    """A running LocalPostgres, always our own (never UAPI_TEST_POSTGRES_URL); removed afterwards."""
    server = LocalPostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Yield a postgresql:// URL of a fresh, empty database; stop and delete it afterwards."""
    if os.environ.get("UAPI_TEST_POSTGRES_URL"):
        yield os.environ["UAPI_TEST_POSTGRES_URL"]
        return
    with local_postgres() as server:
        yield server.url


def _wait_until_ready(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"PostgreSQL did not listen on port {port} within {timeout}s")
