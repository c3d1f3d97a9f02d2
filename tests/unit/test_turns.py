"""Writers' turns (uapi.turns): one writer of a call at a time, many calls taken without circles."""
from __future__ import annotations

import asyncio

import pytest

from uapi.turns import Turns


async def test_a_second_writer_of_a_call_waits_for_the_first_to_give_its_turn():
    turns, order = Turns(), []

    async def writer(name: str) -> None:
        async with turns.of(["c1"]):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    await asyncio.gather(writer("a"), writer("b"))
    assert order == ["a in", "a out", "b in", "b out"]
    assert len(turns) == 0   # nothing kept once nobody holds or awaits a turn


async def test_writers_of_different_calls_do_not_wait_for_each_other():
    turns = Turns()
    inside = asyncio.Event()

    async def holder() -> None:
        async with turns.of(["c1"]):
            await asyncio.wait_for(inside.wait(), 1)

    async def other() -> None:
        async with turns.of(["c2"]):
            inside.set()

    await asyncio.gather(holder(), other())


async def test_writers_of_many_calls_taken_in_any_order_never_wait_in_a_circle():
    turns, done = Turns(), []
    release = asyncio.Event()

    async def blocker() -> None:   # holds c2 until both writers below wait for it
        async with turns.of(["c2"]):
            await release.wait()

    async def writer(name: str, call_ids: list[str]) -> None:
        async with turns.of(call_ids):
            await asyncio.sleep(0)
            done.append(name)

    held = asyncio.create_task(blocker())
    await asyncio.sleep(0)
    # Taken in the order given, `up` would hold c1 and `down` c3, each then waiting for the other.
    writers = [asyncio.create_task(writer("up", ["c1", "c2", "c3"])),
               asyncio.create_task(writer("down", ["c3", "c2", "c1"])),
               asyncio.create_task(writer("twice", ["c1", "c1"]))]
    await asyncio.sleep(0)
    release.set()
    await asyncio.wait_for(asyncio.gather(held, *writers), 0.5)
    assert sorted(done) == ["down", "twice", "up"]
    assert len(turns) == 0


async def test_a_writer_cancelled_while_waiting_holds_nothing_and_leaves_nothing_behind():
    turns = Turns()
    release = asyncio.Event()

    async def holder() -> None:
        async with turns.of(["c1"]):
            await release.wait()

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(turns.of(["c0", "c1"]).__aenter__())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert len(turns) == 1   # c1, still held; c0, taken before the wait, was given back
    release.set()
    await held
    assert len(turns) == 0
    async with turns.of(["c0", "c1"]):   # both free again
        pass
