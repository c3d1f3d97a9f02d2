"""PostgreSQL restarted under load: the server answers 503 through the outage and recovers alone.

CLIENTS clients create and hang up calls while PostgreSQL is stopped (`pg_ctl stop -m fast`,
which also ends every open session) and started again. During the outage every answer is 503
`service_unavailable` with the UAPI error body and `Retry-After`, never a 500 or a traceback;
once PostgreSQL is back, the same server process (never restarted) answers 2xx again within
RECOVERY seconds, and nothing it acknowledged before, during or after is lost.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.e2e.test_server_process import bearer
from tests.faults.harness import Acknowledged, Load, PipedServer, audit, create_body, wait_until
from tests.support.postgres import LocalPostgres, local_postgres

OUTAGE = 2.0        # seconds PostgreSQL stays down under load
RECOVERY = 5.0      # seconds the server may take to answer 2xx once PostgreSQL is back


@pytest.fixture
def postgres() -> Iterator[LocalPostgres]:
    with local_postgres() as server:   # our own: the session's server must not be restarted under other tests
        yield server


def test_postgres_restart_under_load_answers_503_then_recovers_without_a_server_restart(
        start_server: Callable[[str], PipedServer], postgres: LocalPostgres) -> None:
    server = start_server(postgres.url)
    pid = server.process.pid
    token = server.token()
    acknowledged = Acknowledged()
    with Load(server.base_url, token, acknowledged):
        time.sleep(1.0)
        postgres.stop("fast")
        down = time.monotonic()
        time.sleep(OUTAGE)
        postgres.start()
        up = time.monotonic()

        def creates() -> bool:
            with httpx.Client(base_url=server.base_url, timeout=5) as http:
                response = http.post("/uapi/phoneCalls/@me/simple", json=create_body("8880000"), headers=bearer(token))
                return response.status_code == 200

        recovered_in = wait_until(creates, RECOVERY, "no create answered 200 after PostgreSQL came back")
        time.sleep(0.5)   # the load, too, goes on succeeding

    assert server.process.poll() is None and server.process.pid == pid, server.output()
    during = [a for a in acknowledged.answers if down <= a.at <= up]
    unavailable = [a for a in acknowledged.answers if a.status == 503]
    assert unavailable and during, "the load saw no outage"
    for answer in acknowledged.answers:
        assert answer.status in (200, 204, 503), answer
    for answer in unavailable:
        assert json.loads(answer.body)["error"]["code"] == "service_unavailable", answer
        assert answer.retry_after is not None and int(answer.retry_after) > 0, answer
    assert [a for a in acknowledged.answers if a.at > up + recovered_in and a.status == 200], "the load did not recover"
    output = server.output()
    assert "Traceback" not in output, output
    audit(server, token, acknowledged)
    print(f"outage {up - down:.1f}s: {len(unavailable)} answers 503; 2xx again {recovered_in:.2f}s after the start")
