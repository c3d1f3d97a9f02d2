"""History that stays fast (issue 11): ended calls kept for a retention, then purged in small
batches with everything kept about them; every by-id and list query served from an index on
both stores, whatever the size of the history (checked on the plans the databases choose)."""
from __future__ import annotations

import argparse
import asyncio
from typing import Any

import pytest

from tests.support import sql_store
from uapi.app import sweep_forever
from uapi.retention import DAY_MS, purge_ended_calls
from uapi.serve import configure
from uapi.store.port import CallState, ListQuery
from uapi.store.sql import (
    SqlDialogStore,
    call_members,
    call_row,
    calls,
    find_call_statement,
    live_page_statements,
    load_statement,
    member_rows,
    purge_statement,
)

DAY = DAY_MS / 1000


async def ended_call(api: Any) -> str:
    call = await api.create()
    response = await api.request("DELETE", f"/uapi/phoneCalls/@me/210/{call['id']}")
    assert response.status_code == 200 and "ended" in response.json()[0]
    return call["id"]


async def purge(app: Any, clock: Any, retention_days: float = 30, batch: int = 200) -> int:
    return await purge_ended_calls(app.services.store, clock(), retention_days, batch)


def later(api: Any, clock: Any, seconds: float) -> None:
    """Move the clock; the tokens issued before have expired by then."""
    clock.advance(seconds)
    api._tokens.clear()


async def test_an_ended_call_stays_readable_for_the_retention_then_is_purged(api, app, clock):
    call_id = await ended_call(api)
    live = await api.create()
    await SqlDialogStore(app.services.store).save(call_id, "0003*210", {"leg": "kept by the SIP engine"})
    later(api, clock, 30 * DAY - 60)
    assert await purge(app, clock) == 0
    assert (await api.request("GET", f"/uapi/phoneCalls/@me/210/{call_id}")).status_code == 200

    later(api, clock, 120)
    assert await purge(app, clock) == 1
    gone = await api.request("GET", f"/uapi/phoneCalls/@me/210/{call_id}")
    assert gone.status_code == 400 and gone.json()["error"]["code"] == "pc_phonecall_invalid"
    assert await app.services.store.load_call(call_id) is None
    # SQL-specific: the purge takes the call's member rows and the SIP engine's dialog rows with it.
    members = await sql_store.member_call_ids(app.services.store)
    assert call_id not in members and live["id"] in members
    assert await SqlDialogStore(app.services.store).all() == []


async def test_live_calls_are_never_purged(api, app, clock):
    live = await api.create()
    later(api, clock, 90 * DAY)
    assert await purge(app, clock) == 0   # past its duration, but its end is not written yet
    response = await api.request("GET", f"/uapi/phoneCalls/@me/210/{live['id']}")
    assert response.json()["entry"][0]["cause"] == "duration_limit"


async def test_the_purge_goes_in_batches_oldest_first(api, app, clock):
    ids = []
    for _ in range(5):
        ids.append(await ended_call(api))
        clock.advance(1)
    clock.advance(31 * DAY)
    assert [await purge(app, clock, batch=2) for _ in range(4)] == [2, 2, 1, 0]


async def test_retention_zero_keeps_ended_calls_forever(api, app, clock):
    call_id = await ended_call(api)
    later(api, clock, 3650 * DAY)
    assert await purge(app, clock, retention_days=0) == 0
    assert (await api.request("GET", f"/uapi/phoneCalls/@me/210/{call_id}")).status_code == 200


