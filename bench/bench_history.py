"""History benchmark: by-id lookups and list pages against 10^3 .. 10^6 stored calls.

For each size N a fresh database is filled in bulk (every row a real call document, made by
the domain once and stamped with new ids) and then queried through `uapi.store.sql.SqlStore`, the
same async engine and statements the server uses. Half of the calls are the "hot" extension's
(John's 0003*210): its 100 newest are live, the rest ended, so a lookup that read the
extension's history would grow with N. The other half go round-robin over N/100 typical
extensions (50 calls each, the newest 10 % live), so the live set grows with N too while each
extension keeps the same few live calls. Prints the median (and p90) of each query in
microseconds, and at the largest size the plans the database chose.

    .venv/bin/python bench/bench_history.py                          # SQLite, 10^3 .. 10^6 (a few minutes)
    .venv/bin/python bench/bench_history.py --sizes 1000,100000      # quicker
    .venv/bin/python bench/bench_history.py --database postgresql://USER@HOST/DB   # drops that DB's uapi tables
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # `bench.workload` from a checkout

from bench.workload import sync_url  # noqa: E402
from uapi.accounts import Directory, Principal  # noqa: E402
from uapi.calls import CallOptions, CallService  # noqa: E402
from uapi.settings import DEMO_DIRECTORY  # noqa: E402
from uapi.store.port import ListQuery  # noqa: E402
from uapi.store.sql import (  # noqa: E402
    SqlStore,
    call_members,
    calls,
    find_call_statement,
    live_page_statements,
    metadata,
)
from uapi.switch.sim import SimulatedSwitch  # noqa: E402

HOT = "0003*210"
SELF = [HOT, "0003*211"]
HOT_LIVE = 100
CALLS_PER_TYPICAL = 50
BATCH = 20_000


async def template_document() -> dict[str, Any]:
    """One call document exactly as the domain writes it: a simple call from John's 210 to a
    public number, placed through CallService on a throwaway in-memory store."""
    directory = Directory.load(DEMO_DIRECTORY)
    store = SqlStore("sqlite://")
    await store.start()
    try:
        service = CallService(directory, store, SimulatedSwitch(directory.simulator), time.time, lambda: "0" * 20)
        john = directory.extensions[HOT]
        body = {"extension": "210", "phoneCallView": [{"destination": "8887777"}]}
        return await service.create("simple", john.user, john, body, CallOptions(), Principal("bench", "admin"))
    finally:
        await store.close()


class Layout:
    """Which calls exist at size N, and which of them are live; deterministic in N."""

    def __init__(self, size: int, now_ms: int) -> None:
        self.size = size
        self.now_ms = now_ms
        self.hot = (size + 1) // 2
        self.typical = size - self.hot
        self.extensions = max(1, self.typical // CALLS_PER_TYPICAL)

    def call_id(self, i: int) -> str:
        return f"{i:020x}"

    def published(self, i: int) -> int:
        return self.now_ms - (self.size - i) * 1000

    def member(self, i: int) -> tuple[str, bool]:
        """(extension, live) of call i: even calls are the hot extension's, odd ones typical."""
        if i % 2 == 0:
            return HOT, i // 2 >= self.hot - HOT_LIVE
        j = i // 2
        return f"0005*{1000 + j % self.extensions}", j >= self.typical * 9 // 10

    def ids(self, hot: bool, live: bool) -> list[str]:
        found = []
        for i in range(0 if hot else 1, self.size, 2):
            if self.member(i)[1] == live:
                found.append(self.call_id(i))
        return found


def fill(database_url: str, layout: Layout) -> None:
    template = json.dumps(asyncio.run(template_document()))
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            metadata.drop_all(conn)
        with engine.begin() as conn:
            metadata.create_all(conn)
        sqlite = engine.dialect.name == "sqlite"
        for start in range(0, layout.size, BATCH):
            rows, members = [], []
            for i in range(start, min(layout.size, start + BATCH)):
                call_id, published = layout.call_id(i), layout.published(i)
                extension, live = layout.member(i)
                ended = None if live else published + 60_000
                doc = template.replace('"id": "', f'"id": "{call_id}', 1)   # one id per document
                rows.append({"id": call_id, "organization_id": "3", "published": published, "ended": ended,
                             "next_event": None, "version": 0, "doc": doc if sqlite else json.loads(doc)})
                members.append({"call_id": call_id, "extension": extension, "user_id": "12" if extension in SELF
                                else "u", "published": published, "ended": ended, "ends_at": None})
            with engine.begin() as conn:
                if sqlite:   # the driver's executemany with the JSON text: many times faster than Core here
                    for table, batch in ((calls, rows), (call_members, members)):
                        names = list(batch[0])
                        conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(names)}) "
                                             f"VALUES ({', '.join('?' for _ in names)})",
                                             [tuple(row[n] for n in names) for row in batch])
                else:
                    conn.execute(calls.insert(), rows)
                    conn.execute(call_members.insert(), members)
        if not sqlite:   # what autovacuum does after a bulk load (SQLite is left unanalyzed, as the server leaves it)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        engine.dispose()


