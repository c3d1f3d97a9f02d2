"""The switch port: the engine that actually carries calls.

The domain decides what a call's state is; a switch carries the media and signalling
for it. The built-in :mod:`uapi.switch.sim` simulates one; a SIP engine can implement the
same two methods.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


@dataclass(frozen=True)
class ConnectOutcome:
    """What the switch saw when it rang the parties: the numbers that answered busy."""

    busy: tuple[str, ...] = ()


class Switch(Protocol):
    async def connect(self, call_id: str, numbers: Sequence[str]) -> ConnectOutcome:
        """Ring every party of a new call."""

    async def release(self, call_id: str, numbers: Sequence[str]) -> None:
        """Tear down the legs of these parties (CANCEL or BYE on a real switch)."""
