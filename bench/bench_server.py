"""Server benchmark: hang-up-by-id and list-page throughput and latency over real HTTP.

    .venv/bin/python bench/bench_server.py [--sizes 1000,100000] [--requests N] [--concurrency C]
                                           [--database sqlite|postgresql://USER@HOST/DB] [--json [FILE]]

For each store size it fills a fresh database with that many live calls (bench/workload.py),
starts the real server (`uapi.app.create_app`, as `uapi serve` runs it) and its bare-Starlette
twin (bench/twin.py: the same domain operations without Connexion) as two uvicorn processes
with one worker each, and drives them from this process with a concurrent httpx load
generator on loopback. Rounds of the two servers alternate; each figure is the median over
the rounds. It prints one table: throughput, p50 and p99 latency per (operation, size, server),
the server/twin throughput ratio, throughput against the smallest size, and each server's peak
RSS (VmHWM). See bench/README.md for what exactly is measured.

Not a test: nothing here is collected by pytest.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))   # `tests.support` from the checkout

import workload as wl  # noqa: E402
from procfs import (  # noqa: E402
    event_loop_factory,
    machine_busy_seconds,
    process_cpu_seconds,
    process_memory_mb,
)
from procfs import own_cpu_seconds as client_cpu_seconds  # noqa: E402

from tests.support.servers import free_port  # noqa: E402  (one copy, shared with the tests)

TARGET_RATIO = 0.80  # server throughput / twin throughput (issue 11, item 6)
FLAT_TOLERANCE = 0.80  # "flat": throughput at the largest size >= 80 % of the smallest size's
TARGET_RSS_MB = 250
PAGE = 20
APPS = ("server", "twin")


@dataclass(frozen=True)
class Operation:
    key: str
    label: str
    method: str
    hot: bool


OPERATIONS = (
    Operation("hangup-typical", "hang-up by id", "DELETE", False),
    Operation("hangup-hot", "hang-up by id", "DELETE", True),
    Operation("list-typical", "list page", "GET", False),
    Operation("list-hot", "list page", "GET", True),
)


@dataclass
class Round:
    requests: int
    seconds: float
    throughput: float
    p50_ms: float
    p99_ms: float
    server_cpu: float  # share of one core used by the server process during the round
    client_cpu: float  # share of one core used by this process (the load generator)
    other_cpu: float  # cores busy with anything else on the machine (other processes, kernel)


@dataclass
class Row:
    size: int
    operation: str
    extension: str  # "typical" or "hot"
    ext_calls: float  # live calls the targeted extension takes part in
    app: str
    rounds: list[Round] = field(default_factory=list)

    def median(self, name: str) -> float:
        return statistics.median(getattr(r, name) for r in self.rounds)


# -- processes -------------------------------------------------------------------


class ServerProcess:
    """bench/launch.py's `app` in a child process, pinned to `cpus`; with `code` (a source tree,
    see --baseline of bench_bulk_hangup.py) first on its path."""

    def __init__(self, app: str, directory: Path, database: str, cpus: set[int] | None, log: Path,
                 code: Path | None = None) -> None:
        self.app = app
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [sys.executable, str(BENCH_DIR / "launch.py"), app, "--directory", str(directory),
                   "--database", database, "--port", str(self.port)]
        preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        env = dict(os.environ)
        if code is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
        self.output = log.open("w")
        self.process = subprocess.Popen(command, stdout=self.output, stderr=subprocess.STDOUT, preexec_fn=preexec,
                                        env=env)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, probe: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.app} exited at start-up:\n{self.log.read_text()}")
            try:
                response = httpx.get(self.base_url + probe, headers=auth_headers(), timeout=5)
                if response.status_code in (200, 204):
                    return
                raise RuntimeError(f"{self.app} answered {response.status_code} to {probe}: {response.text[:300]}")
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.app} did not start within {timeout} s:\n{self.log.read_text()}")

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def peak_rss_mb(self) -> float:
        return process_memory_mb(self.pid, "VmHWM")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()


def auth_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {wl.BENCH_TOKEN}"}


# -- load ------------------------------------------------------------------------


class Load:
    """The requests of one operation at one size, and what a round needs to undo."""

    def __init__(self, workload: wl.Workload, operation: Operation, rng: random.Random) -> None:
        self.workload = workload
        self.operation = operation
        self.rng = rng
        if operation.method == "DELETE":
            self.targets = workload.hot_calls if operation.hot else workload.typical_calls
        else:
            self.extensions = ([workload.hot_extension] if operation.hot else workload.typical_extensions)

    def requests(self, count: int) -> list[tuple[str, int | None]]:
        """`count` request paths, with the index of the call each one hangs up (None for lists)."""
        if self.operation.method == "DELETE":
            # Every request of a round hangs up a distinct live call.
            chosen = self.rng.sample(self.targets, min(count, len(self.targets)))
            return [(f"/uapi/phoneCalls/{c.user_id}/{c.extension}/{c.id}", c.index) for c in chosen]
        paths: list[tuple[str, int | None]] = []
        for _ in range(count):
            ext = self.rng.choice(self.extensions)
            start = self.rng.randrange(max(1, self.workload.hot - PAGE + 1)) if self.operation.hot else 0
            paths.append((f"/uapi/phoneCalls/{ext.user.id}/{ext.number}?count={PAGE}&startIndex={start}", None))
        return paths


class RawClient:
    """A minimal HTTP/1.1 keep-alive client: one connection per worker, bodies framed by Content-Length.

    Several times cheaper per request than httpx, for when httpx would saturate the load
    generator's core. Understands exactly what uvicorn answers here (Content-Length bodies).
    """

    def __init__(self, base_url: str, headers: dict[str, str], connections: int) -> None:
        self.host, _, port = base_url.removeprefix("http://").partition(":")
        self.port = int(port)
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> RawResponse:
        """One exchange; `headers` replace the client's own for this request (bench/bench_soak.py
        sends each app's token and POST/PUT bodies)."""
        extra = self.extra if headers is None else "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        if body:
            extra += f"Content-Length: {len(body)}\r\n"
        message = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{extra}\r\n".encode() + body
        if self.idle:
            reader, writer = self.idle.pop()
            try:
                return await self._exchange(reader, writer, message)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                # The server closed the idle connection (uvicorn's keep-alive timeout)
                # before reading anything: send the request again on a new one.
                writer.close()
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return await self._exchange(reader, writer, message)

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        message: bytes) -> RawResponse:
        writer.write(message)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding":
                raise RuntimeError("chunked answers are not supported by the raw client")
        body = await reader.readexactly(length) if length else b""
        self.idle.append((reader, writer))
        return RawResponse(status, body)

    async def aclose(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


@dataclass
class RawResponse:
    status_code: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def make_client(kind: str, base_url: str, concurrency: int) -> Any:
    if kind == "raw":
        return RawClient(base_url, auth_headers(), concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=base_url, headers=auth_headers(), limits=limits, timeout=httpx.Timeout(120.0))


async def run_round(client: Any, method: str, requests: list[tuple[str, int | None]],
                    concurrency: int, seconds: float, min_requests: int,
                    server: ServerProcess) -> tuple[Round, list[int]]:
    """Send `requests` with `concurrency` in flight, stopping early once past `seconds` and
    `min_requests`; answers the round and the indexes of the calls it hung up."""
    latencies: list[float] = []
    unexpected: list[str] = []
    used: list[int] = []
    issued = 0
    start = time.perf_counter()

    async def worker() -> None:
        nonlocal issued
        while issued < len(requests):
            if issued >= min_requests and time.perf_counter() - start > seconds:
                return
            path, index = requests[issued]
            issued += 1
            if index is not None:
                used.append(index)
            t0 = time.perf_counter()
            response = await client.request(method, path)
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 200:
                unexpected.append(f"{method} {path} -> {response.status_code} {response.text[:200]}")

    server_cpu0, client_cpu0, busy0 = server.cpu_seconds(), client_cpu_seconds(), machine_busy_seconds()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    server_cpu, client_cpu = server.cpu_seconds() - server_cpu0, client_cpu_seconds() - client_cpu0
    other_cpu = max(0.0, machine_busy_seconds() - busy0 - server_cpu - client_cpu)
    if unexpected:
        raise RuntimeError(f"{server.app}: {len(unexpected)} unexpected answers, first: {unexpected[0]}")
    latencies.sort()
    return Round(
        requests=len(latencies), seconds=elapsed, throughput=len(latencies) / elapsed,
        p50_ms=1000 * percentile(latencies, 0.50), p99_ms=1000 * percentile(latencies, 0.99),
        server_cpu=server_cpu / elapsed, client_cpu=client_cpu / elapsed, other_cpu=other_cpu / elapsed,
    ), used


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ordered sample."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def measure_size(args: argparse.Namespace, workload: wl.Workload, per_extension: dict[str, int],
                       servers: dict[str, ServerProcess], database: str) -> list[Row]:
    rng = random.Random(args.seed)
    engine = wl.engine_for(database)
    clients = {app: make_client(args.client, proc.base_url, args.concurrency) for app, proc in servers.items()}
    typical = [per_extension.get(e.extended, 0) for e in workload.typical_extensions]
    ext_calls = {False: statistics.mean(typical), True: per_extension.get(workload.hot_extension.extended, 0)}
    rows: list[Row] = []
    try:
        for operation in OPERATIONS:
            if operation.key not in args.operations:
                continue
            load = Load(workload, operation, rng)
            by_app = {app: Row(workload.size, operation.label, "hot" if operation.hot else "typical",
                               ext_calls[operation.hot], app) for app in APPS}
            for app in APPS:  # warm-up, not measured
                requests = load.requests(args.warmup)
                _, used = await run_round(clients[app], operation.method, requests, args.concurrency,
                                          args.seconds / 2, 0, servers[app])
                wl.restore(workload, engine, used)
            for number in range(args.rounds):
                for app in (APPS if number % 2 == 0 else APPS[::-1]):
                    requests = load.requests(args.requests)
                    result, used = await run_round(clients[app], operation.method, requests, args.concurrency,
                                                   args.seconds, args.min_requests, servers[app])
                    wl.restore(workload, engine, used)  # the store is back to `size` live calls
                    by_app[app].rounds.append(result)
                    progress(f"  {workload.size:>7} {operation.key:<15} {app:<6} round {number + 1}: "
                             f"{result.throughput:7.1f} req/s  p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  "
                             f"n={result.requests}  server cpu {100 * result.server_cpu:3.0f}%  "
                             f"client cpu {100 * result.client_cpu:3.0f}%  other {result.other_cpu:.1f} cores")
            rows += by_app.values()
    finally:
        for client in clients.values():
            await client.aclose()
        engine.dispose()
    return rows


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- report ----------------------------------------------------------------------


