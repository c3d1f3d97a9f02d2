"""Item 1 and 2 of issue 11 on a real `uapi serve`: the limits that live in the connection
(head size, slow heads, idle connections, connection count), the access log, the demo
directory's exposure and the plaintext-secret warning. Raw sockets where httpx would hide
what the server does to the connection."""
from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.e2e.test_server_process import (  # noqa: F401  (start_server is a fixture)
    CLIENT,
    bearer,
    start_server,
    token_from,
    write_directory,
)
from tests.support.servers import ServerProcess, free_port, uapi_command

FORM = {"grant_type": "client_credentials", "client_id": CLIENT[0], "client_secret": CLIENT[1]}


def start(start_server: Callable[..., ServerProcess], tmp_path: Path, *flags: str) -> ServerProcess:
    directory = write_directory(tmp_path / "directory.yaml")
    return start_server("--directory", str(directory), "--database", f"sqlite:///{tmp_path / 'edge.db'}", *flags)


def connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def read_until_closed(sock: socket.socket, limit: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (fails after `limit` seconds)."""
    sock.settimeout(limit)
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def status_and_body(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def test_head_limits_timeouts_and_connection_cap(start_server, tmp_path):
    server = start(start_server, tmp_path, "--max-header-bytes", "8192", "--header-timeout", "1",
                   "--keep-alive", "1", "--max-connections", "8")
    # A header over the limit in one piece: 431 with the contract's body, connection closed.
    with connect(server) as sock:
        sock.sendall(b"GET /uapi/phoneCalls/@me/210 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        status, body = status_and_body(read_until_closed(sock))
    assert status == 431 and body["error"]["code"] == "headers_too_large"
    # A header that never ends (200 MB before): refused once the limit is passed, the rest unread.
    with connect(server) as sock:
        sock.sendall(b"GET /uapi/phoneCalls/@me/210 HTTP/1.1\r\nHost: x\r\nX-Big: ")
        started = time.monotonic()
        sent = 0
        try:
            while sent < 50_000_000:
                sock.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 5_000_000 and time.monotonic() - started < 5, sent
    # The token endpoint answers the same limit with an RFC 6749 body.
    with connect(server) as sock:
        sock.sendall(b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        status, body = status_and_body(read_until_closed(sock))
    assert status == 431 and body["error"] == "invalid_request"

    # A head that arrives too slowly: 408 after --header-timeout, closed.
    with connect(server) as sock:
        sock.sendall(b"GET /uapi/phoneCalls/@me/210 HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        status, body = status_and_body(read_until_closed(sock))
        assert 0.8 < time.monotonic() - started < 5
    assert status == 408 and body["error"]["code"] == "request_timeout"
    # A connection that sends nothing is closed too.
    with connect(server) as sock:
        started = time.monotonic()
        read_until_closed(sock)
        assert time.monotonic() - started < 5
    # An idle keep-alive connection is closed after --keep-alive.
    with connect(server) as sock:
        sock.sendall(b"GET /uapi/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        assert read_until_closed(sock).startswith(b"HTTP/1.1 200")
        assert time.monotonic() - started < 5

    # Past --max-connections a new connection is answered 503 and closed; others keep working.
    idle = [connect(server) for _ in range(8)]
    try:
        time.sleep(0.2)
        with connect(server) as sock:
            status, body = status_and_body(read_until_closed(sock))
        assert status == 503 and body["error"]["code"] == "service_busy"
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.3)
    with server.client() as http:
        assert http.get("/uapi/openapi.json").status_code == 200


def test_query_tokens_never_reach_the_access_log(start_server, tmp_path):
    server = start(start_server, tmp_path)
    with server.client() as http:
        token = token_from(http.post("/oauth/token", data=FORM))
        response = http.get("/uapi/phoneCalls/@me/210", params={"accessRequestToken": f"Bearer {token}"})
        assert response.status_code == 204
        assert http.get(f"/uapi/phoneCalls/@me/210?accessRequestToken={token}&count=1").status_code == 204
    time.sleep(0.2)
    log = server.output()
    assert token not in log
    assert "accessRequestToken=[redacted]" in log


def test_plaintext_secrets_warn_in_one_line_at_start(start_server, tmp_path):
    server = start(start_server, tmp_path)
    warnings = [line for line in server.output().splitlines() if line.startswith("uapi serve: warning:")]
    assert len(warnings) == 1 and "e2e-app" in warnings[0] and "uapi hash-secret" in warnings[0]


def test_the_demo_directory_serves_on_loopback_only_unless_demo_is_given(start_server, tmp_path):
    refused = subprocess.run(uapi_command("serve", "--host", "0.0.0.0", "--port", str(free_port()),
                                          "--database", f"sqlite:///{tmp_path / 'x.db'}"),
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "--demo" in refused.stderr, refused.stderr
    server = start_server("--database", f"sqlite:///{tmp_path / 'demo.db'}")   # loopback: served
    assert "DEMO CREDENTIALS ACTIVE" in server.output()
    with server.client() as http:
        response = http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "demo-user",
                                                   "client_secret": "demo-user-secret"})
        assert response.status_code == 200
    mode = (tmp_path / "demo.db").stat().st_mode & 0o777
    assert mode == 0o600, oct(mode)


def test_demo_flag_serves_the_demo_directory_on_any_address(start_server, tmp_path):
    server = start_server("--demo", "--database", f"sqlite:///{tmp_path / 'demo.db'}")
    assert "DEMO CREDENTIALS ACTIVE" in server.output()
