"""`uapi serve --reload`: a real process picks up an edit of the spec it serves.

The server serves a copy of openapi/uapi.yaml in tmp_path (`--spec`), so the test can edit it
without touching the project. uvicorn's reloader runs the app in a child process, so the server
gets a process group of its own and the whole group is killed if anything goes wrong.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from uapi.spec_core import DEFAULT_SPEC

READY_TIMEOUT = 60.0    # seconds for the first answer
RELOAD_TIMEOUT = 30.0   # seconds for an edit to be served (watchfiles debounces ~1.6 s; startup takes a few)
STOP_TIMEOUT = 15.0
OPERATION = ("/uapi/phoneCalls/{userId}/simple", "post")
SUMMARY = "Place a simple phone call"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ReloadingServer:
    def __init__(self, spec: Path, workdir: Path) -> None:
        self.base_url = f"http://127.0.0.1:{free_port()}"
        self.log = workdir / "server.log"
        port = self.base_url.rsplit(":", 1)[1]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uapi.cli", "serve", "--reload", "--port", port, "--spec", str(spec),
                 "--database", f"sqlite:///{workdir / 'reload.db'}"],
                stdout=out, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def spec(self) -> dict[str, Any] | None:
        """The served document, or None while the (re)starting worker does not answer."""
        try:
            response = httpx.get(f"{self.base_url}/uapi/openapi.json", timeout=5)
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    def stop(self) -> None:
        """SIGTERM to the reloader, which stops its worker; then make sure the group is gone."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)   # a worker left behind, if any
        except ProcessLookupError:
            pass
        if self.process.poll() is None:
            self.process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "openapi"
    folder.mkdir()
    return Path(shutil.copy(DEFAULT_SPEC, folder / "uapi.yaml"))


@pytest.fixture
def server(spec_copy: Path, tmp_path: Path) -> Iterator[ReloadingServer]:
    running = ReloadingServer(spec_copy, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def served_summary(server: ReloadingServer, timeout: float, wanted: str) -> str | None:
    """Poll until the served summary of OPERATION is `wanted`; answer the last one seen."""
    deadline = time.monotonic() + timeout
    seen: str | None = None
    while time.monotonic() < deadline:
        assert server.process.poll() is None, f"uapi serve --reload exited:\n{server.output()}"
        document = server.spec()
        if document is not None:
            path, method = OPERATION
            seen = str(document["paths"][path][method]["summary"])
            if seen == wanted:
                return seen
        time.sleep(0.2)
    return seen


def test_an_edited_spec_is_served_without_a_restart(server: ReloadingServer, spec_copy: Path) -> None:
    assert served_summary(server, READY_TIMEOUT, SUMMARY) == SUMMARY, server.output()
    banner = server.output()
    assert "reload" in banner and str(spec_copy.parent) in banner, banner

    edited = f"{SUMMARY} (edited {uuid.uuid4().hex[:8]})"
    text = spec_copy.read_text(encoding="utf-8")
    assert text.count(f"summary: {SUMMARY}\n") == 1
    spec_copy.write_text(text.replace(f"summary: {SUMMARY}\n", f"summary: {edited}\n"), encoding="utf-8")

    assert served_summary(server, RELOAD_TIMEOUT, edited) == edited, server.output()
    assert "Reloading" in server.output()
    # The reloaded app is complete, not just its spec: the demo credentials still get a token.
    form = {"grant_type": "client_credentials", "client_id": "demo-user", "client_secret": "demo-user-secret"}
    response = httpx.post(f"{server.base_url}/oauth/token", data=form, timeout=10)
    assert response.status_code == 200, response.text

    server.stop()
    assert server.process.returncode in (0, -signal.SIGTERM), server.output()
    assert "Application shutdown complete" in server.output()