async def timed(operation: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float]:
    """(median, p90) of `runs` awaits of `operation`, in microseconds, after a warm-up."""
    for _ in range(max(10, runs // 10)):
        await operation()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await operation()
        samples.append((time.perf_counter() - began) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9)]


async def measure(database_url: str, layout: Layout, runs: int, show_plans: bool) -> dict[str, tuple[float, float]]:
    store = SqlStore(database_url)
    rng = random.Random(7)
    hot_ended, hot_live = layout.ids(True, False), layout.ids(True, True)
    typical_ended, typical_live = layout.ids(False, False), layout.ids(False, True)
    typical_ext = layout.member(1)[0]
    now = layout.now_ms

    def by_id(ids: list[str], extensions: list[str] | None = None) -> Callable[[], Awaitable[Any]]:
        async def lookup() -> None:
            call_id = rng.choice(ids)
            found = await store.find_call(call_id, extensions or [layout.member(int(call_id, 16))[0]])
            assert found is not None and found.id == call_id
        return lookup

    def page(extensions: list[str], pages: int) -> Callable[[], Awaitable[Any]]:
        async def list_page() -> None:
            total, calls_ = await store.live_calls_page(extensions, now, ListQuery(start=20 * rng.randrange(pages)))
            assert total > 0 and calls_
        return list_page

    operations = {
        "by id, hot, ended": by_id(hot_ended, [HOT]) if hot_ended else None,
        "by id, hot, live": by_id(hot_live, [HOT]),
        "by id, hot, ended, @self": by_id(hot_ended, SELF) if hot_ended else None,
        "by id, typical, ended": by_id(typical_ended) if typical_ended else None,
        "by id, typical, live": by_id(typical_live) if typical_live else None,
        "list page, hot (100 live)": page([HOT], HOT_LIVE // 20),
        "list page, hot, @self": page(SELF, HOT_LIVE // 20),
        "list page, typical": page([typical_ext], 1),
    }
    results: dict[str, tuple[float, float]] = {}
    try:
        for name, operation in operations.items():
            if operation is not None:
                results[name] = await timed(operation, runs)
        if show_plans:
            await print_plans(store, hot_ended[0] if hot_ended else hot_live[0], now)
    finally:
        await store.close()
    return results


async def print_plans(store: SqlStore, call_id: str, now: int) -> None:
    count, page = live_page_statements([HOT], now, ListQuery())

    def explain(conn: Any) -> None:
        sqlite = conn.dialect.name == "sqlite"
        for label, statement in (("by id", find_call_statement(call_id, [HOT])), ("list count", count),
                                 ("list page", page)):
            sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}" if sqlite else f"EXPLAIN {sql}").all()
            print(f"  plan, {label}: " + " | ".join(str(row[-1] if sqlite else row[0]).strip() for row in rows))

    await store.db.read(explain)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000", help="comma-separated store sizes")
    parser.add_argument("--database", help="a PostgreSQL URL to use instead of a temporary SQLite file")
    parser.add_argument("--runs", type=int, default=400, help="measured runs of each query (default 400)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    table: dict[int, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-history-") as folder:
        for size in sizes:
            url = args.database or f"sqlite:///{folder}/history-{size}.db"
            layout = Layout(size, int(time.time() * 1000))
            began = time.perf_counter()
            fill(url, layout)
            print(f"N={size}: filled in {time.perf_counter() - began:.1f} s "
                  f"({len(layout.ids(True, True)) + len(layout.ids(False, True))} live)", flush=True)
            table[size] = asyncio.run(measure(url, layout, args.runs, size == sizes[-1]))
            if not args.database:
                Path(folder, f"history-{size}.db").unlink()
    store_kind = "PostgreSQL" if args.database else "SQLite"
    names = list(table[sizes[-1]])
    print(f"\nmedian (p90) in microseconds, {store_kind}, {args.runs} runs each")
    print("| query | " + " | ".join(f"N={n:,}" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for name in names:
        cells = [f"{table[n][name][0]:.0f} ({table[n][name][1]:.0f})" if name in table[n] else "-" for n in sizes]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
