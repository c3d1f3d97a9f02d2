"""What the switch must be told when a call changes: derived, never remembered.

Every change of a call (an API request, a switch event, a deadline that passed) is one
conditional write from one document to the next. The commands for the switch follow from
comparing the two, so every way a leg ends (a hang-up, a busy party, a deadline, the other
party leaving) releases it on the switch, and only the writer that won the race sends them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from uapi.call_types import CallDoc, PartyState
from uapi.lifecycle import view_of
from uapi.switch import Direction, Leg


@dataclass
class Commands:
    originate: list[Leg] = field(default_factory=list)
    connect: list[tuple[str, str]] = field(default_factory=list)   # (party already on the call, party joining)
    directions: list[tuple[str, Direction]] = field(default_factory=list)
    end: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.originate or self.connect or self.directions or self.end)


def _by_number(doc: CallDoc | None) -> dict[str, PartyState]:
    return {} if doc is None else {p["number"]: p for p in doc["parties"]}


def leg_of(doc: CallDoc, party: PartyState) -> Leg:
    view = view_of(doc, party)
    return Leg(party=party["number"], target=party["number"], caller_id=None if view is None else view.get("callerId"),
               auto_answer=bool(party.get("autoAnswer")))


def commands_between(before: CallDoc | None, after: CallDoc) -> Commands:
    """The switch commands that take a call from `before` to `after` (`before` None: a call
    just placed)."""
    old = _by_number(before)
    commands = Commands()
    for party in after["parties"]:
        was = old.get(party["number"])
        if party["left"]:
            if was is not None and not was["left"] and not was.get("parkedAway"):
                commands.end.append(party["number"])
            continue
        if party.get("parkedAway"):   # parked the call and hung up into the parking lot
            if was is not None and not was.get("parkedAway"):
                commands.end.append(party["number"])
            continue
        newly_dialled = party.get("dialled", True) and (was is None or not was.get("dialled", True))
        rung_back = was is not None and was.get("parkedAway")
        if (newly_dialled or rung_back) and not party.get("offHook"):
            commands.originate.append(leg_of(after, party))
    commands.connect = _connections(old, after)
    commands.directions = _directions(before, after)
    return commands


def _connections(old: dict[str, PartyState], after: CallDoc) -> list[tuple[str, str]]:
    """Each party that newly answered an answered call is connected to one already on it."""
    if "answered" not in after["call"]:
        return []
    on_call = [p for p in after["parties"] if not p["left"] and p["answered"]]
    joined = [p for p in on_call if (p["number"] not in old or not old[p["number"]]["answered"])
              and not p.get("bridged")]   # a callee the switch bridged itself is connected already
    settled = [p for p in on_call if p not in joined]
    pairs = []
    for party in joined:
        partner = settled[0] if settled else next((p for p in on_call if p is not party), None)
        if partner is not None and (partner["number"], party["number"]) not in pairs \
                and (party["number"], partner["number"]) not in pairs:
            pairs.append((partner["number"], party["number"]))
    return pairs


def _held(doc: CallDoc | None) -> bool:
    return doc is not None and any("onHold" in view for view in doc["call"]["phoneCallView"])


def _parked_away(doc: CallDoc | None) -> bool:
    return doc is not None and any(p.get("parkedAway") and not p["left"] for p in doc["parties"])


def _directions(before: CallDoc | None, after: CallDoc) -> list[tuple[str, Direction]]:
    """Hold and resume set every answered leg's media; parking holds the parties left waiting
    (the parker's return, or whoever unparks the call, is connected to them afresh)."""
    if "ended" in after["call"]:
        return []
    staying = [p for p in after["parties"] if not p["left"] and p["answered"] and not p.get("parkedAway")]
    if _parked_away(after) and not _parked_away(before):
        return [(p["number"], "inactive") for p in staying]
    if _held(before) == _held(after):
        return []
    direction: Direction = "inactive" if _held(after) else "sendrecv"
    return [(p["number"], direction) for p in staying]
