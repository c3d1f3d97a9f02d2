"""How the store's units of work reach the database: one hop per unit, not per statement.

A unit of work is a plain function of a SQLAlchemy `Connection` (a few statements, then
commit). Through SQLAlchemy's asyncio layer every statement costs a greenlet switch and, on
SQLite, four round trips to aiosqlite's thread (cursor, execute, fetch, close): measured here,
0.3 ms of CPU for a one-row read and 0.6 ms for a hang-up's write, most of a hang-up's budget.
Running each unit whole, in one step, costs a fraction of that:

* **SQLite file**: a synchronous engine. Reads run on the event loop itself: in WAL mode a
  reader never waits for a lock, and an indexed read of a few rows costs less than handing it
  to a thread. Writes go to one writer thread, in order: a commit may wait for another
  process's transaction (busy_timeout) or fsync at a checkpoint, which must not stall the
  loop, and one thread also queues this process's writers without SQLite's polling sleeps.
* **SQLite in memory** (tests, `sqlite://`): one connection, so reads and writes both run on
  the loop; there is no file to wait for.
* **PostgreSQL**: the asyncio engine (psycopg's own async I/O), each unit in one `run_sync`,
  without server-side prepared statements (see `PSYCOPG_CONNECT_ARGS`).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

T = TypeVar("T")
Work = Callable[[Connection], T]

SQLITE_CACHE_KIB = 32 * 1024   # per connection (see _sqlite_connected)
SQLITE_BUSY_TIMEOUT_MS = 30_000


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


# Call documents go through JSON on every read and write: orjson decodes them about three
# times as fast as the standard library (a bulk hang-up of 10 000 calls spent a fifth of its
# CPU in json.loads). Same JSON: documents hold only strings, integers, booleans, lists and
# objects with string keys.
JSON_CODEC: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": orjson.loads}

# psycopg prepares a statement on the server (named _pg3_0, _pg3_1, ... per connection) once one
# connection ran it 5 times. Behind a pooler in transaction mode (PgBouncer before 1.21, which is
# what Debian 12 ships) our connection meets a different server connection at every transaction:
# its statements are missing there, or another client's statement of the same name is there
# ("prepared statement "_pg3_0" already exists": an idle server's sweeper failed so within 20 s;
# tests/e2e/test_pgbouncer.py). They are off everywhere rather than on request, as the server
# gains nothing from them: the rollback that ends every read makes psycopg forget its counts, so
# request statements were never prepared anyway (only runs of writes alone, such as an idle
# server's sweeper rounds, reached the threshold).
PSYCOPG_CONNECT_ARGS: dict[str, Any] = {"prepare_threshold": None}
# Connections one server process may open: PG_POOL_SIZE kept, PG_MAX_OVERFLOW more under load
# (README, "Several processes on one PostgreSQL", sizes max_connections and PgBouncer from them).
PG_POOL_SIZE = 10
PG_MAX_OVERFLOW = 20


class SqlRunner(Protocol):
    dialect: str   # "sqlite" or "postgresql"

    async def read(self, work: Work[T]) -> T:
        """Run `work` on a connection and answer its result; nothing it does is committed."""
        ...

    async def write(self, work: Work[T]) -> T:
        """Run `work` in one transaction, committed when it returns and rolled back when it raises."""
        ...

    async def close(self) -> None: ...


def runner_for(url: str) -> SqlRunner:
    """The runner for a URL with its driver (uapi.store.sql.driver_url): sqlite+pysqlite or postgresql+psycopg."""
    if url.startswith("sqlite"):
        return SqliteRunner(url)
    return AsyncRunner(create_async_engine(url, pool_pre_ping=True, pool_size=PG_POOL_SIZE, max_overflow=PG_MAX_OVERFLOW,
                                           **JSON_CODEC,
                                           connect_args=dict(PSYCOPG_CONNECT_ARGS)))


class SqliteRunner:
    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        self.url = url
        self.in_memory = url in ("sqlite+pysqlite://", "sqlite+pysqlite:///:memory:")
        if self.in_memory:
            self.engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False},
                                        **JSON_CODEC)
        else:
            # Connections move between the loop and the writer thread, one user at a time.
            self.engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                                           "check_same_thread": False},
                                        pool_size=8, max_overflow=8, **JSON_CODEC)
        event.listen(self.engine, "connect", _sqlite_connected)
        event.listen(self.engine, "begin", _sqlite_begin)
        # Made on the first write and gone at close: a closed store can be started again, as an
        # app's lifespan can run more than once (tests do), like the engine's own pool.
        self._writer: concurrent.futures.ThreadPoolExecutor | None = None

    async def read(self, work: Work[T]) -> T:
        with self.engine.connect() as conn:
            return work(conn)

    async def write(self, work: Work[T]) -> T:
        if self.in_memory:
            return _write_transaction(self.engine, work)
        if self._writer is None:
            self._writer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="uapi-sqlite-writer")
        return await asyncio.get_running_loop().run_in_executor(self._writer, _write_transaction, self.engine, work)

    async def close(self) -> None:
        if self._writer is not None:
            # The writes queued finish first; waited for on a thread, since one may be waiting
            # for another process's lock, which must not stall the loop.
            await asyncio.to_thread(self._writer.shutdown, True)
            self._writer = None
        self.engine.dispose()


class AsyncRunner:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    async def read(self, work: Work[T]) -> T:
        async with self.engine.connect() as conn:
            return await conn.run_sync(work)

    async def write(self, work: Work[T]) -> T:
        async with self.engine.begin() as conn:
            return await conn.run_sync(work)

    async def close(self) -> None:
        await self.engine.dispose()


def _write_transaction(engine: Engine, work: Work[T]) -> T:
    with engine.connect() as conn, conn.execution_options(sqlite_write=True).begin():
        return work(conn)


def _sqlite_connected(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 opens a transaction by itself only before INSERT, UPDATE, DELETE and
    # REPLACE: any other statement (`WITH ... UPDATE`, a SELECT) would run and commit on its
    # own, outside the unit of work. Its own handling is switched off and every transaction
    # begun explicitly instead (_sqlite_begin), as SQLAlchemy's pysqlite documentation advises.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; NORMAL keeps every committed transaction across
    # a process crash (only a power loss can cost the last ones).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # SQLite keeps 2 MiB of pages per connection by default: at 10^5 calls (a 100 MB file) a
    # list page then read most of its pages from the OS (bench_server: 0.60 ms of CPU, 0.43 at
    # 10^3). 32 MiB keeps the indexes and recent calls in memory (0.50 at both sizes; peak RSS
    # 107 -> 172 MB). Memory-mapping the file instead cost writes more than it saved reads.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """A write takes the write lock as it begins (IMMEDIATE), so it never fails half-way for a
    lock it could not upgrade to; a read begins a snapshot, so that all its statements (a
    list's count and its page) see the same database."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("sqlite_write") else "BEGIN")
