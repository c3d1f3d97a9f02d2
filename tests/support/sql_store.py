"""What tests know of the SQL store beyond its port (uapi.store.port), kept in one place.

The API tests share one PostgreSQL database, so each empties it before it runs; and a few tests
check rows the port never answers (member rows gone with a purged call, what a token row holds). Both need the SQL
implementation itself: these helpers refuse any other store.
"""
from __future__ import annotations

from sqlalchemy import select

from uapi.store.sql import SqlStore, call_members, metadata, tokens


def sql_store(store: object) -> SqlStore:
    assert isinstance(store, SqlStore), f"an SQL-specific test got {type(store).__name__}"
    return store


async def empty(store: object) -> None:
    """Delete every row of every table the SQL store knows (children first)."""
    async with sql_store(store).engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())


async def member_call_ids(store: object) -> list[str]:
    """The calls with member rows: a purged call must leave none behind."""
    async with sql_store(store).engine.connect() as conn:
        return list((await conn.execute(select(call_members.c.call_id))).scalars().all())


async def stored_token_hashes(store: object) -> list[str]:
    """The key of every token row: the token itself must be in none of them."""
    async with sql_store(store).engine.connect() as conn:
        return list((await conn.execute(select(tokens.c.token_hash))).scalars().all())
