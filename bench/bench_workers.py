"""Scale-out benchmark: hang-ups per second with `uapi serve --workers N` on PostgreSQL.

    .venv/bin/python bench/bench_workers.py [--workers 1,2,4] [--calls 1000] [--rounds 5]
                                            [--concurrency 16] [--database postgresql://USER@HOST/DB]
                                            [--pgbouncer [--pool-size 20]]

Without --database it starts a throwaway PostgreSQL (as the tests do, tests/support/postgres.py)
and gives each worker count a fresh database. With --pgbouncer the server reaches it through a
PgBouncer in transaction mode started here (tests/support/pgbouncer.py) with `--pool-size` server
connections, the deployment README.md describes for several processes. For each worker count it starts the real
`uapi serve --workers N` process, and each round places `--calls` calls through the API, then
hangs them all up by id (DELETE, the seed example's request) over `--concurrency` keep-alive
connections and times that. It prints hang-ups per second, the median of the rounds (and the
lowest and highest), per worker count.

The load generator is a minimal asyncio HTTP/1.1 client in this process (prebuilt requests,
Content-Length framing), so it costs far less CPU per request than the server; on a machine
with few cores it still shares them with the workers: see the core count printed.
Not a test: nothing here is collected by pytest.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.servers import free_port  # noqa: E402  (one copy, shared with the tests)

DIRECTORY = """\
organizations: [{id: "3", name: Bench, code: "0003"}]
users: [{id: "12", organization: "3", name: Bench User}]
extensions:
  - {number: "210", user: "12", type: phone_terminal}
apps: [{clientId: bench, clientSecret: bench-secret, account: "user:12"}]
simulator: {answerDelay: 0}
"""


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.support.postgres import throwaway_postgres

    with throwaway_postgres() as started:
        yield started


@contextlib.contextmanager
def through(pg: str, pgbouncer: bool, pool_size: int) -> Iterator[Callable[[str], str]]:
    """Maps a database URL of `pg` to the URL the server is given: itself, or through PgBouncer."""
    if not pgbouncer:
        yield lambda url: url
        return
    from tests.support.pgbouncer import running_pgbouncer

    with running_pgbouncer(pg, pool_size=pool_size) as bouncer:
        yield bouncer.url


def fresh_database(server_url: str) -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@contextlib.contextmanager
def server(workers: int, database: str, folder: Path) -> Iterator[int]:
    port = free_port()
    directory = folder / "directory.yaml"
    directory.write_text(DIRECTORY)
    log = (folder / f"server-{workers}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uapi", "serve", "--port", str(port), "--workers", str(workers),
         "--directory", str(directory), "--database", database, "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"uapi serve exited: see {log.name}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"uapi serve did not start: see {log.name}")
            time.sleep(0.1)
        time.sleep(1.0 + 0.5 * workers)   # every worker through its start-up
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length) if length else b""


def request(method: str, path: str, port: int, token: str = "", body: bytes = b"",
            content_type: str = "application/json") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Type: {content_type}",
             f"Content-Length: {len(body)}"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run_all(port: int, requests: list[bytes], concurrency: int) -> list[tuple[int, bytes]]:
    """Send `requests` over `concurrency` keep-alive connections; answers in request order."""
    results: list[tuple[int, bytes]] = [(0, b"")] * len(requests)
    queue = iter(range(len(requests)))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for index in queue:
                results[index] = await exchange(reader, writer, requests[index])
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return results


async def token(port: int) -> str:
    body = b"grant_type=client_credentials&client_id=bench&client_secret=bench-secret"
    ((status, answer),) = await run_all(port, [request("POST", "/oauth/token", port, body=body,
                                                       content_type="application/x-www-form-urlencoded")], 1)
    assert status == 200, answer
    return json.loads(answer)["access_token"]


async def one_round(port: int, bearer: str, calls: int, concurrency: int) -> float:
    place = [request("POST", "/uapi/phoneCalls/@me/simple", port, bearer,
                     json.dumps({"extension": "210", "phoneCallView": [{"destination": f"555{i:05d}"}]}).encode())
             for i in range(calls)]
    placed = await run_all(port, place, concurrency)
    assert all(status == 200 for status, _ in placed), [answer for status, answer in placed if status != 200][:1]
    ids = [json.loads(answer)[0]["id"] for _, answer in placed]
    hang_ups = [request("DELETE", f"/uapi/phoneCalls/@me/0003*210/{call_id}", port, bearer) for call_id in ids]
    started = time.perf_counter()
    answers = await run_all(port, hang_ups, concurrency)
    elapsed = time.perf_counter() - started
    assert all(status == 200 for status, _ in answers), [answer for status, answer in answers if status != 200][:1]
    return calls / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure (default 1,2,4)")
    parser.add_argument("--calls", type=int, default=1000, help="hang-ups per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per worker count (default 5)")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections (default 16)")
    parser.add_argument("--database", metavar="URL",
                        help="a PostgreSQL server URL whose user may CREATE DATABASE (default: a throwaway one)")
    parser.add_argument("--pgbouncer", action="store_true",
                        help="serve through a PgBouncer (transaction mode) started here")
    parser.add_argument("--pool-size", type=int, default=20,
                        help="PgBouncer's server connections (default_pool_size) with --pgbouncer (default 20)")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    rows = []
    with postgres(args.database) as pg, through(pg, args.pgbouncer, args.pool_size) as url_for, \
            tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        for workers in counts:
            with server(workers, url_for(fresh_database(pg)), Path(tmp)) as port:
                bearer = asyncio.run(token(port))
                asyncio.run(one_round(port, bearer, min(args.calls, 200), args.concurrency))   # warm-up
                rates = [asyncio.run(one_round(port, bearer, args.calls, args.concurrency))
                         for _ in range(args.rounds)]
            rows.append((workers, statistics.median(rates), min(rates), max(rates)))
            print(f"  {workers} worker(s): {', '.join(f'{rate:.0f}' for rate in rates)} hang-ups/s", flush=True)
    route = f"through PgBouncer (transaction mode, pool {args.pool_size})" if args.pgbouncer else "direct"
    print(f"\nhang-ups per second, PostgreSQL {route}, {args.calls} calls x {args.rounds} rounds, "
          f"{args.concurrency} connections, {os.cpu_count()} cores (load generator included)")
    print("| workers | hang-ups/s (median) | min | max | vs 1 worker |")
    print("|---|---|---|---|---|")
    base = rows[0][1]
    for workers, median, low, high in rows:
        print(f"| {workers} | {median:.0f} | {low:.0f} | {high:.0f} | {median / base:.2f}x |")


if __name__ == "__main__":
    main()