def summarize(rows: list[Row], rss: dict[tuple[int, str], float]) -> list[dict[str, Any]]:
    """One record per (size, operation, extension): both apps' medians and the targets."""
    smallest = min(r.size for r in rows)
    by_key = {(r.size, r.operation, r.extension, r.app): r for r in rows}
    table = []
    for (size, operation, extension, app), row in by_key.items():
        if app != "server":
            continue
        twin = by_key[(size, operation, extension, "twin")]
        base = by_key.get((smallest, operation, extension, "server"))
        twin_base = by_key.get((smallest, operation, extension, "twin"))
        record: dict[str, Any] = {
            "calls": size, "operation": operation, "extension": extension, "ext_calls": round(row.ext_calls, 1),
            "rounds": len(row.rounds), "requests_per_round": int(row.median("requests")),
        }
        for name, r in (("server", row), ("twin", twin)):
            record[name] = {"req_s": round(r.median("throughput"), 1), "p50_ms": round(r.median("p50_ms"), 2),
                            "p99_ms": round(r.median("p99_ms"), 2), "cpu": round(r.median("server_cpu"), 2),
                            "cpu_ms_per_req": round(statistics.median(1000 * x.server_cpu / x.throughput for x in r.rounds), 2),
                            "peak_rss_mb": round(rss[(size, name)], 1), "rounds": [asdict(x) for x in r.rounds]}
        record["client_cpu"] = round(max(r.median("client_cpu") for r in (row, twin)), 2)
        record["other_cpu"] = round(max(x.other_cpu for r in (row, twin) for x in r.rounds), 2)
        record["server_vs_twin"] = round(record["server"]["req_s"] / record["twin"]["req_s"], 3)
        record["server_vs_smallest"] = round(record["server"]["req_s"] / base.median("throughput"), 3) if base else None
        record["twin_vs_smallest"] = round(record["twin"]["req_s"] / twin_base.median("throughput"), 3) if twin_base else None
        table.append(record)
    return table


