"""End to end: real `uapi serve` processes driven over real HTTP.

Each test starts the server as a subprocess on a free loopback port, with a directory
file it writes itself and a database of its own, waits until /uapi/openapi.json answers,
and talks to it with httpx. Every process is killed in the fixture's finally block.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import fresh_postgres_database
from tests.support.servers import STOP_TIMEOUT, ServerProcess, free_port, running_server, uapi_command

TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_.-]+$")

DIRECTORY = {
    "organizations": [{"id": "3", "name": "E2E Organization", "code": "0003"}],
    "users": [{"id": "12", "organization": "3", "name": "Erin Example"}],
    "extensions": [
        {"number": "210", "user": "12", "type": "phone_terminal", "callerId": "Erin <0003*210>"},
        {"number": "211", "user": "12", "type": "phone_terminal"},
    ],
    "apps": [{"clientId": "e2e-app", "clientSecret": "e2e-secret", "account": "user:12"}],
    "simulator": {"answerDelay": 0},
}
CLIENT = ("e2e-app", "e2e-secret")
JSON_NO_BODY = {"Content-Type": "application/json"}   # how the original clients send GET and DELETE


def write_directory(path: Path) -> Path:
    """Write DIRECTORY as YAML or JSON, by the file's suffix."""
    if path.suffix == ".json":
        path.write_text(json.dumps(DIRECTORY, indent=2))
    else:
        lines = []
        for section, entries in DIRECTORY.items():
            lines.append(f"{section}:")
            if isinstance(entries, dict):
                lines += [f"  {key}: {json.dumps(value)}" for key, value in entries.items()]
            else:
                lines += [f"  - {json.dumps(entry)}" for entry in entries]   # JSON flow mappings are YAML
        path.write_text("# written by tests/e2e\n" + "\n".join(lines) + "\n")
    return path


