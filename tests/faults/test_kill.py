"""SIGKILL under load loses nothing the server acknowledged, on SQLite and on PostgreSQL.

CLIENTS clients create and hang up calls; at a moment drawn from a seeded generator the
server is killed with SIGKILL (no shutdown, no checkpoint, requests cut mid-flight). A new
server on the same database must start cleanly and find every call whose create was answered
200, and see as ended every call whose hang-up was answered 200. Requests the server never
answered are not audited: the client cannot know whether they happened, and neither do we.
"""
from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import fresh_postgres_database
from tests.faults.harness import Acknowledged, Load, PipedServer, audit

KILLS = 2                                   # kill rounds per store, each audited
SEED = int(os.environ.get("UAPI_FAULT_SEED", "11"))
LOAD_BEFORE_KILL = (0.5, 2.0)               # seconds of load before the kill, drawn per round


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kill.db'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_server"))


def test_sigkill_under_load_keeps_every_acknowledged_write(start_server: Callable[[str], PipedServer],
                                                           database: str) -> None:
    moments = random.Random(SEED)
    acknowledged = Acknowledged()
    server = start_server(database)
    token = server.token()
    for round_ in range(KILLS):
        delay = moments.uniform(*LOAD_BEFORE_KILL)
        with Load(server.base_url, token, acknowledged):
            time.sleep(delay)
            server.kill()
        assert server.process.returncode == -9
        server = start_server(database)   # waits until it answers, failing with its output otherwise
        audit(server, token, acknowledged)
        context = f"seed {SEED}, round {round_}, killed after {delay:.2f}s"
        assert "Traceback" not in server.output(), f"{context}:\n{server.output()}"
        unexpected = [a for a in acknowledged.answers if a.status not in (200, 204)]
        assert not unexpected, f"{context}: {unexpected[:5]}"
    assert len(acknowledged.created) >= 10 and acknowledged.hung_up, (len(acknowledged.created), SEED)
    server.stop()