async def test_the_sweeper_purges_in_the_background(api, app, clock):
    call_ids = [await ended_call(api) for _ in range(3)]
    later(api, clock, 31 * DAY)
    sweeper = asyncio.create_task(sweep_forever(app.services))
    try:
        for _ in range(200):
            left = [call_id for call_id in call_ids if await app.services.store.load_call(call_id) is not None]
            if not left:
                break
            await asyncio.sleep(0.01)
    finally:
        sweeper.cancel()
    assert left == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_retention_days_flag(settings):
    parser = argparse.ArgumentParser()
    configure(parser)
    assert parser.parse_args([]).retention_days == settings.retention_days == 30
    assert parser.parse_args(["--retention-days", "0.5"]).retention_days == 0.5
    for bad in ("-1", "many", "nan", "inf"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--retention-days", bad])


# -- SQL-specific: uapi.store.sql's statements as the databases plan them, and its schema ---

HOT, OTHER = "0003*210", "0003*211"
HISTORY = 4000   # ended calls of HOT, the history a slow plan would read through


async def fill_history(app: Any, now_ms: int) -> list[str]:
    """HISTORY ended calls and 50 live ones on HOT, 500 live ones on OTHER, written in bulk."""
    rows, members, ids = [], [], []
    for i in range(HISTORY + 550):
        call_id = f"{i:020x}"
        ext = HOT if i < HISTORY + 50 else OTHER
        state = CallState(ended=now_ms - 1000 if i < HISTORY else None, next_event=None, ends_at=None)
        rows.append(call_row(call_id, "3", now_ms - 10_000 + i, state, {"call": {"id": call_id}}))
        members += member_rows(call_id, [(ext, "12")], now_ms - 10_000 + i, state)
        ids.append(call_id)
    def insert(conn: Any) -> None:
        conn.execute(calls.insert(), rows)
        conn.execute(call_members.insert(), members)

    def vacuum(conn: Any) -> None:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("VACUUM ANALYZE calls")
        conn.exec_driver_sql("VACUUM ANALYZE call_members")

    await app.services.store.db.write(insert)
    if app.services.store.url.startswith("postgresql"):
        # What autovacuum does to a table that took many rows: statistics, and the visibility
        # map that lets an index answer alone.
        await app.services.store.db.read(vacuum)
    return ids


def plan(conn: Any, statement: Any) -> list[str]:
    sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        return [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()]
    return [row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}").all()]


def full_scans(lines: list[str]) -> list[str]:
    """Plan lines that read a whole table: SQLite's `SCAN <table>` (a scan of a subquery's
    result is not one), PostgreSQL's `Seq Scan`."""
    return [line for line in lines if line.startswith(("SCAN calls", "SCAN call_members")) or "Seq Scan" in line]


async def test_every_by_id_and_list_query_is_served_from_an_index(app, clock):
    now = int(clock() * 1000)
    ids = await fill_history(app, now)
    old, live = ids[0], ids[HISTORY]
    statements = {
        "by id, ended": find_call_statement(old, [HOT]),
        "by id, live, @self": find_call_statement(live, [HOT, OTHER]),
        "page load": load_statement(ids[HISTORY:HISTORY + 20]),
        "purge batch": purge_statement(now, 200),
    }
    for label, query in [("list", ListQuery()), ("list, descending, filtered", ListQuery(
            filter_by="published", op="greaterThan", values=(now - 20_000,), descending=True, start=20))]:
        for extensions in ([HOT], [HOT, OTHER]):
            count, page = live_page_statements(extensions, now, query)
            statements[f"{label} {len(extensions)} ext, count"] = count
            statements[f"{label} {len(extensions)} ext, page"] = page
    plans = await app.services.store.db.read(
        lambda conn: {label: plan(conn, statement) for label, statement in statements.items()})
    scans = {label: full_scans(lines) for label, lines in plans.items() if full_scans(lines)}
    assert not scans, "\n".join(f"{label}: {plans[label]}" for label in scans)
    sqlite = app.services.store.url.startswith("sqlite")
    for label, lines in plans.items():
        text = "\n".join(lines)
        if label.startswith("by id"):
            # Membership by primary key (call_id first): the extension's other calls are never read.
            assert ("sqlite_autoindex_call_members_1 (call_id=?" in text if sqlite
                    else "Index Only Scan using call_members_pkey" in text and "call_id = " in text), (label, text)
        if label.startswith("list"):
            # Live calls of the extension from the index alone; ended ones sort apart in it.
            assert ("COVERING INDEX ix_call_members_live (extension=? AND ended=?" in text if sqlite
                    else "Index Only Scan using ix_call_members_live" in text), (label, text)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_database_from_before_the_purge_gets_its_index(app):
    await app.services.store.db.write(lambda conn: conn.exec_driver_sql("DROP INDEX ix_calls_ended"))
    await app.services.store.start()
    names = await app.services.store.db.read(
        lambda conn: conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars().all())
    assert "ix_calls_ended" in names
