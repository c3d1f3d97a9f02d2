"""An in-process alarm per call at its next deadline, for switches with real phones.

Readers see a passed deadline at once (`uapi.lifecycle.advance`) and a sweeper in every server
process writes it down within a second. A phone, though, must hear its CANCEL (waitForPickup)
or BYE (callDuration) at the deadline itself: the alarm writes the call then.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class DeadlineAlarms:
    def __init__(self, clock: Callable[[], float], wake: Callable[[str], Awaitable[None]]) -> None:
        self.clock = clock
        self.wake = wake
        self._alarms: dict[str, asyncio.TimerHandle] = {}
        self._woken: set[asyncio.Task[None]] = set()

    def arm(self, call_id: str, due_ms: int | None) -> None:
        """Wake `call_id` at `due_ms` (epoch ms); None: the call has no deadline left."""
        previous = self._alarms.pop(call_id, None)
        if previous is not None:
            previous.cancel()
        if due_ms is None:
            return
        delay = max(0.0, due_ms / 1000 - self.clock())
        self._alarms[call_id] = asyncio.get_running_loop().call_later(delay, self._ring, call_id)

    def _ring(self, call_id: str) -> None:
        self._alarms.pop(call_id, None)
        task = asyncio.ensure_future(self.wake(call_id))
        self._woken.add(task)   # held until done: the loop keeps only weak references to tasks
        task.add_done_callback(self._woken.discard)

    async def close(self) -> None:
        for alarm in self._alarms.values():
            alarm.cancel()
        self._alarms.clear()
        if self._woken:
            await asyncio.gather(*self._woken, return_exceptions=True)