def render(table: list[dict[str, Any]], smallest: int) -> str:
    head = (f"{'calls':>7}  {'operation':<14} {'ext':<7} {'ext calls':>9} | "
            f"{'server req/s':>12} {'p50 ms':>7} {'p99 ms':>7} {'cpu/req':>7} | "
            f"{'twin req/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'cpu/req':>7} | "
            f"{'srv/twin':>8} {'vs ' + fmt_size(smallest):>7} | {'RSS srv MB':>10} {'twin MB':>7}")
    lines = [head, "-" * len(head)]
    for r in table:
        s, t = r["server"], r["twin"]
        flat = "" if r["server_vs_smallest"] is None else f"{r['server_vs_smallest']:.2f}"
        lines.append(
            f"{r['calls']:>7}  {r['operation']:<14} {r['extension']:<7} {r['ext_calls']:>9.0f} | "
            f"{s['req_s']:>12.1f} {s['p50_ms']:>7.1f} {s['p99_ms']:>7.1f} {s['cpu_ms_per_req']:>7.2f} | "
            f"{t['req_s']:>10.1f} {t['p50_ms']:>7.1f} {t['p99_ms']:>7.1f} {t['cpu_ms_per_req']:>7.2f} | "
            f"{r['server_vs_twin']:>8.2f} {flat:>7} | {s['peak_rss_mb']:>10.0f} {t['peak_rss_mb']:>7.0f}")
    return "\n".join(lines)


