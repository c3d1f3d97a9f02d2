"""The implementations the store contract runs against, one parameter each.

The suite (test_call_store.py, test_token_store.py) sees a store only through the Protocols of
uapi.store.port; opening an empty one is the only implementation-specific part, here. Another
implementation of the port joins the suite by adding its opener to OPENERS.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.support import sql_store
from uapi.store.port import CallStore, Store, TokenStore
from uapi.store.sql import SqlStore


async def started(store: Store) -> Store:
    await store.start()
    return store


async def sql_on_sqlite_file(request: pytest.FixtureRequest) -> Store:
    return await started(SqlStore(f"sqlite:///{request.getfixturevalue('tmp_path') / 'contract.db'}"))


async def sql_on_sqlite_in_memory(_request: pytest.FixtureRequest) -> Store:
    return await started(SqlStore("sqlite://"))


async def sql_on_postgresql(request: pytest.FixtureRequest) -> Store:
    # The session's database, shared with the API tests, so emptied first.
    store = await started(SqlStore(request.getfixturevalue("postgres_database")))
    await sql_store.empty(store)
    return store


# Each opens an empty, started store.
OPENERS: dict[str, Callable[[pytest.FixtureRequest], Awaitable[Store]]] = {
    "sql-sqlite-file": sql_on_sqlite_file,
    "sql-sqlite-memory": sql_on_sqlite_in_memory,
    "sql-postgresql": sql_on_postgresql,
}


@pytest.fixture(params=list(OPENERS))
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    opened = await OPENERS[request.param](request)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def calls(store: Store) -> CallStore:
    return store


@pytest.fixture
def tokens(store: Store) -> TokenStore:
    return store
