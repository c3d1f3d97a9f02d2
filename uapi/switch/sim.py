"""The built-in simulated switch, on the same two-way port as the real one.

A simulated party has no phone to wait for, so the simulator knows every outcome the moment
a leg is originated: it answers those events at once, dated when they happen (a party
answers `answerDelay` seconds later, a `busy` number refuses now, a `noAnswer` number never
answers). The domain keeps future events as deadlines in the call, so they hold across
restarts and across server processes exactly like the real switch's events would.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from uapi.accounts import Simulator
from uapi.switch import ALL_CAPABILITIES, Direction, EventSink, IncomingHandler, Leg, SwitchEvent


class SimulatedSwitch:
    capabilities = ALL_CAPABILITIES

    def __init__(self, config: Simulator) -> None:
        self.config = config
        # (call id, party, command): what a real switch would have been told; the last 1000, for tests.
        self.commands: deque[tuple[str, str, str]] = deque(maxlen=1000)

    async def start(self, on_event: EventSink, on_incoming: IncomingHandler) -> Sequence[tuple[str, str]]:
        """Nothing to start: no phone ever dials a simulated switch, and no leg outlives it."""
        return []

    def live_calls(self) -> Sequence[str]:
        return []   # simulated calls live in the database only: they outlive the process

    async def stop(self) -> None:
        """Nothing to tear down."""

    async def originate(self, call_id: str, leg: Leg, now_ms: int) -> Sequence[SwitchEvent]:
        self._note(call_id, leg.party, "originate")
        number = leg.target.replace("+", "")
        if number in self.config.busy:
            return [SwitchEvent(call_id, leg.party, "busy", now_ms, 486)]
        if number in self.config.no_answer:
            return []
        return [SwitchEvent(call_id, leg.party, "answered", now_ms + int(self.config.answer_delay * 1000), 200)]

    async def connect(self, call_id: str, a: str, b: str) -> None:
        self._note(call_id, f"{a}+{b}", "connect")

    async def set_direction(self, call_id: str, party: str, direction: Direction) -> None:
        self._note(call_id, party, direction)

    async def end(self, call_id: str, parties: Sequence[str]) -> None:
        for party in parties:
            self._note(call_id, party, "end")

    async def end_many(self, ends: Sequence[tuple[str, Sequence[str]]]) -> None:
        for call_id, parties in ends:
            await self.end(call_id, parties)

    def _note(self, call_id: str, party: str, command: str) -> None:
        self.commands.append((call_id, party, command))
