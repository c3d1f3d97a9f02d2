"""`uapi serve --reload`: a real process picks up an edit of the spec it serves.

The server serves a copy of openapi/uapi.yaml in tmp_path (`--spec`), so the test can edit it
without touching the project. uvicorn's reloader runs the app in a child process, so the server
gets a process group of its own and the whole group is killed if anything goes wrong.
"""
from __future__ import annotations

import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import READY_TIMEOUT, ServerProcess, running_server
from uapi.spec_core import DEFAULT_SPEC

RELOAD_TIMEOUT = 30.0   # seconds for an edit to be served (watchfiles debounces ~1.6 s; startup takes a few)
OPERATION = ("/uapi/phoneCalls/{userId}/simple", "post")
SUMMARY = "Place a simple phone call"


def served_document(server: ServerProcess) -> dict[str, Any] | None:
    """The served document, or None while the (re)starting worker does not answer."""
    try:
        response = httpx.get(f"{server.base_url}/uapi/openapi.json", timeout=5)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "openapi"
    folder.mkdir()
    return Path(shutil.copy(DEFAULT_SPEC, folder / "uapi.yaml"))


@pytest.fixture
def server(spec_copy: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    # uvicorn's reloader runs the app in a child: a session of its own lets stopping reach it.
    with running_server("--reload", "--spec", str(spec_copy), "--database", f"sqlite:///{tmp_path / 'reload.db'}",
                        workdir=tmp_path, own_session=True) as running:
        yield running


def served_summary(server: ServerProcess, timeout: float, wanted: str) -> str | None:
    """Poll until the served summary of OPERATION is `wanted`; answer the last one seen."""
    deadline = time.monotonic() + timeout
    seen: str | None = None
    while time.monotonic() < deadline:
        assert server.process.poll() is None, f"uapi serve --reload exited:\n{server.output()}"
        document = served_document(server)
        if document is not None:
            path, method = OPERATION
            seen = str(document["paths"][path][method]["summary"])
            if seen == wanted:
                return seen
        time.sleep(0.2)
    return seen


def test_an_edited_spec_is_served_without_a_restart(server: ServerProcess, spec_copy: Path) -> None:
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
