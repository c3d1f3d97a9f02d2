"""The switch port: the engine that actually carries calls, with traffic both ways.

The domain owns the truth about a call; a switch carries its signalling. Commands go down
(originate a leg, connect two legs, set a leg's media direction, end a leg) and events come
up (ringing, answered, busy, no answer, failed, the party hung up). The domain applies each
event with the same conditional update as an API request, so a phone's BYE and an API
hang-up racing each other have exactly one winner.

Engines: :mod:`uapi.switch.sim` (built in, the default) and :mod:`uapi.switch.sip` (real SIP
behind Kamailio). The domain asks an engine for its :attr:`Switch.capabilities` instead of
assuming them.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

EventKind = Literal["ringing", "answered", "busy", "no_answer", "failed", "hangup"]
Direction = Literal["inactive", "sendrecv"]

# What an engine may be able to do beyond originate/connect/end.
HOLD = "hold"                  # OnHold / OffHold (set_direction)
TRANSFER = "transfer"          # Transfer, PickUp, UnPark: originate + connect + end
PARK = "park"                  # Park: hold the parked party, end the parker's leg
MEDIA = "media"                # recording, barge-in, whisper, monitor, voicemail: needs a mixer
BRIDGE = "bridge"              # conference invites and calls of more than two parties
OFF_HOOK_SOURCE = "off_hook_source"  # the source of a simple call is already off hook (rings nobody)
LIVE = "live"                  # real phones: a deadline (waitForPickup, callDuration) must act on time
ALL_CAPABILITIES = frozenset({HOLD, TRANSFER, PARK, MEDIA, BRIDGE, OFF_HOOK_SOURCE})


@dataclass(frozen=True)
class Leg:
    """One party to ring, as the domain names it and as the switch dials it."""

    party: str                    # the party's number on the call: "0003*210" or "8887777"
    target: str                   # what to dial: an extended number or a public number
    caller_id: str | None = None  # what the party's display shows, "Name <number>"
    auto_answer: bool = False     # ask the phone to pick up by itself (the source of an API call)


@dataclass(frozen=True)
class SwitchEvent:
    """Something that happened to one leg of a call, at `at_ms` (epoch milliseconds)."""

    call_id: str
    party: str
    kind: EventKind
    at_ms: int
    status: int | None = None     # the SIP status behind it, for "who ended it, why"


@dataclass(frozen=True)
class IncomingCall:
    """A phone dialled: `caller` is the authenticated extension, `dialled` what it dialled."""

    caller: str
    dialled: str


@dataclass(frozen=True)
class Accept:
    call_id: str
    callee: Leg


@dataclass(frozen=True)
class Reject:
    status: int                   # 404, 403, 480 ...
    reason: str


EventSink = Callable[[SwitchEvent], Awaitable[None]]
IncomingHandler = Callable[[IncomingCall], Awaitable["Accept | Reject"]]


class Switch(Protocol):
    capabilities: frozenset[str]

    async def start(self, on_event: EventSink, on_incoming: IncomingHandler) -> Sequence[tuple[str, str]]:
        """Begin carrying calls; events and calls dialled from phones go to the two callbacks.
        Answers the (call id, party) legs a previous process of this engine left live and that
        it has now ended on the wire, so the domain can end their calls."""

    def live_calls(self) -> Sequence[str]:
        """The calls this engine carries legs of right now."""

    async def stop(self) -> None:
        """End every live leg and release what the engine holds."""

    async def originate(self, call_id: str, leg: Leg, now_ms: int) -> Sequence[SwitchEvent]:
        """Ring `leg`. Answers the events the engine already knows, possibly dated in the
        future (the simulator decides at once when a party will answer); a real engine
        answers nothing here and reports progress through `on_event`."""

    async def connect(self, call_id: str, a: str, b: str) -> None:
        """Let the media of parties `a` and `b` flow to each other."""

    async def set_direction(self, call_id: str, party: str, direction: Direction) -> None:
        """Hold (`inactive`) or resume (`sendrecv`) the media of one leg."""

    async def end(self, call_id: str, parties: Sequence[str]) -> None:
        """Tear down these legs: CANCEL while ringing, BYE when answered, nothing when ended.
        Never waits for the far end; ending an ended leg does nothing."""

    async def end_many(self, ends: Sequence[tuple[str, Sequence[str]]]) -> None:
        """`end` for many calls at once, (call id, parties) each: a bulk hang-up's releases."""
