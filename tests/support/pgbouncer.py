"""A PgBouncer of our own in front of a test PostgreSQL, in transaction pooling mode.

The configuration goes to a temporary directory and PgBouncer listens on a free loopback port
(no Unix socket). Like PostgreSQL, PgBouncer refuses to run as root, so as root it runs as the
`postgres` user (the one tests/support/postgres.py runs the server as). A missing binary is a
failure, not a skip: CI installs it (.ci/missing-packages).

`default_pool_size` is kept small on purpose: with fewer server connections than clients, the
transactions of one client land on different server connections, which is exactly what breaks
a client that keeps state on "its" connection (prepared statements, SET, advisory locks).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.support.servers import LOOPBACK, free_port

READY_TIMEOUT = 15.0   # seconds for PgBouncer to accept a connection
POOL_SIZE = 4          # server connections per database and user


def _binary() -> str:
    found = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if found is None:
        raise RuntimeError("pgbouncer not found; install it (Debian: apt-get install pgbouncer)")
    return found


def config(*, port: int, server_host: str, server_port: int, folder: Path, pool_size: int = POOL_SIZE) -> str:
    """pgbouncer.ini: every database of the server, transaction pooling, no authentication
    (loopback only; the test server trusts its clients as well)."""
    return "\n".join([
        "[databases]",
        f"* = host={server_host} port={server_port}",
        "[pgbouncer]",
        f"listen_addr = {LOOPBACK}",
        f"listen_port = {port}",
        "unix_socket_dir =",
        "auth_type = trust",
        f"auth_file = {folder / 'userlist.txt'}",
        "pool_mode = transaction",
        f"default_pool_size = {pool_size}",
        "max_client_conn = 500",
        f"logfile = {folder / 'pgbouncer.log'}",
        f"pidfile = {folder / 'pgbouncer.pid'}",
        "",
    ])


class PgBouncer:
    """`pgbouncer` in transaction mode in front of the PostgreSQL at `server_url`; `url(database)`
    is the same user and database through the bouncer."""

    def __init__(self, server_url: str, *, pool_size: int = POOL_SIZE) -> None:
        parts = urlsplit(server_url)
        self.user = parts.username or "postgres"
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="uapi-pgbouncer-"))
        # trust still looks the user up in auth_file. Clients are not asked for the password; PgBouncer
        # gives it to the server when it logs in (a UAPI_TEST_POSTGRES_URL server may want one).
        password = (parts.password or "").replace('"', '""')
        (self.folder / "userlist.txt").write_text(f'"{self.user}" "{password}"\n')
        (self.folder / "pgbouncer.ini").write_text(config(
            port=self.port, server_host=parts.hostname or LOOPBACK, server_port=parts.port or 5432,
            folder=self.folder, pool_size=pool_size))
        self._server_url = server_url
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database_url: str) -> str:
        """`database_url` (a database of the server) with the bouncer's port instead of the server's."""
        parts = urlsplit(database_url)
        netloc = f"{parts.username}@{LOOPBACK}:{self.port}" if parts.username else f"{LOOPBACK}:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def start(self) -> None:
        unprivileged = os.geteuid() == 0
        if unprivileged:
            shutil.chown(self.folder, "postgres")   # its log and pid file
        self.process = subprocess.Popen(
            [_binary(), str(self.folder / "pgbouncer.ini")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            user="postgres" if unprivileged else None, group="postgres" if unprivileged else None,
            extra_groups=[] if unprivileged else None)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited with {self.process.returncode}: {self.log()}")
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"pgbouncer did not listen on port {self.port} within {READY_TIMEOUT}s: {self.log()}")

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)   # a safe shutdown in every version (SIGTERM's meaning changed in 1.23)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def running_pgbouncer(server_url: str, *, pool_size: int = POOL_SIZE) -> Iterator[PgBouncer]:
    """A started PgBouncer in front of `server_url`, stopped and removed afterwards."""
    bouncer = PgBouncer(server_url, pool_size=pool_size)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
