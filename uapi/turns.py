"""Writers' turns: one writer of a call at a time in this process, from its write until the
switch was told of it.

Without turns a hang-up's BYEs could overtake the INVITE of a party dialled by the write just
before it, and leave that party ringing on a call that has ended. A writer of many calls (a
bulk hang-up) takes all their turns, in id order: any other writer holds one turn at a time,
so two writers of many calls sharing some cannot wait on each other in a circle.

One lock per call with a turn held or awaited, dropped with its last holder, so the table
stays as small as the writes in flight. Taking a free turn does not yield to the event loop
(asyncio.Lock.acquire returns at once when nobody holds it), so the 10 000 turns of a bulk
hang-up cost a few milliseconds (through nested async context managers they cost 45).
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable


class _Turn:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0   # holders and waiters


class Turns:
    def __init__(self) -> None:
        self._turns: dict[str, _Turn] = {}

    def __len__(self) -> int:
        return len(self._turns)

    @contextlib.asynccontextmanager
    async def of(self, call_ids: Iterable[str]) -> AsyncIterator[None]:
        """Hold the turns of these calls (one call or many) for the body of a `with`."""
        taken: list[str] = []
        try:
            for call_id in sorted(set(call_ids)):
                await self._take(call_id)
                taken.append(call_id)
            yield
        finally:
            for call_id in reversed(taken):
                self._give(call_id)

    async def _take(self, call_id: str) -> None:
        turn = self._turns.get(call_id)
        if turn is None:
            turn = self._turns[call_id] = _Turn()
        turn.users += 1
        try:
            await turn.lock.acquire()
        except BaseException:   # cancelled while waiting: no longer a user of it
            self._leave(call_id, turn)
            raise

    def _give(self, call_id: str) -> None:
        turn = self._turns[call_id]
        turn.lock.release()
        self._leave(call_id, turn)

    def _leave(self, call_id: str, turn: _Turn) -> None:
        turn.users -= 1
        if turn.users == 0:
            del self._turns[call_id]
