"""Fixtures of the fault tests: servers started on a database and killed at the end, whatever happened."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import postgres_server  # noqa: F401  (a session fixture the tests name)
from tests.faults.harness import PipedServer


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[[str], PipedServer]]:
    """Start `uapi serve` on a database URL and wait until it answers."""
    servers: list[PipedServer] = []

    def start(database_url: str) -> PipedServer:
        server = PipedServer(database_url, tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        server.wait_ready()
        return server

    try:
        yield start
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.kill()