def stop_gracefully(server: ServerProcess) -> None:
    """SIGTERM stops the server cleanly: within STOP_TIMEOUT, exit status 0, shutdown logged."""
    assert server.process.poll() is None, server.output()
    assert server.stop(), f"uapi serve ignored SIGTERM for {STOP_TIMEOUT}s:\n{server.output()}"
    # uvicorn re-raises the signal after its shutdown, so -SIGTERM is a clean exit too.
    assert server.process.returncode in (0, -signal.SIGTERM), server.output()
    assert "Application shutdown complete" in server.output(), server.output()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers that answer; every one still running is stopped after the test."""
    log_numbers = itertools.count()
    with contextlib.ExitStack() as servers:
        def start(*args: str, tls: bool = False) -> ServerProcess:
            return servers.enter_context(running_server(*args, workdir=tmp_path, tls=tls,
                                                        log_name=f"server-{next(log_numbers)}.log"))

        yield start


# --- helpers over raw responses ---------------------------------------------------------

def token_from(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert TOKEN_CHARS.match(body["access_token"]), body
    return body["access_token"]


def issue_tokens(http: httpx.Client) -> dict[str, str]:
    """One token per way of asking: form fields, HTTP Basic, and the original /oauth/token.php."""
    client_id, secret = CLIENT
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return {
        "form": token_from(http.post("/oauth/token", data=form)),
        "basic": token_from(http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=CLIENT)),
        "php": token_from(http.post("/oauth/token.php", data=form)),
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def place_call(http: httpx.Client, token: str, extension: str, destination: str) -> str:
    body = {"extension": extension, "phoneCallView": [{"destination": destination}]}
    response = http.post("/uapi/phoneCalls/@me/simple", json=body, headers=bearer(token))
    assert response.status_code == 200, response.text
    (call,) = response.json()
    assert call["extension"] == f"0003*{extension}" and "ended" not in call
    return call["id"]


def live_ids(http: httpx.Client, token: str, extension: str) -> list[str]:
    """Ids of the live calls of an extension ([] when the server answers 204)."""
    response = http.get(f"/uapi/phoneCalls/@me/{extension}", headers={**bearer(token), **JSON_NO_BODY})
    if response.status_code == 204:
        assert response.content == b""
        return []
    assert response.status_code == 200, response.text
    return [call["id"] for call in response.json()["entry"]]


def hang_up(http: httpx.Client, token: str, path: str) -> httpx.Response:
    """DELETE the way the seed example does: JSON content type, no body."""
    response = http.delete(path, headers={**bearer(token), **JSON_NO_BODY})
    assert response.request.content == b""
    return response


# --- the flow, on SQLite (YAML and JSON directory) and on PostgreSQL -------------------

def run_restart_flow(start_server: Callable[..., ServerProcess], server_args: list[str]) -> None:
    first = start_server(*server_args)
    with first.client() as http:
        tokens = issue_tokens(http)
        ended_id = place_call(http, tokens["form"], "210", "8887777")
        live_id = place_call(http, tokens["basic"], "211", "5551234")
        assert live_ids(http, tokens["php"], "0003*210") == [ended_id]

        seed_path = f"/uapi/phoneCalls/@me/0003*210/{ended_id}?phoneNumber=8887777"
        response = hang_up(http, tokens["form"], seed_path)
        assert response.request.url.raw_path == seed_path.encode()   # `@` and `*` sent unescaped
        assert response.status_code == 200, response.text
        (hung_up,) = response.json()
        assert hung_up["id"] == ended_id and "ended" in hung_up

        again = hang_up(http, tokens["form"], seed_path)
        assert again.status_code == 204 and again.content == b""

    stop_gracefully(first)

    second = start_server(*server_args)
    with second.client() as http:
        for how, token in tokens.items():   # tokens issued before the restart still work
            response = http.get(f"/uapi/phoneCalls/@me/0003*210/{ended_id}", headers={**bearer(token), **JSON_NO_BODY})
            assert response.status_code == 200, (how, response.text)
        (ended,) = response.json()["entry"]
        assert ended["id"] == ended_id
        assert ended["ended"] and ended["endedBy"] == "api" and ended["cause"] == "hangup"

        assert live_ids(http, tokens["form"], "0003*210") == []
        assert live_ids(http, tokens["form"], "0003*211") == [live_id]

        response = hang_up(http, tokens["basic"], f"/uapi/phoneCalls/@me/0003*211/{live_id}?phoneNumber=5551234")
        assert response.status_code == 200, response.text
        assert [call["id"] for call in response.json()] == [live_id]
        assert live_ids(http, tokens["form"], "@self") == []
    stop_gracefully(second)


@pytest.mark.parametrize("directory_name", ["directory.yaml", "directory.json"])
def test_restart_keeps_tokens_and_calls_sqlite(start_server: Callable[..., ServerProcess], tmp_path: Path,
                                               directory_name: str) -> None:
    directory = write_directory(tmp_path / directory_name)
    run_restart_flow(start_server, ["--directory", str(directory), "--database", f"sqlite:///{tmp_path / 'e2e.db'}"])


def test_restart_keeps_tokens_and_calls_postgresql(start_server: Callable[..., ServerProcess], tmp_path: Path,
                                                   postgres_server: str) -> None:
    directory = write_directory(tmp_path / "directory.yaml")
    run_restart_flow(start_server, ["--directory", str(directory), "--database", fresh_postgres_database(postgres_server)])


# --- TLS, banner, bad input --------------------------------------------------------------

def test_tls(start_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    directory = write_directory(tmp_path / "directory.yaml")
    server = start_server("--directory", str(directory), "--database", f"sqlite:///{tmp_path / 'tls.db'}",
                          "--tls-cert", str(cert), "--tls-key", str(key), tls=True)
    assert server.base_url.startswith("https://")
    with server.client() as http:
        token = issue_tokens(http)["basic"]
        assert live_ids(http, token, "@self") == []
    assert f"https://127.0.0.1:{server.port}/oauth/token" in server.output()


def test_banner_prints_urls_and_demo_credentials(start_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    server = start_server("--database", f"sqlite:///{tmp_path / 'demo.db'}")
    banner = server.output()
    for path in ("/uapi/phoneCalls/", "/oauth/token", "/uapi/openapi.json", "/uapi/ui/"):
        assert f"{server.base_url}{path}" in banner, banner
    assert "demo-user / demo-user-secret" in banner, banner
    with server.client() as http:   # the printed credentials really work
        form = {"grant_type": "client_credentials", "client_id": "demo-user", "client_secret": "demo-user-secret"}
        token_from(http.post("/oauth/token", data=form))


def test_banner_with_directory_prints_no_demo_credentials(start_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    directory = write_directory(tmp_path / "directory.yaml")
    server = start_server("--directory", str(directory), "--database", f"sqlite:///{tmp_path / 'own.db'}")
    banner = server.output()
    assert f"{server.base_url}/uapi/ui/" in banner and str(directory) in banner
    assert "demo-user" not in banner and "e2e-secret" not in banner, banner


@pytest.mark.parametrize("name, content", [
    ("broken.yaml", "organizations: [\n  {id: '3', name: \n"),
    ("broken.json", '{"organizations": [\n'),
    ("wrong-shape.yaml", "organizations: 5\n"),
])
def test_malformed_directory_fails_with_one_line(tmp_path: Path, name: str, content: str) -> None:
    (tmp_path / name).write_text(content)
    assert_clean_failure(tmp_path, "--directory", str(tmp_path / name), "--database", f"sqlite:///{tmp_path / 'x.db'}")


def test_unsupported_database_fails_with_one_line(tmp_path: Path) -> None:
    assert_clean_failure(tmp_path, "--database", "mysql://x")


def assert_clean_failure(cwd: Path, *args: str) -> None:
    result = subprocess.run(uapi_command("serve", "--port", str(free_port()), *args),
                            cwd=cwd, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("uapi serve: error: "), result.stderr
