"""The benchmark's store: a generated directory and N live calls written straight into SQL.

The rows are the ones the domain itself writes: every call is created by
``CallService.create("simple", ...)`` (simulated switch, a clock stopped at the call's
publication time) against a stand-in store that keeps the rows instead of writing them. Only
the path to the database differs: one bulk ``executemany`` per table instead of one
request per call, so 10^5 calls take well under a minute instead of many.

Layout of a store of N calls (see README.md):

* **typical** extensions: one phone_terminal extension per user, ``calls_per_ext`` calls
  charged to each (half local calls to another typical extension of the same organization,
  half outgoing to a public number), so an extension takes part in about 1.5 x
  ``calls_per_ext`` live calls at every N; the number of users grows with N instead.
* one **hot** extension with ``hot`` calls of its own (outgoing, to public numbers).

Calls are published CALL_SPACING_MS apart, the last one at the fill, so with the default
call duration (1 hour) none ends by itself while the benchmark runs.
"""
from __future__ import annotations

import functools
import json
import random
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, update
from sqlalchemy.engine import Engine

from uapi import call_document as calls_module  # where calls are built: its `iso` is memoized below
from uapi.accounts import Directory, Extension, Principal
from uapi.calls import CallOptions, CallService
from uapi.store.port import StoredCall
from uapi.store.sql import call_members, call_row, calls, member_rows, metadata, tokens
from uapi.switch.sim import SimulatedSwitch
from uapi.tokens import token_hash

ORG_SIZE = 100  # users per organization
CALL_SPACING_MS = 10
BENCH_CLIENT = "bench-admin"
BENCH_SECRET = "bench-admin-secret"
BENCH_TOKEN = "bench-token-" + "x" * 32
HOT_USER = "hot"
HOT_EXTENSION = "999"
BENCH_PRINCIPAL = Principal(BENCH_CLIENT, "admin")


@dataclass(frozen=True)
class Call:
    """Everything the load generator needs about one stored call."""

    index: int
    id: str
    user_id: str  # the charged extension's user
    extension: str  # the charged extension, local number
    hot: bool


@dataclass
class Workload:
    size: int
    hot: int
    calls_per_ext: int
    directory_data: dict[str, Any]
    directory: Directory
    calls: list[Call]
    seed: int
    now_ms: int  # when the last call is published
    _peers: dict[str, list[Extension]] | None = field(default=None, repr=False)

    @property
    def typical_calls(self) -> list[Call]:
        return [c for c in self.calls if not c.hot]

    @property
    def hot_calls(self) -> list[Call]:
        return [c for c in self.calls if c.hot]

    @property
    def typical_extensions(self) -> list[Extension]:
        return [e for e in self.directory.extensions.values() if e.user.id != HOT_USER]

    @property
    def hot_extension(self) -> Extension:
        return next(e for e in self.directory.extensions.values() if e.user.id == HOT_USER)

    def write_directory(self, path: Path) -> Path:
        path.write_text(json.dumps(self.directory_data), encoding="utf-8")
        return path

    # -- documents ----------------------------------------------------------------

    def published_ms(self, index: int) -> int:
        """Call i is published CALL_SPACING_MS after call i-1; the last one at `now_ms`."""
        return self.now_ms - CALL_SPACING_MS * (self.size - 1 - index)

    def documents(self, indexes: Iterable[int]) -> list[dict[str, Any]]:
        """The rows the domain writes when it creates each of these calls.

        Each call goes through ``CallService.create("simple", ...)`` with the simulated
        switch, a clock stopped at the call's publication time and a store that keeps what
        it is given instead of writing it. Deterministic in (seed, index): a call that the
        benchmark hung up can be written back exactly as it was created.
        """
        return _run_to_completion(self._create_all(list(indexes)))

    async def _create_all(self, indexes: list[int]) -> list[dict[str, Any]]:
        _cache_iso()
        store = _CapturingStore()
        clock = _Clock()
        ids: list[str] = []
        service = CallService(self.directory, store, SimulatedSwitch(self.directory.simulator),  # type: ignore[arg-type]
                              clock, lambda: ids.pop())
        hot = self.hot_extension
        peers_by_org = self._peers_by_org()
        for index in indexes:
            call = self.calls[index]
            mix = (index * 2654435761 + self.seed) % 2**32  # cheap deterministic choices
            charged = hot if call.hot else self.directory.find_extension(
                call.extension, self.directory.users[call.user_id].organization)
            assert charged is not None
            peers = peers_by_org.get(charged.organization.id, [])
            if not call.hot and mix & 1 and len(peers) > 1:  # a local call to another extension
                other = peers[(mix >> 1) % len(peers)]
                if other == charged:
                    other = peers[((mix >> 1) + 1) % len(peers)]
                destination = other.number
            else:  # an outgoing call to a public number
                destination = f"+1555{(mix >> 1) % 10**7:07d}"
            clock.now = self.published_ms(index) / 1000
            ids.append(call.id)
            body = {"extension": charged.number, "phoneCallView": [{"destination": [destination]}]}
            await service.create("simple", charged.user, charged, body, CallOptions(), BENCH_PRINCIPAL)
        return store.rows

    def _peers_by_org(self) -> dict[str, list[Extension]]:
        if self._peers is None:
            self._peers = {}
            for ext in self.typical_extensions:
                self._peers.setdefault(ext.organization.id, []).append(ext)
        return self._peers


