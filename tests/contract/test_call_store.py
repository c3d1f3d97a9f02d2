"""The CallStore contract (uapi.store.port), run against every implementation (see conftest.py).

Written against the Protocol alone: calls go in through insert_call and replace_call and are
read back through the port's own queries.
"""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from uapi.store.port import CallState, CallStore, ListQuery, StoredCall

NOW = 1_800_000_000_000   # epoch ms
JOHN, JANE, ANNA = "0003*210", "0003*211", "0003*212"
LIVE = CallState(ended=None, next_event=None, ends_at=None)


def doc(call_id: str, **extra: Any) -> dict[str, Any]:
    return {"call": {"id": call_id}, **extra}


async def insert(calls: CallStore, call_id: str, published: int = NOW, state: CallState = LIVE,
                 members: tuple[str, ...] = (JOHN,)) -> None:
    await calls.insert_call(call_id, "3", published, state, doc(call_id), [(ext, f"u{ext[-3:]}") for ext in members])


def ids(found: list[StoredCall]) -> list[str]:
    return [call.id for call in found]


async def all_live(calls: CallStore, extensions: list[str], now: int, limit: int = 2) -> list[StoredCall]:
    """Every live call of `extensions`, read `limit` at a time through live_calls_after."""
    found: list[StoredCall] = []
    while batch := await calls.live_calls_after(extensions, now, (found[-1].published, found[-1].id) if found else None,
                                                limit):
        assert len(batch) <= limit
        found += batch
    return found


async def page(calls: CallStore, query: ListQuery, extensions: tuple[str, ...] = (JOHN,),
               now: int = NOW) -> tuple[int, list[str]]:
    total, found = await calls.live_calls_page(list(extensions), now, query)
    return total, ids(found)


# -- insert, find, load -------------------------------------------------------------------

async def test_an_inserted_call_loads_and_finds_as_written(calls: CallStore):
    await calls.insert_call("c1", "3", NOW, LIVE, doc("c1", parties=[1, 2]), [(JOHN, "12"), (JANE, "13")])
    expected = StoredCall("c1", 0, NOW, None, {"call": {"id": "c1"}, "parties": [1, 2]})
    assert await calls.load_call("c1") == expected
    assert await calls.find_call("c1", [JOHN]) == expected
    assert await calls.find_call("c1", [JANE]) == expected
    assert (await calls.load_call("c1")).live is True
    assert await calls.load_call("c2") is None


async def test_find_answers_only_to_the_extensions_taking_part(calls: CallStore):
    await insert(calls, "c1", members=(JOHN, JANE))
    await insert(calls, "c2", members=(ANNA,))
    assert await calls.find_call("c1", [ANNA]) is None
    assert await calls.find_call("c2", [JOHN, JANE]) is None
    assert await calls.find_call("c9", [JOHN]) is None
    found = await calls.find_call("c1", [ANNA, JANE])
    assert found is not None and found.id == "c1"


async def test_an_ended_call_is_still_found_and_loaded(calls: CallStore):
    await insert(calls, "c1", state=CallState(ended=NOW + 5, next_event=None, ends_at=None))
    found = await calls.find_call("c1", [JOHN])
    assert found is not None and found.ended == NOW + 5 and found.live is False
    assert await calls.load_call("c1") == found


# -- live lists ---------------------------------------------------------------------------

PAGE_IDS = ["a1x", "b2x", "c3y", "d4y", "e5z"]   # published NOW, NOW + 1 s, ... NOW + 4 s


async def five_live_calls(calls: CallStore) -> None:
    # Inserted out of order: the list orders by publication, not by insertion.
    for i in (3, 0, 4, 1, 2):
        await insert(calls, PAGE_IDS[i], published=NOW + 1000 * i)
    await insert(calls, "old1", published=NOW - 1000, state=CallState(ended=NOW, next_event=None, ends_at=None))
    await insert(calls, "jane1", published=NOW + 500, members=(JANE,))


