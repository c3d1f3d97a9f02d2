"""End to end: the simulated switch's lifecycle on real `uapi serve` processes, in real time.

The directory's `simulator` block makes parties answer after one second, one number busy and
one number never answering; deadlines are a second or two, polled with bounded loops.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.e2e.test_server_process import bearer, issue_tokens, start_server, stop_gracefully  # noqa: F401
from tests.support.servers import ServerProcess

SIMULATED = {
    "organizations": [{"id": "3", "name": "Lifecycle Org", "code": "0003"}],
    "users": [{"id": "12", "organization": "3", "name": "Lee"}, {"id": "13", "organization": "3", "name": "Kim"}],
    "extensions": [{"number": "210", "user": "12", "type": "phone_terminal"},
                   {"number": "220", "user": "13", "type": "phone_terminal"}],
    "apps": [{"clientId": "e2e-app", "clientSecret": "e2e-secret", "account": "organization:3"}],
    "simulator": {"answerDelay": 1, "busy": ["5550001"], "noAnswer": ["5550002"]},
}
POLL_SECONDS = 15.0


def start(start_server: Callable[..., ServerProcess], tmp_path: Path, database: str | None = None) -> ServerProcess:
    directory = tmp_path / "simulated.json"
    directory.write_text(json.dumps(SIMULATED))
    return start_server("--directory", str(directory), "--database", database or f"sqlite:///{tmp_path / 'calls.db'}")


def token(http: httpx.Client) -> str:
    response = http.post("/oauth/token", data={"grant_type": "client_credentials",
                                               "client_id": "e2e-app", "client_secret": "e2e-secret"})
    return response.json()["access_token"]


def create(http: httpx.Client, auth: dict, destination: str, query: str = "") -> dict:
    response = http.post(f"/uapi/phoneCalls/12/simple{query}", headers=auth,
                         json={"extension": "210", "phoneCallView": [{"destination": destination}]})
    assert response.status_code == 200, response.text
    return response.json()[0]


def wait_for(http: httpx.Client, auth: dict, call_id: str, done: Callable[[dict], bool]) -> dict:
    deadline = time.monotonic() + POLL_SECONDS
    while time.monotonic() < deadline:
        call = http.get(f"/uapi/phoneCalls/12/210/{call_id}", headers=auth).json()["entry"][0]
        if done(call):
            return call
        time.sleep(0.2)
    raise AssertionError(f"call {call_id} did not reach the expected state within {POLL_SECONDS}s: {call}")


def test_ringing_answer_busy_no_answer_and_duration_over_http(start_server, tmp_path):
    server = start(start_server, tmp_path)
    with server.client() as http:
        auth = {"Authorization": f"Bearer {token(http)}"}
        ringing = create(http, auth, "220")
        assert {v["status"] for v in ringing["phoneCallView"]} == {3, 4} and "answered" not in ringing
        answered = wait_for(http, auth, ringing["id"], lambda c: "answered" in c)
        assert {v["status"] for v in answered["phoneCallView"]} == {5}

        busy = create(http, auth, "5550001")
        assert (busy["endedBy"], busy["cause"]) == ("callee", "busy")

        unanswered = create(http, auth, "5550002", "?waitForPickup=1")
        ended = wait_for(http, auth, unanswered["id"], lambda c: "ended" in c)
        assert (ended["endedBy"], ended["cause"]) == ("system", "no_answer")

        short = create(http, auth, "8887777", "?callDuration=1")
        ended = wait_for(http, auth, short["id"], lambda c: "ended" in c)
        assert (ended["endedBy"], ended["cause"]) == ("system", "duration_limit")

        held = http.put(f"/uapi/phoneCalls/12/210/{ringing['id']}", headers=auth,
                        json={"action": "OnHold", "phoneCallViewId": "00"})
        assert held.status_code == 200 and held.json()["phoneCallView"][0]["holder"] == 1
        cancelled = create(http, auth, "5550002")
        response = http.delete(f"/uapi/phoneCalls/12/210/{cancelled['id']}", headers=auth)
        assert response.json()[0]["cause"] == "cancelled"


def test_deadlines_hold_across_processes_and_restarts(start_server, tmp_path):
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = start(start_server, tmp_path, database), start(start_server, tmp_path, database)
    with first.client() as a, second.client() as b:
        auth = {"Authorization": f"Bearer {token(a)}"}
        call = create(a, auth, "5550002", "?waitForPickup=2")
        stop_gracefully(first)  # the process that placed the call is gone before its deadline
        ended = wait_for(b, auth, call["id"], lambda c: "ended" in c)
        assert ended["cause"] == "no_answer"
        assert b.get("/uapi/phoneCalls/12/210", headers=auth).status_code == 204
    stop_gracefully(second)
    third = start(start_server, tmp_path, database)
    with third.client() as c:
        again = c.get(f"/uapi/phoneCalls/12/210/{call['id']}", headers=auth).json()["entry"][0]
        assert again["ended"] == ended["ended"] and again["cause"] == "no_answer"