def _run_to_completion(coroutine: Any) -> Any:
    """Run a coroutine that never suspends (creation touches no I/O here), even from inside a
    running event loop, where asyncio.run is not allowed."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("call creation waited on I/O; the benchmark's stand-in store should never block")


class _Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class _CapturingStore:
    """Stands in for the call store (the part of `uapi.store.port.CallStore` creation uses): keeps
    the rows it is asked to insert, as `uapi.store.sql` would write them."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._by_id: dict[str, dict[str, Any]] = {}

    async def insert_call(self, call_id: str, organization_id: str, published: int, state: Any,
                          doc: dict[str, Any], members: Sequence[tuple[str, str]]) -> None:
        row = {"call": call_row(call_id, organization_id, published, state, doc),
               "members": member_rows(call_id, members, published, state)}
        self.rows.append(row)
        self._by_id[call_id] = row

    # The simulator reports when each party will answer right after the create; the domain
    # writes that down as a second transition, which must land in the captured row too.
    async def load_call(self, call_id: str) -> StoredCall | None:
        row = self._by_id.get(call_id)
        if row is None:
            return None
        call = row["call"]
        return StoredCall(call_id, call["version"], call["published"], call["ended"], call["doc"])

    async def replace_call(self, call: StoredCall, doc: dict[str, Any], state: Any,
                           new_members: Sequence[tuple[str, str]] = ()) -> bool:
        row = self._by_id[call.id]
        published = row["call"]["published"]
        row["call"].update(call_row(call.id, row["call"]["organization_id"], published, state, doc),
                           version=call.version + 1)
        row["members"] = [*member_rows(call.id, [(m["extension"], m["user_id"]) for m in row["members"]],
                                       published, state), *member_rows(call.id, new_members, published, state)]
        return True


def _cache_iso() -> None:
    """`published` repeats per second: memoize the domain's timestamp formatting (same output)."""
    if not hasattr(calls_module.iso, "cache_info"):
        calls_module.iso = functools.lru_cache(maxsize=1 << 16)(calls_module.iso)