async def test_the_live_page_orders_pages_and_counts(calls: CallStore):
    await five_live_calls(calls)
    assert await page(calls, ListQuery()) == (5, PAGE_IDS)
    assert await page(calls, ListQuery(descending=True)) == (5, PAGE_IDS[::-1])
    assert await page(calls, ListQuery(start=1, count=2)) == (5, ["b2x", "c3y"])
    assert await page(calls, ListQuery(descending=True, start=3, count=5)) == (5, ["b2x", "a1x"])
    assert await page(calls, ListQuery(start=5)) == (5, [])
    assert await page(calls, ListQuery(), extensions=(ANNA,)) == (0, [])


async def test_the_live_page_filters_by_id(calls: CallStore):
    await five_live_calls(calls)
    cases = {
        ("equals", ("b2x",)): ["b2x"],
        ("startsWith", ("c",)): ["c3y"],
        ("contains", ("y",)): ["c3y", "d4y"],
        ("inArray", ("e5z", "a1x", "zzz")): ["a1x", "e5z"],
        ("greaterThan", ("c",)): ["c3y", "d4y", "e5z"],
        ("lessThan", ("b",)): ["a1x"],
        ("present", ()): PAGE_IDS,
    }
    for (op, values), expected in cases.items():
        query = ListQuery(filter_by="id", op=op, values=values)
        assert await page(calls, query) == (len(expected), expected), (op, values)


async def test_the_live_page_filters_by_published_to_the_second(calls: CallStore):
    await five_live_calls(calls)
    cases = {
        ("equals", (NOW + 2000,)): ["c3y"],
        ("greaterThan", (NOW + 1000,)): ["c3y", "d4y", "e5z"],   # the whole second NOW + 1 s excluded
        ("lessThan", (NOW + 2000,)): ["a1x", "b2x"],
        ("inArray", (NOW, NOW + 4000, NOW + 9000)): ["a1x", "e5z"],
    }
    for (op, values), expected in cases.items():
        query = ListQuery(filter_by="published", op=op, values=values)
        assert await page(calls, query) == (len(expected), expected), (op, values)
    # A filtered page still counts every match.
    assert await page(calls, ListQuery(filter_by="published", op="greaterThan", values=(NOW,), count=1,
                                       descending=True)) == (4, ["e5z"])


async def test_a_call_on_several_of_the_extensions_is_listed_once(calls: CallStore):
    await insert(calls, "john", published=NOW - 1000, members=(JOHN,))
    await insert(calls, "both", published=NOW, members=(JOHN, JANE))
    await insert(calls, "jane", published=NOW + 1000, members=(JANE,))
    assert await page(calls, ListQuery(), extensions=(JOHN, JANE)) == (3, ["john", "both", "jane"])
    for limit in (1, 2):   # the call on both at a batch's end or inside one
        assert ids(await all_live(calls, [JOHN, JANE], NOW + 1000, limit)) == ["john", "both", "jane"]


async def test_the_live_calls_after_none_are_all_the_live_ones_oldest_first(calls: CallStore):
    await five_live_calls(calls)
    later = NOW + 4000   # the last of them published
    assert ids(await all_live(calls, [JOHN], later)) == PAGE_IDS
    assert ids(await all_live(calls, [JANE], later)) == ["jane1"]
    assert await all_live(calls, [ANNA], later) == []


async def test_live_calls_after_reads_on_from_the_call_given_in_publication_then_id_order(calls: CallStore):
    for call_id in ("t2", "t3", "t1"):   # three published at the same instant: their ids order them
        await insert(calls, call_id, published=NOW + 1000)
    await insert(calls, "first", published=NOW)
    await insert(calls, "last", published=NOW + 2000)
    later = NOW + 2000   # when the caller started reading
    first_two = await calls.live_calls_after([JOHN], later, None, 2)
    assert ids(first_two) == ["first", "t1"]
    assert ids(await calls.live_calls_after([JOHN], later, (NOW + 1000, "t1"), 3)) == ["t2", "t3", "last"]
    assert await calls.live_calls_after([JOHN], later, (NOW + 2000, "last"), 3) == []
    assert ids(await all_live(calls, [JOHN], later, limit=1)) == ["first", "t1", "t2", "t3", "last"]
    # Calls published after the caller started are not its business.
    assert ids(await all_live(calls, [JOHN], NOW + 1000)) == ["first", "t1", "t2", "t3"]


