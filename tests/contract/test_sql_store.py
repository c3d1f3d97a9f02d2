"""SQL-specific properties of the SQL store, beyond the port's contract.

A unit of work is one transaction, all of it or nothing: Python's sqlite3 would begin a
transaction by itself only before INSERT, UPDATE, DELETE and REPLACE, so a unit starting with
`WITH ... UPDATE` (replace_calls on SQLite) used to commit its first statement alone. A trigger makes the unit's second statement fail; nothing of the first
may remain.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from uapi.store.port import CallState, ListQuery
from uapi.store.sql import SqlStore

NOW = 1_800_000_000_000
LIVE = CallState(ended=None, next_event=None, ends_at=None)
ENDED = CallState(ended=NOW, next_event=None, ends_at=None)
REFUSE_MEMBER_UPDATES = """
CREATE TRIGGER refuse_c2 BEFORE UPDATE ON call_members WHEN NEW.call_id = 'c2'
BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
"""


@pytest.mark.parametrize("location", ["file", "memory"])
async def test_a_failed_bulk_write_leaves_every_call_as_it_was(tmp_path: Path, location: str):
    store = SqlStore(f"sqlite:///{tmp_path / 'units.db'}" if location == "file" else "sqlite://")
    await store.start()
    try:
        for call_id in ("c1", "c2"):
            await store.insert_call(call_id, "3", NOW, LIVE, {"call": {"id": call_id}}, [("0003*210", "u210")])
        await store.db.write(lambda conn: conn.exec_driver_sql(REFUSE_MEMBER_UPDATES))
        before = [await store.load_call(call_id) for call_id in ("c1", "c2")]
        changes = [(call, {"call": {"id": call.id, "ended": "now"}}, ENDED) for call in before if call is not None]
        with pytest.raises(DBAPIError, match="refused by the test"):
            await store.replace_calls(changes)
        after = [await store.load_call(call_id) for call_id in ("c1", "c2")]
        assert after == before
        assert await store.live_calls_page(["0003*210"], NOW, ListQuery()) == (2, before)
    finally:
        await store.close()



async def test_a_closed_file_store_keeps_its_calls(tmp_path: Path):
    store = SqlStore(f"sqlite:///{tmp_path / 'kept.db'}")
    await store.start()
    try:
        await store.insert_call("c1", "3", NOW, LIVE, {"call": {"id": "c1"}}, [("0003*210", "u210")])
        await store.close()
        await store.start()
        assert (await store.load_call("c1")) is not None
    finally:
        await store.close()
