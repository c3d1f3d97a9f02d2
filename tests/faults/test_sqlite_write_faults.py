"""SQLite that cannot write: writes answer 503, reads go on, and nothing is half-written.

How the fault is made: the kernel's per-process file size limit (RLIMIT_FSIZE), set on the
running server with prlimit(2). A write(2) that would put a byte at or past the limit fails
(EFBIG; Python ignores the SIGXFSZ that comes with it), exactly where a full disk fails a write
with ENOSPC: SQLite sees its write refused and rolls the transaction back. Unlike chmod, the
limit binds root as well (CI runs as root, and root ignores file permissions); unlike a small
loop-mounted or tmpfs filesystem, or a read-only remount, it needs no privilege, so the same
test runs on a developer's machine and in CI. Two faults are made with it:

* disk full: the limit is the current size of the write-ahead log, which every commit extends.
  As on a full disk, no file may grow, yet space already allocated may be overwritten.
* read-only: the limit is 0, so every write fails, as on a filesystem remounted read-only
  under a running server (the files stay open; each write(2) fails).

The server's output goes through a pipe (see harness.PipedServer), which the limit does not
bind. After the fault is lifted, the same server writes again, and a fresh one reads the same
consistent state: each call once, with its member rows agreeing on whether it ended.
"""
from __future__ import annotations

import resource
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_server_process import JSON_NO_BODY, bearer
from tests.faults.harness import EXTENSION, PipedServer, call_path, create_body


@contextmanager
def file_size_limit(pid: int, limit: int) -> Iterator[None]:
    """Cap how far process `pid` may write into any file, then restore its old limit."""
    old = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, old[1]))
    try:
        yield
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, old)


def create(http: httpx.Client, token: str, destination: str) -> httpx.Response:
    return http.post("/uapi/phoneCalls/@me/simple", json=create_body(destination), headers=bearer(token))


def hang_up(http: httpx.Client, token: str, call_id: str) -> httpx.Response:
    return http.delete(call_path(call_id), headers={**bearer(token), **JSON_NO_BODY})


def read(http: httpx.Client, token: str, path: str) -> httpx.Response:
    return http.get(path, headers={**bearer(token), **JSON_NO_BODY})


def live_ids(http: httpx.Client, token: str) -> list[str]:
    response = read(http, token, f"/uapi/phoneCalls/@me/{EXTENSION}")
    assert response.status_code in (200, 204), response.text
    return [call["id"] for call in response.json()["entry"]] if response.status_code == 200 else []


def assert_unavailable(response: httpx.Response, code_at: Callable[[object], object]) -> None:
    assert response.status_code == 503, response.text
    assert code_at(response.json()) in ("service_unavailable", "temporarily_unavailable"), response.text
    assert int(response.headers["Retry-After"]) > 0


def stored_calls(database: Path) -> dict[str, tuple[bool, list[bool]]]:
    """Every call of the database file: whether it ended, and whether each of its member rows did."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        calls = {call_id: (ended is not None, []) for call_id, ended in db.execute("SELECT id, ended FROM calls")}
        for call_id, ended in db.execute("SELECT call_id, ended FROM call_members"):
            assert call_id in calls, f"member row of a call that does not exist: {call_id}"
            calls[call_id][1].append(ended is not None)
    return calls


def assert_consistent(calls: dict[str, tuple[bool, list[bool]]]) -> None:
    for call_id, (ended, members) in calls.items():
        assert members and all(member == ended for member in members), (call_id, ended, members)


@pytest.mark.parametrize("fault", ["disk_full", "read_only"])
def test_sqlite_that_cannot_write_answers_503_keeps_reads_and_writes_nothing_half(
        start_server: Callable[[str], PipedServer], tmp_path: Path, fault: str) -> None:
    database = tmp_path / "faults.db"
    server = start_server(f"sqlite:///{database}")
    token = server.token()
    with server.client() as http:
        live = create(http, token, "8880001").json()[0]["id"]
        ended = create(http, token, "8880002").json()[0]["id"]
        assert hang_up(http, token, ended).status_code == 200
        before = stored_calls(database)
        assert_consistent(before)

        wal = Path(f"{database}-wal").stat().st_size
        assert wal > 0, "no write-ahead log to fill: the two faults would be the same"
        with file_size_limit(server.process.pid, wal if fault == "disk_full" else 0):
            assert_unavailable(create(http, token, "8880003"), lambda body: body["error"]["code"])  # type: ignore[index]
            assert_unavailable(hang_up(http, token, live), lambda body: body["error"]["code"])  # type: ignore[index]
            assert_unavailable(http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "john",
                                                               "client_secret": "john-secret"}),
                               lambda body: body["error"])  # type: ignore[index]
            # Reads go on: the live call is still live, the ended one still ended.
            assert live_ids(http, token) == [live]
            response = read(http, token, call_path(ended))
            assert response.status_code == 200 and "ended" in response.json()["entry"][0], response.text
            assert stored_calls(database) == before, "a refused write left something behind"

        # Lifted: the same server writes again, and nothing of the refused requests appears.
        assert stored_calls(database) == before
        assert live_ids(http, token) == [live]
        assert hang_up(http, token, live).status_code == 200
        after = create(http, token, "8880004")
        assert after.status_code == 200, after.text
    output = server.output()
    assert "Traceback" not in output and "database unavailable" in output, output
    server.stop()

    fresh = start_server(f"sqlite:///{database}")
    with fresh.client() as http:
        assert live_ids(http, token) == [after.json()[0]["id"]]
        for call_id in (live, ended):
            response = read(http, token, call_path(call_id))
            assert response.status_code == 200 and "ended" in response.json()["entry"][0], response.text
    calls = stored_calls(database)
    assert_consistent(calls)
    assert set(calls) == {live, ended, after.json()[0]["id"]}