async def test_a_call_past_its_ends_at_is_no_longer_live(calls: CallStore):
    await insert(calls, "short", state=CallState(ended=None, next_event=NOW + 5000, ends_at=NOW + 5000))
    await insert(calls, "open", published=NOW + 1)
    assert await page(calls, ListQuery(), now=NOW + 4999) == (2, ["short", "open"])
    assert await page(calls, ListQuery(), now=NOW + 5000) == (1, ["open"])
    assert ids(await all_live(calls, [JOHN], NOW + 4999)) == ["short", "open"]
    assert ids(await all_live(calls, [JOHN], NOW + 5000)) == ["open"]
    # Until its end is written it is still there by id, and still live as stored.
    found = await calls.find_call("short", [JOHN])
    assert found is not None and found.live


# -- conditional replace -------------------------------------------------------------------

async def test_of_two_writers_of_one_version_exactly_one_wins(calls: CallStore):
    await insert(calls, "c1")
    seen = await calls.load_call("c1")
    assert seen is not None
    assert await calls.replace_call(seen, doc("c1", writer="first"), LIVE) is True
    assert await calls.replace_call(seen, doc("c1", writer="second"), LIVE) is False
    now_stored = await calls.load_call("c1")
    assert now_stored == StoredCall("c1", 1, NOW, None, doc("c1", writer="first"))
    # The winner's version is the next one to replace.
    assert await calls.replace_call(now_stored, doc("c1", writer="third"), LIVE) is True
    assert (await calls.load_call("c1")).version == 2


async def test_concurrent_writers_of_one_version_one_wins(calls: CallStore):
    await insert(calls, "c1")
    seen = await calls.load_call("c1")
    results = await asyncio.gather(*(calls.replace_call(seen, doc("c1", writer=n), LIVE) for n in range(4)))
    assert sorted(results) == [False, False, False, True]
    stored = await calls.load_call("c1")
    assert stored.version == 1 and stored.doc == doc("c1", writer=results.index(True))


async def test_an_ended_call_cannot_be_replaced(calls: CallStore):
    await insert(calls, "c1", members=(JOHN, JANE))
    seen = await calls.load_call("c1")
    ended = CallState(ended=NOW + 10, next_event=None, ends_at=None)
    assert await calls.replace_call(seen, doc("c1", cause="hangup"), ended) is True
    final = await calls.load_call("c1")
    assert final == StoredCall("c1", 1, NOW, NOW + 10, doc("c1", cause="hangup"))
    assert await calls.replace_call(final, doc("c1", cause="again"), LIVE) is False
    assert await calls.load_call("c1") == final
    # Ended for every member: gone from their lists, still found by id.
    for extension in (JOHN, JANE):
        assert await page(calls, ListQuery(), extensions=(extension,)) == (0, [])
        assert await calls.find_call("c1", [extension]) == final


async def test_a_replace_adds_new_members_and_moves_every_member_with_the_call(calls: CallStore):
    await insert(calls, "c1", members=(JOHN,))
    seen = await calls.load_call("c1")
    bounded = CallState(ended=None, next_event=NOW + 3000, ends_at=NOW + 3000)
    assert await calls.replace_call(seen, doc("c1", joined=ANNA), bounded, [(ANNA, "14")]) is True
    found = await calls.find_call("c1", [ANNA])
    assert found is not None and found.version == 1 and found.doc == doc("c1", joined=ANNA)
    for extension in (JOHN, ANNA):
        assert await page(calls, ListQuery(), extensions=(extension,), now=NOW + 2999) == (1, ["c1"])
        assert await page(calls, ListQuery(), extensions=(extension,), now=NOW + 3000) == (0, [])
    # A lost replace adds nobody.
    assert await calls.replace_call(seen, doc("c1"), LIVE, [(JANE, "13")]) is False
    assert await calls.find_call("c1", [JANE]) is None


