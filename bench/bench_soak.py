"""Soak benchmark: a real `uapi serve` under a steady mixed load for an hour, one line a minute.

    .venv/bin/python bench/bench_soak.py [--minutes 60] [--concurrency 8]
                                         [--database sqlite|pg|postgresql://USER@HOST/DB] [--json [FILE]]

Starts `uapi serve` (SQLite file in a temporary directory by default) with a generated
directory of two organizations, three users each, one app per user and one per organization,
Argon2id-hashed secrets. `--concurrency` clients, each with its own app, then loop for
`--minutes`: take a token (again every `--token-every` seconds), place a simple call, read it
by id, list their extension, put one of their live calls on hold and off it again, read one of
their ended calls by id, and hang up their oldest live call once they hold more than
`--keep-live`. A share of the calls (`--auto-end`) gets a short `callDuration` and is left for
the server's deadline sweeper to end. History therefore grows the whole run, tens of thousands
of ended calls an hour, while the live set stays about constant.

Every minute: requests/s per operation and in total, p50/p99 latency, errors, server CPU per
request, server RSS, database size and stored calls (live/ended). At the end: throughput and
p99 of the last 10 minutes against the first 10, RSS growth, errors, and the verdict ("flat":
the last 10 minutes keep >= 90 % of the first 10 minutes' throughput, and no error). See
bench/README.md for how to read it. Not a test: nothing here is collected by pytest.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))   # `tests.support` from the checkout

from bench_server import RawClient, code_under_test, cpu_plan, percentile  # noqa: E402  (one raw client for the benchmarks)
from procfs import (  # noqa: E402
    event_loop_factory,
    machine_busy_seconds,
    process_cpu_seconds,
    process_memory_mb,
)
from procfs import own_cpu_seconds as client_cpu_seconds  # noqa: E402

from tests.support.servers import ServerProcess  # noqa: E402  (the tests' `uapi serve` process)

KINDS = ("token", "create", "get", "list", "update", "hangup")
EXPECTED = {"token": {200}, "create": {200}, "get": {200}, "list": {200, 204}, "update": {200}, "hangup": {200}}
FLAT_THROUGHPUT = 0.90   # "flat": the last window keeps >= 90 % of the first window's throughput
WINDOW_MINUTES = 10
ORGANIZATIONS = 2
USERS_PER_ORG = 3
PUBLIC_PREFIX = "+1555"
ERROR_SAMPLES = 20


# -- the directory -----------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    user_id: str
    number: str  # the user's phone_terminal extension, local number
    organization: str


@dataclass(frozen=True)
class Role:
    """The app one client uses: a user's app (its own extension) or an organization's (any user of it)."""

    client_id: str
    secret: str
    members: tuple[Member, ...]
    me: bool  # a user app places its calls as @me


def directory(users_per_org: int) -> tuple[dict[str, Any], list[Role]]:
    """The directory file's content, and the roles in the order the clients take them (user, user,
    organization, ...), so that even a small --concurrency includes an organization's app."""
    from uapi.client_secrets import hash_secret

    data: dict[str, Any] = {"organizations": [], "users": [], "extensions": [], "apps": [],
                            "simulator": {"answerDelay": 0}}
    users: list[Role] = []
    orgs: list[Role] = []
    for o in range(1, ORGANIZATIONS + 1):
        org_id, code = str(o), f"{o:04d}"
        data["organizations"].append({"id": org_id, "name": f"Soak Organization {o}", "code": code})
        members = []
        for u in range(1, users_per_org + 1):
            user_id, number = f"{o}{u:02d}", f"{200 + u}"
            data["users"].append({"id": user_id, "organization": org_id, "name": f"Soak User {o}.{u}"})
            data["extensions"].append({"number": number, "user": user_id, "type": "phone_terminal",
                                       "callerId": f"Soak User {o}.{u} <{code}*{number}>"})
            members.append(Member(user_id, number, org_id))
            users.append(Role(f"user-{user_id}", f"secret-{user_id}", (members[-1],), True))
        orgs.append(Role(f"org-{org_id}", f"secret-org-{org_id}", tuple(members), False))
    for role in [*users, *orgs]:
        data["apps"].append({"clientId": role.client_id, "clientSecret": hash_secret(role.secret),
                             "account": f"user:{role.members[0].user_id}" if role.me
                             else f"organization:{role.members[0].organization}"})
    order: list[Role] = []
    while users or orgs:
        order += [users.pop(0) for _ in range(2) if users]
        if orgs:
            order.append(orgs.pop(0))
    return data, order