def verdicts(table: list[dict[str, Any]]) -> list[str]:
    largest = max(r["calls"] for r in table)
    smallest = min(r["calls"] for r in table)
    lines = []
    ratio_fail = [r for r in table if r["server_vs_twin"] < TARGET_RATIO]
    lines.append(f"server >= {TARGET_RATIO:.0%} of twin throughput: "
                 + ("met on every row" if not ratio_fail else "MISSED on " + ", ".join(
                     f"{r['operation']}/{r['extension']}@{fmt_size(r['calls'])} ({r['server_vs_twin']:.2f})" for r in ratio_fail)))
    if largest != smallest:
        flat_fail = [r for r in table if r["calls"] == largest and r["server_vs_smallest"] < FLAT_TOLERANCE]
        lines.append(f"flat from {fmt_size(smallest)} to {fmt_size(largest)} (server keeps >= {FLAT_TOLERANCE:.0%}): "
                     + ("met on every operation" if not flat_fail else "MISSED on " + ", ".join(
                         f"{r['operation']}/{r['extension']} ({r['server_vs_smallest']:.2f})" for r in flat_fail)))
    rss = max(r["server"]["peak_rss_mb"] for r in table if r["calls"] == largest)
    lines.append(f"server peak RSS at {fmt_size(largest)} under {TARGET_RSS_MB} MB: "
                 + ("met" if rss < TARGET_RSS_MB else "MISSED") + f" ({rss:.0f} MB)")
    other = max(r["other_cpu"] for r in table)
    lines.append(f"other load on the machine: up to {other:.1f} cores busy with other processes during a round "
                 "(a PostgreSQL server on this machine counts here)"
                 + (" -- wall-clock figures are disturbed; cpu/req is disturbed less" if other > 0.25 else ""))
    client = max(r["client_cpu"] for r in table)
    lines.append(f"load generator: at most {client:.0%} of its core busy"
                 + (" -- near saturation, the client may be the bottleneck" if client > 0.85 else
                    " (not the bottleneck)"))
    return lines


def fmt_size(n: int) -> str:
    exponent = len(str(n)) - 1
    return f"10^{exponent}" if n == 10 ** exponent else str(n)


