"""What the fault tests share: a real `uapi serve` process, clients that put it under load and
remember every answer, and the audit of what the server acknowledged.

The server is the tests' `ServerProcess` (tests/support/servers.py) with one change: its
output reaches the log file through a pipe the test process drains, because the disk-full tests
limit how far the server process may write into any file, its own log included.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import TEST_DIRECTORY
from tests.e2e.test_server_process import JSON_NO_BODY, bearer, token_from
from tests.support.servers import ServerProcess, free_port, uapi_command

EXTENSION = "0003*210"          # john's phone in tests/support/directory.yaml
CLIENTS = 8                     # concurrent clients of a load
REQUEST_TIMEOUT = 10.0


class PipedServer(ServerProcess):
    """`uapi serve --directory tests/support/directory.yaml --database URL`, output piped to `log`."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.own_session = False
        command = uapi_command("serve", "--host", "127.0.0.1", "--port", str(self.port),
                               "--directory", str(TEST_DIRECTORY), "--database", database_url)
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=log.parent,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._drain = threading.Thread(target=self._copy_output, daemon=True)
        self._drain.start()

    def _copy_output(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout as pipe, self.log.open("wb") as out:   # closed at the process's end
            for line in pipe:
                out.write(line)
                out.flush()

    def output(self) -> str:
        if self.process.poll() is not None:
            self._drain.join(timeout=5)   # everything the process wrote is in the log
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no checkpoint."""
        self.process.kill()
        self.process.wait(timeout=10)
        self._drain.join(timeout=5)

    def token(self) -> str:
        with self.client() as http:
            return token_from(http.post("/oauth/token", data={"grant_type": "client_credentials",
                                                              "client_id": "john", "client_secret": "john-secret"}))


def create_body(destination: str) -> dict[str, object]:
    return {"extension": "210", "phoneCallView": [{"destination": destination}]}


def call_path(call_id: str) -> str:
    return f"/uapi/phoneCalls/@me/{EXTENSION}/{call_id}"


@dataclass
class Answer:
    """One answer the server gave under load."""

    at: float                   # time.monotonic() when it arrived
    method: str
    status: int
    body: str
    retry_after: str | None


@dataclass
class Acknowledged:
    """What the server answered 2xx to: the writes it promised to keep, and every answer given."""

    created: set[str] = field(default_factory=set)
    hung_up: set[str] = field(default_factory=set)
    answers: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, answer: Answer, created: str | None = None, hung_up: str | None = None) -> None:
        with self.lock:
            self.answers.append(answer)
            if created:
                self.created.add(created)
            if hung_up:
                self.hung_up.add(hung_up)


class Load:
    """CLIENTS threads, each creating a call and hanging it up, over and over, until the block ends.

    A request the server never answered (connection refused or cut) is not acknowledged and
    is simply tried again; every answer is recorded in `acknowledged`.
    """

    def __init__(self, base_url: str, token: str, acknowledged: Acknowledged, clients: int = CLIENTS) -> None:
        self.base_url = base_url
        self.headers = bearer(token)
        self.acknowledged = acknowledged
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(clients)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
        assert not any(thread.is_alive() for thread in self.threads), "a load client hung"

    def _run(self, client: int) -> None:
        counter = 0
        with httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT) as http:
            while not self.stopping.is_set():
                counter += 1
                call_id = self._create(http, f"88{client}{counter:05d}")
                if call_id is not None and not self.stopping.is_set():
                    self._hang_up(http, call_id)

    def _send(self, http: httpx.Client, method: str, path: str, **kwargs: object) -> httpx.Response | None:
        try:
            return http.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError:
            time.sleep(0.05)   # the server is down or restarting: not an answer
            return None

    def _create(self, http: httpx.Client, destination: str) -> str | None:
        response = self._send(http, "POST", "/uapi/phoneCalls/@me/simple", json=create_body(destination),
                              headers=self.headers)
        if response is None:
            return None
        call_id = response.json()[0]["id"] if response.status_code == 200 else None
        self.acknowledged.add(answer_of(response), created=call_id)
        return call_id

    def _hang_up(self, http: httpx.Client, call_id: str) -> None:
        response = self._send(http, "DELETE", call_path(call_id), headers={**self.headers, **JSON_NO_BODY})
        if response is not None:
            self.acknowledged.add(answer_of(response), hung_up=call_id if response.status_code == 200 else None)


def answer_of(response: httpx.Response) -> Answer:
    return Answer(time.monotonic(), response.request.method, response.status_code, response.text,
                  response.headers.get("Retry-After"))


def audit(server: ServerProcess, token: str, acknowledged: Acknowledged) -> None:
    """Every acknowledged create is found and every acknowledged hang-up reads as ended."""
    assert acknowledged.created, "the load acknowledged no create: nothing was audited"
    with server.client() as http:
        for call_id in sorted(acknowledged.created):
            response = http.get(call_path(call_id), headers={**bearer(token), **JSON_NO_BODY})
            assert response.status_code == 200, f"acknowledged call {call_id} lost: {response.status_code} {response.text}"
            (call,) = response.json()["entry"]
            assert call["id"] == call_id
            if call_id in acknowledged.hung_up:
                assert "ended" in call, f"acknowledged hang-up of {call_id} lost: {call}"


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `condition` until it holds; answer how long that took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout}s")