# -- measurements ------------------------------------------------------------------


@dataclass
class Bucket:
    """What the clients saw during one minute."""

    started: float
    counts: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: Counter[str] = field(default_factory=Counter)
    calls_placed: int = 0
    calls_hung_up: int = 0


@dataclass
class Minute:
    minute: int
    seconds: float
    requests: int
    rate: dict[str, float]          # requests/s per operation kind, and "total"
    p50_ms: float
    p99_ms: float
    p99_ms_by_kind: dict[str, float]
    errors: int
    errors_by_kind: dict[str, int]
    calls_placed: int
    calls_hung_up: int
    server_cpu: float               # cores the server kept busy
    cpu_ms_per_request: float
    client_cpu: float               # cores this process (the load generator) kept busy
    other_cpu: float                # cores busy with anything else on the machine
    rss_mb: float
    database_mb: float
    live_calls: int
    ended_calls: int


class Store:
    """Size and call counts of the server's database, read from beside the server."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite_path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None

    def read(self) -> tuple[float, int, int]:
        """(database MB, live calls, ended calls)."""
        # Both counts read indexes only (SQLite: ix_calls_next_event and the partial ix_calls_ended),
        # never the documents, so a minute's reading stays cheap however large the history grows.
        counting = "SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM calls WHERE ended IS NOT NULL)"
        if self.sqlite_path is not None:
            size = sum(p.stat().st_size for p in (self.sqlite_path, *(Path(f"{self.sqlite_path}{s}")
                                                                    for s in ("-wal", "-shm"))) if p.exists())
            with contextlib.closing(sqlite3.connect(self.sqlite_path, timeout=10)) as conn:
                total, ended = conn.execute(counting).fetchone()
            return size / 2**20, int(total) - int(ended), int(ended)
        import psycopg

        with psycopg.connect(plain_postgres_url(self.url), autocommit=True) as conn:
            size_row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            counts = conn.execute(counting).fetchone()
        assert size_row is not None and counts is not None
        return int(size_row[0]) / 2**20, int(counts[0]) - int(counts[1]), int(counts[1])


def plain_postgres_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def wipe_postgres(url: str) -> None:
    """Drop the server's tables, so the soak starts from an empty store (the server creates them)."""
    from sqlalchemy import create_engine

    from uapi.store.sql import metadata

    engine = create_engine(f"postgresql+psycopg://{plain_postgres_url(url).partition('://')[2]}")
    try:
        with engine.begin() as conn:
            metadata.drop_all(conn)
    finally:
        engine.dispose()


# -- the load ----------------------------------------------------------------------


@dataclass(frozen=True)
class CallRef:
    id: str
    user_id: str
    number: str

    def path(self) -> str:
        return f"/uapi/phoneCalls/{self.user_id}/{self.number}/{self.id}"