# -- many conditional replaces in one transaction ------------------------------------------

async def test_replace_calls_writes_each_call_as_replace_call_would(calls: CallStore):
    for call_id in ("c1", "c2", "c3"):
        await insert(calls, call_id, members=(JOHN, JANE))
    seen = [await calls.load_call(call_id) for call_id in ("c1", "c2")]
    ended = CallState(ended=NOW + 10, next_event=None, ends_at=None)
    bounded = CallState(ended=None, next_event=NOW + 3000, ends_at=NOW + 3000)
    # Any JSON document comes back as written: text beyond ASCII, nesting, every scalar.
    first = doc("c1", cause="hangup", callerId="Zoë ☎ <0003*210>", parties=[{"a": [1, None, True, 2.5, "\"q\""]}])
    won = await calls.replace_calls([(seen[0], first, ended), (seen[1], doc("c2", left=["x"]), bounded)])
    assert won == {"c1", "c2"}
    assert await calls.load_call("c1") == StoredCall("c1", 1, NOW, NOW + 10, first)
    assert await calls.load_call("c2") == StoredCall("c2", 1, NOW, None, doc("c2", left=["x"]))
    assert (await calls.due_calls(NOW + 3000, 10))[0].id == "c2"
    # The member rows move with their call: c1 ended, c2 ends at its ends_at, c3 untouched.
    for extension in (JOHN, JANE):
        assert await page(calls, ListQuery(), extensions=(extension,), now=NOW + 2999) == (2, ["c2", "c3"])
        assert await page(calls, ListQuery(), extensions=(extension,), now=NOW + 3000) == (1, ["c3"])
    assert await calls.replace_calls([]) == set()


async def test_replace_calls_loses_the_calls_another_writer_changed_first_and_leaves_them(calls: CallStore):
    for call_id in ("c1", "c2", "c3", "c4"):
        await insert(calls, call_id)
    seen = {call_id: await calls.load_call(call_id) for call_id in ("c1", "c2", "c3", "c4")}
    ended = CallState(ended=NOW + 10, next_event=None, ends_at=None)
    assert await calls.replace_call(seen["c2"], doc("c2", writer="racer"), LIVE) is True
    assert await calls.replace_call(seen["c4"], doc("c4", cause="busy"), ended) is True
    raced = {"c2": await calls.load_call("c2"), "c4": await calls.load_call("c4")}
    won = await calls.replace_calls([(seen[c], doc(c, writer="bulk"), ended) for c in ("c1", "c2", "c3", "c4")])
    assert won == {"c1", "c3"}
    for call_id in ("c1", "c3"):
        assert await calls.load_call(call_id) == StoredCall(call_id, 1, NOW, NOW + 10, doc(call_id, writer="bulk"))
    # The losers are exactly as their own writer left them, members included.
    assert await calls.load_call("c2") == raced["c2"] and await calls.load_call("c4") == raced["c4"]
    assert await page(calls, ListQuery()) == (1, ["c2"])
    # The winner's new version is the one to replace next; the stale one loses again.
    assert await calls.replace_calls([(raced["c2"], doc("c2", writer="retry"), ended)]) == {"c2"}
    assert await calls.replace_calls([(seen["c1"], doc("c1"), LIVE)]) == set()


