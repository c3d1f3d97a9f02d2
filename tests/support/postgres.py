"""A throwaway PostgreSQL server for the test session.

Uses UAPI_TEST_POSTGRES_URL when set (an existing server); otherwise runs initdb and
pg_ctl from the PostgreSQL binaries on this machine into a temporary directory, on a free
loopback port. PostgreSQL refuses to run as root, so as root the server runs as the
`postgres` user through runuser. Missing binaries are a failure, not a skip: the suite
promises that PostgreSQL is exercised.
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


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Yield a postgresql:// URL of a fresh, empty database; stop and delete it afterwards."""
    if os.environ.get("UAPI_TEST_POSTGRES_URL"):
        yield os.environ["UAPI_TEST_POSTGRES_URL"]
        return
    bin_dir = _binaries()
    root = Path(tempfile.mkdtemp(prefix="uapi-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        os.chmod(root, 0o755)
    port = free_port()
    run = lambda cmd: subprocess.run(_as_server_user(cmd), check=True, capture_output=True, text=True)  # noqa: E731
    try:
        run([str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"])
        run([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(root / "server.log"),
             "-o", f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200", "start"])
        url = f"postgresql://{USER}@127.0.0.1:{port}/postgres"
        _wait_until_ready(port)
        yield url
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr or exc.stdout}") from exc
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                           capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_ready(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"PostgreSQL did not listen on port {port} within {timeout}s")