class Soak:
    def __init__(self, args: argparse.Namespace, server: ServerProcess, roles: list[Role], store: Store) -> None:
        self.args = args
        self.server = server
        self.roles = roles
        self.store = store
        self.client = RawClient(server.base_url, {}, args.concurrency)
        self.bucket = Bucket(time.perf_counter())
        self.stopping = False
        self.minutes: list[Minute] = []
        self.all_latencies: list[list[float]] = []   # per minute, every kind, sorted
        self.error_samples: list[str] = []
        self.printed_samples = 0
        self.peak_rss_mb = 0.0
        self.members = [m for role in roles for m in role.members]
        self.failure: str | None = None   # why the run stopped early

    # One request, timed and checked. Answers the response, or None after an error.
    async def call(self, kind: str, method: str, path: str, token: str | None, body: bytes = b"",
                   content_type: str = "application/json") -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if body:
            headers["Content-Type"] = content_type
        bucket = self.bucket
        started = time.perf_counter()
        problem = None
        response = None
        try:
            response = await asyncio.wait_for(self.client.request(method, path, body, headers), self.args.timeout)
        except TimeoutError:
            problem = f"timeout after {self.args.timeout:g} s"
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - started
        if self.stopping and bucket is not self.bucket:
            return None   # answered after the last minute closed: not counted
        if response is not None and response.status_code not in EXPECTED[kind]:
            problem = f"{response.status_code} {response.text[:200]}"
        bucket.counts[kind] += 1
        bucket.latencies[kind].append(elapsed)
        if problem is not None:
            bucket.errors[kind] += 1
            if len(self.error_samples) < ERROR_SAMPLES:
                self.error_samples.append(f"{time.strftime('%H:%M:%S')} {kind}: {method} {path} -> {problem}")
            return None
        return response

    async def client_loop(self, number: int) -> None:
        args = self.args
        role = self.roles[number % len(self.roles)]
        rng = random.Random(args.seed * 1000 + number)
        token: str | None = None
        token_due = 0.0
        live: deque[CallRef] = deque()
        ending: deque[tuple[float, CallRef]] = deque()   # calls the sweeper will end, by when
        history: list[CallRef] = []
        form = urlencode({"grant_type": "client_credentials", "client_id": role.client_id,
                          "client_secret": role.secret}).encode()
        while not self.stopping:
            now = time.monotonic()
            if token is None or now >= token_due:
                answer = await self.call("token", "POST", "/oauth/token", None, form,
                                         "application/x-www-form-urlencoded")
                if answer is None:
                    await asyncio.sleep(1)
                    continue
                token = json.loads(answer.body)["access_token"]
                token_due = now + args.token_every * rng.uniform(0.9, 1.1)
            member = rng.choice(role.members)
            peers = [m for m in self.members if m.organization == member.organization and m != member]
            destination = (rng.choice(peers).number if peers and rng.random() < 0.5
                           else f"{PUBLIC_PREFIX}{rng.randrange(10**7):07d}")
            duration = rng.randint(args.auto_end_seconds // 2, args.auto_end_seconds) \
                if rng.random() < args.auto_end else 0
            query = f"?callDuration={duration}" if duration else ""
            body = json.dumps({"extension": member.number, "phoneCallView": [{"destination": [destination]}]})
            owner = "@me" if role.me else member.user_id
            answer = await self.call("create", "POST", f"/uapi/phoneCalls/{owner}/simple{query}", token, body.encode())
            if self.stopping:
                break
            if answer is not None:
                self.bucket.calls_placed += 1
                created = CallRef(json.loads(answer.body)[0]["id"], member.user_id, member.number)
                if duration:
                    ending.append((time.monotonic() + duration + args.sweep_slack, created))
                else:
                    live.append(created)
                await self.call("get", "GET", created.path(), token)
            await self.call("list", "GET", f"/uapi/phoneCalls/{member.user_id}/{member.number}?count=20", token)
            if live:
                target = rng.choice(live)
                for action in ("OnHold", "OffHold"):
                    await self.call("update", "PUT", target.path(), token,
                                    json.dumps({"action": action, "phoneCallViewId": "00"}).encode())
            while ending and ending[0][0] <= time.monotonic():
                history.append(ending.popleft()[1])
            if history:
                old = rng.choice(history)
                answer = await self.call("get", "GET", old.path(), token)
                if answer is not None and b'"ended"' not in answer.body:
                    self.note_error("get", f"GET {old.path()} -> 200 but the call is not ended")
            while len(live) > args.keep_live and not self.stopping:
                oldest = live.popleft()
                if await self.call("hangup", "DELETE", oldest.path(), token) is not None:
                    self.bucket.calls_hung_up += 1
                history.append(oldest)

    def note_error(self, kind: str, message: str) -> None:
        self.bucket.errors[kind] += 1
        if len(self.error_samples) < ERROR_SAMPLES:
            self.error_samples.append(f"{time.strftime('%H:%M:%S')} {kind}: {message}")

    async def run(self) -> None:
        args = self.args
        clients = [asyncio.create_task(self.client_loop(n)) for n in range(args.concurrency)]
        pid = self.server.process.pid
        server_cpu, client_cpu, busy = process_cpu_seconds(pid), client_cpu_seconds(), machine_busy_seconds()
        start = time.perf_counter()
        self.bucket = Bucket(start)
        print(self.header_line(), flush=True)
        try:
            for minute in range(1, args.minutes + 1):
                await asyncio.sleep(max(0.0, start + minute * args.minute_seconds - time.perf_counter()))
                if self.server.process.poll() is not None:
                    raise RuntimeError(f"uapi serve exited with {self.server.process.returncode} in minute {minute}")
                if minute == args.minutes:
                    self.stopping = True
                bucket, self.bucket = self.bucket, Bucket(time.perf_counter())
                ended_at = self.bucket.started
                cpu_now, client_now, busy_now = process_cpu_seconds(pid), client_cpu_seconds(), machine_busy_seconds()
                database_mb, live, ended = await asyncio.to_thread(self.store.read)
                rss = process_memory_mb(pid, "VmRSS")
                self.peak_rss_mb = max(self.peak_rss_mb, process_memory_mb(pid, "VmHWM"))
                seconds = ended_at - bucket.started
                record = self.summarize(minute, bucket, seconds, cpu_now - server_cpu, client_now - client_cpu,
                                        busy_now - busy, rss, database_mb, live, ended)
                server_cpu, client_cpu, busy = cpu_now, client_now, busy_now
                self.minutes.append(record)
                print(self.minute_line(record), flush=True)
                for sample in self.error_samples[self.printed_samples:]:
                    print(f"      error: {sample}", flush=True)
                self.printed_samples = len(self.error_samples)
        finally:
            self.stopping = True
            for task in clients:
                task.cancel()
            await asyncio.gather(*clients, return_exceptions=True)
            await self.client.aclose()

    def summarize(self, minute: int, bucket: Bucket, seconds: float, server_cpu: float, client_cpu: float,
                  busy: float, rss: float, database_mb: float, live: int, ended: int) -> Minute:
        every = sorted(x for kind in KINDS for x in bucket.latencies[kind])
        self.all_latencies.append(every)
        requests = len(every)
        rate = {kind: bucket.counts[kind] / seconds for kind in KINDS}
        rate["total"] = requests / seconds
        return Minute(
            minute=minute, seconds=round(seconds, 2), requests=requests,
            rate={k: round(v, 2) for k, v in rate.items()},
            p50_ms=round(1000 * percentile(every, 0.50), 2) if every else 0.0,
            p99_ms=round(1000 * percentile(every, 0.99), 2) if every else 0.0,
            p99_ms_by_kind={k: round(1000 * percentile(sorted(v), 0.99), 2)
                            for k, v in bucket.latencies.items() if v},
            errors=sum(bucket.errors.values()), errors_by_kind=dict(bucket.errors),
            calls_placed=bucket.calls_placed, calls_hung_up=bucket.calls_hung_up,
            server_cpu=round(server_cpu / seconds, 3),
            cpu_ms_per_request=round(1000 * server_cpu / requests, 2) if requests else 0.0,
            client_cpu=round(client_cpu / seconds, 3),
            other_cpu=round(max(0.0, busy - server_cpu - client_cpu) / seconds, 2),
            rss_mb=round(rss, 1), database_mb=round(database_mb, 1), live_calls=live, ended_calls=ended)

    @staticmethod
    def header_line() -> str:
        return (f"{'min':>4} {'total/s':>7} {'create':>6} {'get':>6} {'list':>6} {'update':>6} {'hangup':>6} "
                f"{'token':>5} | {'p50 ms':>7} {'p99 ms':>7} | {'errors':>6} | {'cpu/req':>7} {'srv cpu':>7} "
                f"{'gen':>4} {'other':>5} | {'RSS MB':>6} {'DB MB':>7} | {'live':>5} {'ended':>8}")

    @staticmethod
    def minute_line(m: Minute) -> str:
        r = m.rate
        return (f"{m.minute:>4} {r['total']:>7.1f} {r['create']:>6.1f} {r['get']:>6.1f} {r['list']:>6.1f} "
                f"{r['update']:>6.1f} {r['hangup']:>6.1f} {r['token']:>5.2f} | {m.p50_ms:>7.1f} {m.p99_ms:>7.1f} | "
                f"{m.errors:>6} | {m.cpu_ms_per_request:>7.2f} {100 * m.server_cpu:>6.0f}% "
                f"{100 * m.client_cpu:>3.0f}% {m.other_cpu:>5.2f} | "
                f"{m.rss_mb:>6.0f} {m.database_mb:>7.1f} | {m.live_calls:>5} {m.ended_calls:>8}")


# -- the verdict -------------------------------------------------------------------


def window_figures(soak: Soak, indexes: range) -> dict[str, float]:
    minutes = [soak.minutes[i] for i in indexes]
    seconds = sum(m.seconds for m in minutes)
    latencies = sorted(x for i in indexes for x in soak.all_latencies[i])
    return {"from_minute": minutes[0].minute, "to_minute": minutes[-1].minute,
            "requests_per_s": round(sum(m.requests for m in minutes) / seconds, 2),
            "calls_per_s": round(sum(m.calls_placed for m in minutes) / seconds, 2),
            "p50_ms": round(1000 * percentile(latencies, 0.50), 2) if latencies else 0.0,
            "p99_ms": round(1000 * percentile(latencies, 0.99), 2) if latencies else 0.0,
            "cpu_ms_per_request": round(statistics.mean(m.cpu_ms_per_request for m in minutes), 2),
            "other_cpu": round(statistics.mean(m.other_cpu for m in minutes), 2)}


def conclude(soak: Soak) -> dict[str, Any]:
    count = len(soak.minutes)
    window = max(1, min(WINDOW_MINUTES, count // 2))
    first = window_figures(soak, range(0, window))
    last = window_figures(soak, range(count - window, count))
    throughput_ratio = last["requests_per_s"] / first["requests_per_s"] if first["requests_per_s"] else 0.0
    p99_ratio = last["p99_ms"] / first["p99_ms"] if first["p99_ms"] else 0.0
    errors = sum(m.errors for m in soak.minutes)
    flat = throughput_ratio >= FLAT_THROUGHPUT and errors == 0
    return {"window_minutes": window, "first": first, "last": last,
            "throughput_ratio": round(throughput_ratio, 3), "p99_ratio": round(p99_ratio, 3),
            "rss_first_mb": soak.minutes[0].rss_mb, "rss_last_mb": soak.minutes[-1].rss_mb,
            "rss_growth_mb": round(soak.minutes[-1].rss_mb - soak.minutes[0].rss_mb, 1),
            "peak_rss_mb": round(soak.peak_rss_mb, 1), "errors": errors,
            "requests": sum(m.requests for m in soak.minutes),
            "calls_placed": sum(m.calls_placed for m in soak.minutes),
            "stored_calls": {"live": soak.minutes[-1].live_calls, "ended": soak.minutes[-1].ended_calls},
            "database_mb": soak.minutes[-1].database_mb,
            "verdict": "flat" if flat else "NOT flat"}


def render_conclusion(c: dict[str, Any]) -> list[str]:
    first, last, w = c["first"], c["last"], c["window_minutes"]
    why = []
    if c["throughput_ratio"] < FLAT_THROUGHPUT:
        why.append(f"last {w} min below {FLAT_THROUGHPUT:.0%} of the first")
    if c["errors"]:
        why.append(f"{c['errors']} errors")
    return [
        f"first {w} min (minutes {first['from_minute']}-{first['to_minute']}): {first['requests_per_s']:.1f} req/s, "
        f"{first['calls_per_s']:.1f} calls/s, p50 {first['p50_ms']:.1f} ms, p99 {first['p99_ms']:.1f} ms, "
        f"cpu/req {first['cpu_ms_per_request']:.2f} ms, other load {first['other_cpu']:.2f} cores",
        f"last {w} min (minutes {last['from_minute']}-{last['to_minute']}): {last['requests_per_s']:.1f} req/s, "
        f"{last['calls_per_s']:.1f} calls/s, p50 {last['p50_ms']:.1f} ms, p99 {last['p99_ms']:.1f} ms, "
        f"cpu/req {last['cpu_ms_per_request']:.2f} ms, other load {last['other_cpu']:.2f} cores",
        f"throughput last/first: {c['throughput_ratio']:.2f}   p99 last/first: {c['p99_ratio']:.2f}",
        f"server RSS: {c['rss_first_mb']:.0f} MB after minute 1 -> {c['rss_last_mb']:.0f} MB at the end "
        f"({c['rss_growth_mb']:+.0f} MB), peak {c['peak_rss_mb']:.0f} MB",
        f"store at the end: {c['stored_calls']['live']} live and {c['stored_calls']['ended']} ended calls, "
        f"{c['database_mb']:.0f} MB; {c['requests']} requests, {c['calls_placed']} calls placed",
        f"errors: {c['errors']}",
        f"verdict: {c['verdict']}" + (f" ({'; '.join(why)})" if why else
                                      f" (last {w} min >= {FLAT_THROUGHPUT:.0%} of the first, no errors)"),
    ]


# -- main --------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=60, help="length of the run in minutes (default 60)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="clients, each with one request in flight (default 8)")
    parser.add_argument("--database", default="sqlite", metavar="sqlite|pg|URL",
                        help="'sqlite' (a fresh file in a temporary directory, the default), 'pg' (a throwaway "
                             "PostgreSQL server, as the tests start one) or a postgresql:// URL of a database "
                             "the soak may wipe: its uapi tables are dropped first")
    parser.add_argument("--keep-live", type=int, default=4,
                        help="live calls each client keeps before hanging up its oldest (default 4)")
    parser.add_argument("--auto-end", type=float, default=0.2,
                        help="share of calls placed with a short callDuration and left to the server to end "
                             "(default 0.2)")
    parser.add_argument("--auto-end-seconds", type=int, default=60,
                        help="those calls last between half this and this many seconds (default 60)")
    parser.add_argument("--token-every", type=float, default=300,
                        help="seconds between a client's token requests (default 300)")
    parser.add_argument("--retention-days", metavar="N",
                        help="passed to uapi serve (default: the server's own, 30 days: nothing is purged)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a request counts as failed")
    parser.add_argument("--sweep-slack", type=float, default=5.0,
                        help="seconds after its callDuration by which a call must read as ended (default 5)")
    parser.add_argument("--minute-seconds", type=float, default=60.0,
                        help="length of one reporting interval, a 'minute' (default 60; shorter only to check "
                             "the script itself)")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the server and the load generator to separate CPUs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", nargs="?", const="", metavar="FILE",
                        help="also write every minute and the conclusion as JSON "
                             "(default file: bench/results/soak-<time>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, server log)")
    args = parser.parse_args(argv)
    if args.minutes < 1 or args.concurrency < 1 or args.keep_live < 0 or not 0 <= args.auto_end <= 1:
        parser.error("--minutes and --concurrency >= 1, --keep-live >= 0, --auto-end within 0..1")
    if args.auto_end_seconds < 2:
        parser.error("--auto-end-seconds: at least 2")
    if args.database not in ("sqlite", "pg") and not args.database.startswith(("postgresql://", "postgres://")):
        parser.error("--database: 'sqlite', 'pg' or a postgresql:// URL")
    return args


@contextlib.contextmanager
def database(choice: str, work: Path) -> Iterator[str]:
    if choice == "sqlite":
        yield f"sqlite:///{work / 'soak.db'}"
    elif choice == "pg":
        from tests.support.postgres import throwaway_postgres

        with throwaway_postgres() as url:
            wipe_postgres(url)
            yield url
    else:
        wipe_postgres(choice)
        yield choice


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server_cpus, client_cpus = cpu_plan(args.no_pin)
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    loop_factory = event_loop_factory()
    work = Path(tempfile.mkdtemp(prefix="uapi-soak-"))
    started = time.time()
    command = "bench/bench_soak.py " + " ".join(sys.argv[1:] if argv is None else argv)
    data, roles = directory(USERS_PER_ORG)
    directory_file = work / "directory.json"
    directory_file.write_text(json.dumps(data), encoding="utf-8")
    roles = roles[:args.concurrency] if args.concurrency < len(roles) else roles
    status = 1
    try:
        with database(args.database, work) as url:
            serve = ["--directory", str(directory_file), "--database", url, "--log-level", "warning"]
            if args.retention_days is not None:
                serve += ["--retention-days", args.retention_days]
            server = ServerProcess(serve, work / "serve.log")
            try:
                if server_cpus:
                    os.sched_setaffinity(server.process.pid, server_cpus)
                server.wait_ready()
                header = [
                    f"uapi soak -- {time.strftime('%Y-%m-%d %H:%M')}, {args.minutes} min, {os.cpu_count()} CPUs, "
                    f"database {args.database.split('://')[0]}, {args.concurrency} clients, "
                    f"each keeps {args.keep_live} live calls, {args.auto_end:.0%} of calls end by callDuration",
                    f"code: {code_under_test()}; `uapi serve` pid {server.process.pid}; "
                    + ("server and load generator pinned to separate CPUs" if server_cpus else "no CPU pinning"),
                    f"directory: {ORGANIZATIONS} organizations x {USERS_PER_ORG} users, one phone_terminal each; "
                    f"apps: {', '.join(r.client_id for r in roles)} (Argon2id secrets)",
                    "per minute: requests/s by operation; p50/p99 of every request; errors; server CPU ms per "
                    "request and share of a core; gen = the load generator's share of a core; "
                    "other = cores busy with the rest of the machine",
                ]
                print("\n".join(header), flush=True)
                soak = Soak(args, server, roles, Store(url))
                with asyncio.Runner(loop_factory=loop_factory) as runner:
                    try:
                        runner.run(soak.run())
                    except RuntimeError as exc:   # the server died: conclude on the minutes measured
                        soak.failure = str(exc)
                        print(f"stopped: {exc}", flush=True)
            finally:
                graceful = server.stop()
                if not graceful:
                    print("uapi serve did not stop on SIGTERM (killed)", flush=True)
        if not soak.minutes:
            print("no minute completed", flush=True)
            return 1
        conclusion = conclude(soak)
        if soak.failure:
            conclusion.update(verdict="NOT flat", stopped=soak.failure)
        lines = render_conclusion(conclusion)
        print("\n".join(lines), flush=True)
        if soak.error_samples:
            print("first errors:\n  " + "\n  ".join(soak.error_samples), flush=True)
            log_tail = (work / "serve.log").read_text(errors="replace").splitlines()[-20:]
            print("server log (last lines):\n  " + "\n  ".join(log_tail), flush=True)
        if args.json is not None:
            default = BENCH_DIR / "results" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
            path = Path(args.json) if args.json else default
            path.parent.mkdir(parents=True, exist_ok=True)
            settings = dict(vars(args))
            path.write_text(json.dumps({"command": command, "header": header, "settings": settings,
                                        "seconds": round(time.time() - started), "conclusion": conclusion,
                                        "summary": lines, "error_samples": soak.error_samples,
                                        "minutes": [vars(m) for m in soak.minutes]}, indent=2) + "\n",
                            encoding="utf-8")
            print(f"wrote {path}", flush=True)
        status = 0 if conclusion["verdict"] == "flat" else 3
    finally:
        if args.keep:
            print(f"kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
