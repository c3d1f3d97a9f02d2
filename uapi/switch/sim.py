"""The built-in simulated switch: every party answers at once, except the numbers the
directory's `simulator` block declares busy."""
from __future__ import annotations

from typing import Sequence

from uapi.accounts import Simulator
from uapi.switch import ConnectOutcome


class SimulatedSwitch:
    def __init__(self, config: Simulator) -> None:
        self.config = config
        self.released: list[tuple[str, str]] = []  # (call id, number): what a real switch would have torn down

    async def connect(self, call_id: str, numbers: Sequence[str]) -> ConnectOutcome:
        busy = tuple(n for n in numbers if n.replace("+", "") in self.config.busy)
        return ConnectOutcome(busy=busy)

    async def release(self, call_id: str, numbers: Sequence[str]) -> None:
        # Nothing to signal in a simulation; keep a bounded trail for tests and debugging.
        self.released.extend((call_id, n) for n in numbers)
        del self.released[:-1000]
