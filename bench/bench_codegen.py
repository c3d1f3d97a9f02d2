"""Benchmark of the client generator and of the generated Python client.

    .venv/bin/python bench/bench_codegen.py [--runs 20] [--calls 300] [--base-url URL]

Prints:
* generation time per language: median of --runs in-memory generations from the spec
  (parsing and model building included, no file writes);
* the Python client's overhead per call over raw httpx making the same request
  (listPhoneCalls, same token, same keep-alive connection pooling), against a real
  `uapi serve` (started here on a free port with a temporary SQLite database unless
  --base-url is given) and against an in-memory transport, which isolates the client's
  own cost from the server's.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "generated" / "python"))
sys.path.insert(0, str(REPO))   # `tests.support` from the checkout

from uapi_client import Client  # noqa: E402

from tests.support.servers import free_port  # noqa: E402  (one copy, shared with the tests)
from uapi.codegen.generate import LANGUAGES, generate  # noqa: E402
from uapi.codegen.model import load_api  # noqa: E402

CLIENT_ID, CLIENT_SECRET = "demo-user", "demo-user-secret"
PATH = "/uapi/phoneCalls/@me/0003*210"


def median_seconds(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def bench_generation(spec: Path, runs: int) -> None:
    print(f"generation ({spec.relative_to(REPO) if spec.is_relative_to(REPO) else spec}, median of {runs} runs)")
    print(f"  model only   {median_seconds(lambda: load_api(spec), runs) * 1000:8.1f} ms")
    for lang in LANGUAGES:
        files = generate(lang, spec)
        size = sum(len(text) for text in files.values())
        print(f"  {lang:<12} {median_seconds(lambda lang=lang: generate(lang, spec), runs) * 1000:8.1f} ms"
              f"   ({len(files)} files, {size / 1024:.0f} KiB)")


def per_call(raw: Callable[[], object], client: Callable[[], object], calls: int) -> tuple[float, float]:
    """Median seconds per call of each, measured in alternating rounds so drift hits both alike."""
    for _ in range(20):  # warm connections and caches
        raw()
        client()
    raw_samples: list[float] = []
    client_samples: list[float] = []
    for _ in range(calls):
        for action, samples in ((raw, raw_samples), (client, client_samples)):
            started = time.perf_counter()
            action()
            samples.append(time.perf_counter() - started)
    return statistics.median(raw_samples), statistics.median(client_samples)


def report(label: str, raw: float, client: float) -> None:
    overhead = client - raw
    print(f"  {label:<26} raw httpx {raw * 1e6:8.0f} µs   uapi_client {client * 1e6:8.0f} µs"
          f"   overhead {overhead * 1e6:+6.0f} µs/call ({overhead / raw * 100:+.0f}%)")


def bench_in_memory(calls: int) -> None:
    body = (b'{"startIndex":0,"itemsPerPage":1,"totalResults":1,"entry":[{"id":"7d280cc4feae3255a497",'
            b'"extension":"0003*210","published":"2026-11-27T05:27:00Z"}]}')
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body,
                                                                   headers={"Content-Type": "application/json"}))
    raw = httpx.Client(base_url="http://bench", transport=transport)
    client = Client("http://bench", token="t", http_client=httpx.Client(transport=transport))
    headers = {"Authorization": "Bearer t", "Accept": "application/json"}
    raw_seconds, client_seconds = per_call(
        lambda: raw.get(PATH, params={"count": 20}, headers=headers).json(),
        lambda: client.list_phone_calls("@me", "0003*210", count=20), calls)
    report("in-memory transport", raw_seconds, client_seconds)


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "uapi.cli", "serve", "--port", str(port), "--log-level",
                                "warning", "--database", f"sqlite:///{workdir / 'bench.db'}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(base_url + "/uapi/openapi.json", timeout=1)
            return process, base_url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("uapi serve did not start; pass --base-url to use a running server")


def bench_server(base_url: str, calls: int) -> None:
    client = Client(base_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    client.create_simple_phone_call("@me", body={"extension": "210", "phoneCallView": [{"destination": "3334444"}]})
    token = client.issue_token(body={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                     "client_secret": CLIENT_SECRET}).access_token
    raw = httpx.Client(base_url=base_url)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    raw_seconds, client_seconds = per_call(
        lambda: raw.get(PATH, params={"count": 20}, headers=headers).raise_for_status().json(),
        lambda: client.list_phone_calls("@me", "0003*210", count=20), calls)
    report("real server (listPhoneCalls)", raw_seconds, client_seconds)
    client.hang_up_phone_calls("@me", "0003*210")
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="generations per language (default 20)")
    parser.add_argument("--calls", type=int, default=300, help="requests per client (default 300)")
    parser.add_argument("--spec", type=Path, default=REPO / "openapi" / "uapi.yaml")
    parser.add_argument("--base-url", help="a running server with the demo directory (default: start one)")
    args = parser.parse_args()

    bench_generation(args.spec.resolve(), args.runs)
    print(f"Python client overhead per call (median of {args.calls} calls each)")
    bench_in_memory(args.calls)
    if args.base_url:
        bench_server(args.base_url, args.calls)
        return 0
    with tempfile.TemporaryDirectory() as workdir:
        process, base_url = start_server(Path(workdir))
        try:
            bench_server(base_url, args.calls)
        finally:
            process.terminate()
            process.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
