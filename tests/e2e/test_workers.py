"""End to end: `uapi serve --workers 2` on PostgreSQL.

Two worker processes share the listening socket the CLI bound; which worker served a connection
is read from /proc (the worker holding the connection's socket), so nothing is added to the API
for it. Concurrent hang-ups go through both workers and still have exactly one winner per call;
SIGTERM to the server stops every process it started.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import fresh_postgres_database
from tests.e2e.test_server_process import (
    JSON_NO_BODY,
    bearer,
    issue_tokens,
    place_call,
    write_directory,
)
from tests.support.servers import STOP_TIMEOUT, ServerProcess, running_server

WORKERS = 2
CONCURRENT = 50


def children(pid: int) -> list[int]:
    """Every descendant of `pid` (Linux /proc)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except FileNotFoundError:
            continue
        for child in map(int, text.split()):
            found += [child, *children(child)]
    return found


def running(pid: int) -> bool:
    """Whether `pid` is a process that still runs (a zombie has ended, only its exit status waits)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def established_inodes(port: int) -> set[str]:
    """Inodes of the server side of established TCP connections to `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":   # 01: ESTABLISHED
                found.add(fields[9])
    return found


def serving_pids(server: ServerProcess) -> dict[int, int]:
    """For each process of the server: how many established connections of its port it holds."""
    connections = established_inodes(server.port)
    return {pid: len(socket_inodes(pid) & connections) for pid in children(server.process.pid)}


@pytest.fixture
def workers_server(tmp_path: Path, postgres_server: str) -> Iterator[ServerProcess]:
    directory = write_directory(tmp_path / "directory.yaml")
    database = fresh_postgres_database(postgres_server)
    # A session of its own: stopping the fixture's server reaches the workers too, whatever the test left.
    # --keep-alive 60: each test connection idles at a barrier until all are open, which on a busy
    # machine can take longer than the default 5 s; a connection closed meanwhile is not counted.
    with running_server("--workers", str(WORKERS), "--directory", str(directory), "--database", database,
                        "--keep-alive", "60", workdir=tmp_path, own_session=True) as server:
        yield server


def all_at_once(count: int, request: Callable[[httpx.Client], httpx.Response], server: ServerProcess,
                seen: dict[int, int]) -> list[httpx.Response]:
    """`count` requests, each on its own connection, released together; adds to `seen` how many of
    those connections each server process held just before."""

    def count_holders() -> None:
        for pid, held in serving_pids(server).items():
            seen[pid] = seen.get(pid, 0) + held

    barrier = threading.Barrier(count, action=count_holders)
    base_url = server.base_url

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            http.get("/uapi/openapi.json")   # connect first, so the barrier releases requests, not handshakes
            barrier.wait(timeout=30)
            return request(http)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_two_workers_serve_hang_ups_with_one_winner_per_call_and_stop_on_sigterm(workers_server: ServerProcess) -> None:
    server = workers_server
    with server.client() as http:
        token = issue_tokens(http)["form"]
        call_ids = [place_call(http, token, "210", f"55501{i:02d}") for i in range(CONCURRENT)]
        contested = place_call(http, token, "211", "5559999")

    headers = {**bearer(token), **JSON_NO_BODY}
    ids = iter(call_ids)
    lock = threading.Lock()

    def hang_up_next(http: httpx.Client) -> httpx.Response:
        with lock:
            call_id = next(ids)
        return http.delete(f"/uapi/phoneCalls/@me/0003*210/{call_id}", headers=headers)

    seen: dict[int, int] = {}
    distinct = all_at_once(CONCURRENT, hang_up_next, server, seen)
    assert [r.status_code for r in distinct] == [200] * CONCURRENT, [r.text for r in distinct if r.status_code != 200]
    assert sorted(r.json()[0]["id"] for r in distinct) == sorted(call_ids)

    same = all_at_once(20, lambda http: http.delete(f"/uapi/phoneCalls/@me/0003*211/{contested}", headers=headers),
                       server, seen)
    assert sorted(r.status_code for r in same) == [200] + [204] * 19
    # The connections were spread by the kernel over both workers (each accept goes to one of them).
    assert len([pid for pid, held in seen.items() if held]) == WORKERS, seen
    assert sum(seen.values()) == CONCURRENT + 20, seen

    processes = [server.process.pid, *children(server.process.pid)]
    assert len(processes) >= 1 + WORKERS
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=STOP_TIMEOUT)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and any(map(running, processes)):
        time.sleep(0.1)
    assert not [pid for pid in processes if running(pid)], server.output()
    assert server.output().count("Application shutdown complete") == WORKERS, server.output()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/uapi/openapi.json", timeout=2)


def test_workers_answer_keep_alive_requests_without_the_delayed_ack_wait(workers_server: ServerProcess) -> None:
    # A listener without TCP_NODELAY (uvicorn's own --workers) makes every response written in two
    # pieces wait for the client's delayed ACK, ~40 ms each: 40 requests would take 1.6 s.
    with httpx.Client(base_url=workers_server.base_url, timeout=10) as http:
        http.get("/")
        started = time.perf_counter()
        for _ in range(40):
            assert http.get("/").status_code == 200
        elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"40 keep-alive requests took {elapsed:.2f} s"