def build(size: int, hot: int, calls_per_ext: int, seed: int = 1) -> Workload:
    """The directory and the list of calls of a store of `size` calls (nothing written yet)."""
    if not 0 <= hot < size:
        raise ValueError("the hot extension must hold fewer calls than the store")
    rng = random.Random(seed)
    typical = size - hot
    users = max(2, -(-typical // calls_per_ext))
    orgs = -(-users // ORG_SIZE)
    data: dict[str, Any] = {
        "organizations": [{"id": f"o{o}", "name": f"Organization {o}", "code": f"{1000 + o}"} for o in range(orgs)],
        "users": [], "extensions": [],
        "apps": [{"clientId": BENCH_CLIENT, "clientSecret": BENCH_SECRET, "account": "admin"}],
    }
    for u in range(users):
        uid = f"u{u}"
        data["users"].append({"id": uid, "organization": f"o{u // ORG_SIZE}", "name": f"User {u}"})
        number = f"{100 + u % ORG_SIZE}"
        data["extensions"].append({"number": number, "user": uid, "type": "phone_terminal",
                                   "callerId": f"User {u} <{1000 + u // ORG_SIZE}*{number}>"})
    data["users"].append({"id": HOT_USER, "organization": "o0", "name": "Hot line"})
    data["extensions"].append({"number": HOT_EXTENSION, "user": HOT_USER, "type": "phone_terminal",
                               "callerId": f"Hot line <1000*{HOT_EXTENSION}>"})
    directory = Directory.from_dict(data, source="bench directory")
    extensions = [e for e in directory.extensions.values() if e.user.id != HOT_USER]

    # Hot calls spread evenly in time among the typical ones, which go round-robin over the
    # typical extensions.
    hot_indexes = {k * size // hot for k in range(hot)} if hot else set()
    call_list: list[Call] = []
    typical_seen = 0
    for index in range(size):
        call_id = f"{rng.getrandbits(80):020x}"
        if index in hot_indexes:
            call_list.append(Call(index, call_id, HOT_USER, HOT_EXTENSION, True))
        else:
            ext = extensions[typical_seen % len(extensions)]
            typical_seen += 1
            call_list.append(Call(index, call_id, ext.user.id, ext.number, False))
    return Workload(size, sum(c.hot for c in call_list), calls_per_ext, data, directory, call_list, seed,
                    int(time.time() * 1000))


def sync_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"postgresql+psycopg://{rest}" if scheme.split("+")[0] in ("postgresql", "postgres") else f"sqlite://{rest}"


def fill(workload: Workload, database_url: str, batch: int = 5000) -> Counter[str]:
    """Create the tables afresh and write every call and the benchmark's token.

    Answers how many live calls each extension takes part in.
    """
    per_extension: Counter[str] = Counter()
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            metadata.drop_all(conn)
            metadata.create_all(conn)
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        indexes = range(workload.size)
        for start in range(0, workload.size, batch):
            created = workload.documents(indexes[start:start + batch])
            rows = [c["call"] for c in created]
            members = [m for c in created for m in c["members"]]
            per_extension.update(m["extension"] for m in members)
            with engine.begin() as conn:
                if engine.dialect.name == "sqlite":
                    # The driver's executemany, with the doc serialized as the JSON column
                    # type serializes it (json.dumps): several times faster than Core here.
                    names = list(rows[0])
                    conn.exec_driver_sql(
                        f"INSERT INTO calls ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                        [tuple(json.dumps(r[n]) if n == "doc" else r[n] for n in names) for r in rows])
                    names = list(members[0])
                    conn.exec_driver_sql(
                        f"INSERT INTO call_members ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                        [tuple(m[n] for n in names) for m in members])
                else:
                    conn.execute(calls.insert(), rows)
                    conn.execute(call_members.insert(), members)
        with engine.begin() as conn:
            conn.execute(tokens.insert().values(token_hash=token_hash(BENCH_TOKEN), client_id=BENCH_CLIENT,
                                                account="admin", expires_at=4_000_000_000))
        if engine.dialect.name == "postgresql":
            # Autovacuum would analyze the fresh tables soon anyway; do it now so every run
            # measures the plans of an analyzed database. (SQLite has no automatic
            # ANALYZE and the server runs none, so a SQLite store is left without statistics.)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    return per_extension


def restore(workload: Workload, engine: Engine, indexes: Iterable[int]) -> None:
    """Write these calls back as they were created (after a hang-up round ended them)."""
    created = workload.documents(indexes)
    rows = [c["call"] for c in created]
    if not rows:
        return
    columns = [n for n in rows[0] if n not in ("id", "organization_id", "published")]
    statement = (update(calls).where(calls.c.id == bindparam("call_id"))
                 .values({n: bindparam(f"new_{n}", type_=calls.c[n].type) for n in columns}))
    with engine.begin() as conn:
        conn.execute(statement, [{"call_id": r["id"], **{f"new_{n}": r[n] for n in columns}} for r in rows])
        conn.execute(call_members.delete().where(call_members.c.call_id.in_([r["id"] for r in rows])))
        conn.execute(call_members.insert(), [m for c in created for m in c["members"]])


def engine_for(database_url: str) -> Engine:
    return create_engine(sync_url(database_url))
