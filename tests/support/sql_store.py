"""What tests know of the SQL store beyond its port (uapi.store.port), kept in one place.

The API tests share one PostgreSQL database, so each empties it before it runs; and a few tests
check rows the port never answers (member rows gone with a purged call, what a token row holds). Both need the SQL
implementation itself: these helpers refuse any other store.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from uapi.store.sql import SqlStore, call_members, metadata, tokens


def sql_store(store: object) -> SqlStore:
    assert isinstance(store, SqlStore), f"an SQL-specific test got {type(store).__name__}"
    return store


async def empty(store: object) -> None:
    """Delete every row of every table the SQL store knows (children first)."""
    def delete_all(conn: Connection) -> None:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())

    await sql_store(store).db.write(delete_all)


async def member_call_ids(store: object) -> list[str]:
    """The calls with member rows: a purged call must leave none behind."""
    return await sql_store(store).db.read(lambda conn: list(conn.execute(select(call_members.c.call_id)).scalars()))


async def stored_token_hashes(store: object) -> list[str]:
    """The key of every token row: the token itself must be in none of them."""
    return await sql_store(store).db.read(lambda conn: list(conn.execute(select(tokens.c.token_hash)).scalars()))
