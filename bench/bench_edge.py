"""Can a client without a token slow everyone else down? (issue 11, "Limits at the edge")

    .venv/bin/python bench/bench_edge.py [--seconds 3]

Starts `uapi serve` twice on SQLite: once with the edge limits lifted (what the server did
before them: any number of query parameters and form fields, any header size) and once with
the defaults. In each, a victim with a token lists its calls in a loop while hostile clients
without a token attack; the victim's latency (median, p99, max, in ms) is printed per attack:

* query: 4 clients sending GETs with 8 000 query parameters (48 KB) each;
* form: 4 clients posting 5 000 form fields to /oauth/token;
* header: 2 clients sending a 4 MB header.
"""
from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # `tests.support` from the checkout

from tests.support.servers import free_port  # noqa: E402  (one copy, shared with the tests)

DIRECTORY = """organizations: [{id: "3", name: Bench, code: "0003"}]
users: [{id: "12", organization: "3", name: Bench User}]
extensions: [{number: "210", user: "12", type: phone_terminal}]
apps: [{clientId: bench, clientSecret: bench-secret, account: "user:12"}]
"""
LIFTED = ["--max-fields", "1000000", "--max-field-bytes", "100000000", "--max-header-bytes", "1000000000",
          "--max-body-bytes", "100000000", "--token-rate-per-address", "1000000/second",
          "--token-rate-per-client", "1000000/second"]
QUERY = ("GET /uapi/phoneCalls/@me/210?" + "&".join(f"p{i}=1" for i in range(8000)) + " HTTP/1.1\r\nHost: b\r\n\r\n").encode()
FORM_BODY = "&".join(f"f{i}=1" for i in range(5000)).encode()
FORM = (b"POST /oauth/token HTTP/1.1\r\nHost: b\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\n\r\n" % len(FORM_BODY)) + FORM_BODY


def serve(folder: Path, flags: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    (folder / "directory.yaml").write_text(DIRECTORY)
    process = subprocess.Popen([sys.executable, "-m", "uapi.cli", "serve", "--port", str(port), "--log-level", "warning",
                                "--directory", str(folder / "directory.yaml"),
                                "--database", f"sqlite:///{folder / 'bench.db'}", *flags],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/uapi/openapi.json", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start")


def attack(port: int, payload: bytes, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(payload)
                sock.recv(4096)
        except OSError:
            pass


def header_attack(port: int, stop: threading.Event) -> None:
    chunk = b"a" * 65536
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: b\r\nX-Big: ")
                for _ in range(64):   # 4 MB
                    sock.sendall(chunk)
                sock.sendall(b"\r\n\r\n")
                sock.recv(4096)
        except OSError:
            pass


def token_of(base: str) -> str:
    return httpx.post(base + "/oauth/token", data={"grant_type": "client_credentials", "client_id": "bench",
                                                   "client_secret": "bench-secret"}).json()["access_token"]


def victim(base: str, token: str, seconds: float) -> list[float]:
    with httpx.Client(base_url=base, timeout=10) as http:
        headers = {"Authorization": f"Bearer {token}"}
        latencies = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                http.get("/uapi/phoneCalls/@me/210", headers=headers)
            except httpx.TransportError:   # a timeout counts as its 10 s
                pass
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.005)
    return latencies


def run(base: str, token: str, seconds: float, attackers: list) -> tuple[float, float, float]:
    port = int(base.rsplit(":", 1)[1])
    stop = threading.Event()
    threads = [threading.Thread(target=target, args=(port, *args, stop), daemon=True) for target, args in attackers]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    latencies = victim(base, token, seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1], latencies[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="victim run per attack (default 3)")
    args = parser.parse_args()
    attacks = {
        "none": [],
        "query 8000 params x4": [(attack, (QUERY,))] * 4,
        "form 5000 fields x4": [(attack, (FORM,))] * 4,
        "header 4 MB x2": [(header_attack, ())] * 2,
    }
    print(f"{'limits':8} {'attack':22} {'median ms':>10} {'p99 ms':>8} {'max ms':>8}")
    for label, flags in (("lifted", LIFTED), ("default", [])):
        with tempfile.TemporaryDirectory() as folder:
            process, base = serve(Path(folder), flags)
            try:
                token = token_of(base)
                for name, attackers in attacks.items():
                    median, p99, worst = run(base, token, args.seconds, attackers)
                    time.sleep(1)   # let the last attack's backlog drain
                    print(f"{label:8} {name:22} {median:10.1f} {p99:8.1f} {worst:8.1f}", flush=True)
            finally:
                process.terminate()
                process.wait(timeout=15)


if __name__ == "__main__":
    main()