async def test_concurrent_bulk_and_single_writers_have_one_winner_per_call(calls: CallStore):
    call_ids = [f"c{n:02d}" for n in range(30)]
    for call_id in call_ids:
        await insert(calls, call_id)
    seen = [await calls.load_call(call_id) for call_id in call_ids]
    ended = CallState(ended=NOW + 10, next_event=None, ends_at=None)
    bulk = [calls.replace_calls([(call, doc(call.id, writer=f"bulk{b}"), ended) for call in seen]) for b in range(2)]
    singles = [calls.replace_call(call, doc(call.id, writer="single"), ended) for call in seen[::3]]
    results = await asyncio.gather(*bulk, *singles)
    winners = [call_id for won in results[:2] for call_id in won]
    winners += [call.id for call, won in zip(seen[::3], results[2:], strict=True) if won]
    assert sorted(winners) == call_ids
    for call_id in call_ids:
        stored = await calls.load_call(call_id)
        assert stored.version == 1 and not stored.live


async def test_replace_calls_refuses_a_call_twice(calls: CallStore):
    await insert(calls, "c1")
    seen = await calls.load_call("c1")
    with pytest.raises(ValueError):
        await calls.replace_calls([(seen, doc("c1"), LIVE), (seen, doc("c1"), LIVE)])
    assert (await calls.load_call("c1")).version == 0


# -- due calls ------------------------------------------------------------------------------

async def test_due_calls_are_the_live_ones_past_their_next_event_earliest_first(calls: CallStore):
    for call_id, next_event in [("later", NOW - 1000), ("first", NOW - 3000), ("exactly", NOW),
                                ("second", NOW - 2000), ("future", NOW + 1)]:
        await insert(calls, call_id, state=CallState(ended=None, next_event=next_event, ends_at=None))
    await insert(calls, "ended", state=CallState(ended=NOW - 10, next_event=NOW - 9000, ends_at=None))
    await insert(calls, "timeless")
    assert ids(await calls.due_calls(NOW, 10)) == ["first", "second", "later", "exactly"]
    assert ids(await calls.due_calls(NOW, 2)) == ["first", "second"]
    assert ids(await calls.due_calls(NOW - 5000, 10)) == []


async def test_a_written_next_event_moves_the_call_in_the_due_list(calls: CallStore):
    await insert(calls, "c1", state=CallState(ended=None, next_event=NOW - 1, ends_at=None))
    seen = (await calls.due_calls(NOW, 10))[0]
    assert await calls.replace_call(seen, doc("c1"), CallState(ended=None, next_event=NOW + 60_000, ends_at=None))
    assert await calls.due_calls(NOW, 10) == []
    assert ids(await calls.due_calls(NOW + 60_000, 10)) == ["c1"]


# -- purge ------------------------------------------------------------------------------------

async def test_purge_takes_ended_calls_oldest_first_in_batches_and_leaves_the_rest(calls: CallStore):
    ended_at = {f"e{i}": NOW - 5000 + 1000 * i for i in range(5)}   # e0 ended first
    for call_id in ("e3", "e0", "e4", "e1", "e2"):
        await insert(calls, call_id, state=CallState(ended=ended_at[call_id], next_event=None, ends_at=None))
    await insert(calls, "at-cutoff", state=CallState(ended=NOW, next_event=None, ends_at=None))
    await insert(calls, "live", published=NOW + 1, members=(JOHN, JANE))
    assert await calls.purge_ended(NOW, 2) == 2
    assert [call_id for call_id in ended_at if await calls.load_call(call_id) is not None] == ["e2", "e3", "e4"]
    assert await calls.find_call("e0", [JOHN]) is None
    assert [await calls.purge_ended(NOW, 2) for _ in range(3)] == [2, 1, 0]
    assert await calls.load_call("at-cutoff") is not None
    assert ids(await all_live(calls, [JOHN, JANE], NOW + 1)) == ["live"]
    assert (await calls.find_call("live", [JANE])).live


async def test_a_closed_store_starts_again(store: Any):
    # An app's lifespan may run more than once on the same store (test clients do). Whether the
    # calls written before survive is the implementation's (tests/contract/test_sql_store.py).
    await store.close()
    await store.start()
    await insert(store, "c2")
    assert (await store.load_call("c2")) is not None