# -- main ------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000", help="store sizes in live calls (default 1000,100000)")
    parser.add_argument("--requests", type=int, default=2000,
                        help="requests per round at most (hang-ups: at most the calls of the extension kind; default 2000)")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="a round stops issuing requests after this long, once it has --min-requests (default 4)")
    parser.add_argument("--min-requests", type=int, default=60, help="requests per round at least (default 60)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw",
                        help="load generator: a minimal keep-alive HTTP/1.1 client (default) or httpx.AsyncClient, "
                             "which costs several times more CPU per request and saturated its core first here")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per server and operation (default 3)")
    parser.add_argument("--warmup", type=int, default=60, help="warm-up requests per server and operation (default 60)")
    parser.add_argument("--hot", type=int, default=1000,
                        help="live calls of the hot extension, at most half the store (default 1000)")
    parser.add_argument("--calls-per-ext", type=int, default=4,
                        help="calls charged to each typical extension; users grow with the size (default 4)")
    parser.add_argument("--operations", default=",".join(o.key for o in OPERATIONS),
                        help="comma-separated subset of " + ", ".join(o.key for o in OPERATIONS))
    parser.add_argument("--database", default="sqlite", metavar="sqlite|URL",
                        help="'sqlite' (a fresh file per size, the default) or a postgresql:// URL of a database "
                             "the benchmark may wipe: its uapi tables are dropped and refilled")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the servers and the load generator to separate CPUs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", nargs="?", const="", metavar="FILE",
                        help="also write the table as JSON (default file: bench/results/bench_server-<time>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, logs)")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.operations = set(args.operations.split(","))
    unknown = args.operations - {o.key for o in OPERATIONS}
    if unknown:
        parser.error(f"unknown operations: {', '.join(sorted(unknown))}")
    if args.database != "sqlite" and not args.database.startswith(("postgresql://", "postgres://", "sqlite:///")):
        parser.error("--database: 'sqlite', sqlite:///PATH or a postgresql:// URL")
    return args


def code_under_test() -> str:
    """Where the server code comes from, and its commit when that is a git checkout."""
    import uapi
    root = Path(uapi.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--",
                                "uapi", "handlers", "openapi"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return f"{root} at {commit}" + (" with uncommitted changes to the server" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return f"{root} (not a git checkout)"


def cpu_plan(no_pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """(the servers' CPUs, the load generator's CPUs)."""
    available = sorted(os.sched_getaffinity(0))
    if no_pin or len(available) < 2:
        return None, None
    return {available[-1]}, set(available[:-1])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server_cpus, client_cpus = cpu_plan(args.no_pin)
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    loop_factory = event_loop_factory()
    work = Path(tempfile.mkdtemp(prefix="uapi-bench-"))
    started = time.time()
    rows: list[Row] = []
    rss: dict[tuple[int, str], float] = {}
    descriptions = []
    try:
        for size in args.sizes:
            hot = min(args.hot, size // 2)
            t0 = time.perf_counter()
            workload = wl.build(size, hot, args.calls_per_ext, args.seed)
            database = f"sqlite:///{work / f'calls-{size}.db'}" if args.database == "sqlite" else args.database
            per_extension = wl.fill(workload, database)
            directory = workload.write_directory(work / f"directory-{size}.json")
            description = (f"{fmt_size(size)} live calls: {len(workload.typical_extensions)} typical extensions "
                           f"(one per user, {len(workload.directory.organizations)} organizations), "
                           f"hot extension with {workload.hot} calls")
            descriptions.append(description)
            progress(f"{description}; filled in {time.perf_counter() - t0:.0f} s")
            servers = {app: ServerProcess(app, directory, database, server_cpus, work / f"{app}-{size}.log")
                       for app in APPS}
            try:
                probe = f"/uapi/phoneCalls/{wl.HOT_USER}/{wl.HOT_EXTENSION}?count=1"
                for proc in servers.values():
                    proc.wait_ready(probe)
                runner = asyncio.Runner(loop_factory=loop_factory)
                with runner:
                    rows += runner.run(measure_size(args, workload, per_extension, servers, database))
                for app, proc in servers.items():
                    rss[(size, app)] = proc.peak_rss_mb()
            finally:
                for proc in servers.values():
                    proc.stop()
            if args.database == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(database.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    finally:
        if args.keep:
            progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    table = summarize(rows, rss)
    smallest = min(args.sizes)
    command = "bench/bench_server.py " + " ".join(sys.argv[1:] if argv is None else argv)
    header = [f"uapi server benchmark -- {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
              f"database {args.database.split('://')[0]}, concurrency {args.concurrency}, "
              f"median of {args.rounds} rounds, {time.time() - started:.0f} s",
              f"code: {code_under_test()}; client {args.client}; "
              + ("servers and load generator pinned to separate CPUs" if server_cpus else "no CPU pinning"),
              *descriptions]
    print("\n".join(header))
    print(render(table, smallest))
    print("\n".join(verdicts(table)))
    if args.json is not None:
        path = Path(args.json) if args.json else BENCH_DIR / "results" / f"bench_server-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"command": command, "header": header, "verdicts": verdicts(table),
                                    "settings": {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(args).items()},
                                    "rows": table}, indent=2) + "\n", encoding="utf-8")
        progress(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
