"""How a call moves through time: ringing, answer, the end, and the legs that close.

A call is one JSON document (its shape: `uapi.call_types`). Every function here is pure: it takes a
document and answers the next one, never touching the input. Timed events (a party answers
after the simulator's delay, nobody answers within `waitForPickup`, `callDuration` runs out,
a parked call's `maxInParking` passes) are kept as deadlines in the document; `advance`
applies every deadline that has passed, so any reader sees the call as it is *now*, and the
store keeps the next deadline and the projected end in indexed columns.
"""
from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

from uapi.call_types import CallDoc, Cause, Disposition, EndedBy, PartyState, Status, View, copy_doc
from uapi.switch import EventKind

# What a call that ended before anyone answered says in every view, by its cause.
UNANSWERED_OUTCOME: dict[Cause | None, Disposition] = {Cause.BUSY: Disposition.BUSY, Cause.FAILED: Disposition.FAILED}
NOT_ALLOWED_STATUSES = frozenset({401, 403, 407})   # SIP refusals that mean the party may not be called
# The timed events a call keeps as deadlines.
Deadline = Literal["answer", "ring_timeout", "duration", "unpark"]


@functools.lru_cache(maxsize=64)
def iso(ms: int) -> str:
    # Memoized: a bulk hang-up stamps thousands of calls with the same instant.
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def digits(number: str) -> str:
    """A number as the digits it dials: `+`, spaces and `*` dropped."""
    return number.replace("+", "").replace("*", "").strip()


def active(doc: CallDoc) -> list[PartyState]:
    return [p for p in doc["parties"] if not p["left"]]


def view_of(doc: CallDoc, party: PartyState) -> View | None:
    wanted = party["view"]
    for view in doc["call"]["phoneCallView"]:   # a loop, not next(generator): a third of the time
        if view["id"] == wanted:
            return view
    return None


def is_live(doc: CallDoc) -> bool:
    return "ended" not in doc["call"]


def ring_deadline(doc: CallDoc, now: int) -> int:
    """When a party that starts ringing at `now` gives up unanswered (the create's waitForPickup)."""
    return now + doc["options"]["waitForPickup"] * 1000


# -- timed events -------------------------------------------------------------------


def _events(doc: CallDoc) -> Iterator[tuple[int, Deadline, str | None]]:
    """Pending deadlines as (time, kind, subject)."""
    if not is_live(doc):
        return
    for party in active(doc):
        if not party["answered"]:
            if "answerAt" in party:
                yield party["answerAt"], "answer", party["number"]
            if "ringUntil" in party:  # a party not dialled yet has no deadline
                yield party["ringUntil"], "ring_timeout", party["number"]
    timers = doc["timers"]
    if "endAt" in timers:
        yield timers["endAt"], "duration", None
    if "parkedUntil" in timers:
        yield timers["parkedUntil"], "unpark", None


def next_event(doc: CallDoc) -> int | None:
    return min((time for time, _, _ in _events(doc)), default=None)


def advance(doc: CallDoc, now: int) -> CallDoc:
    """The call at `now`: every deadline that passed, applied in time order."""
    current = doc
    for _ in range(10_000):  # each step removes a deadline; the bound only guards against bugs
        due = min((e for e in _events(current) if e[0] <= now), default=None, key=lambda e: (e[0], e[1]))
        if due is None:
            return current
        current = _apply(current, *due)
    raise RuntimeError(f"call {doc['call']['id']}: deadlines do not converge")


def projected_end(doc: CallDoc) -> int | None:
    """When the call ends if nobody acts on it (None: it has ended or never ends by itself)."""
    if not is_live(doc):
        return None
    final = advance(doc, 2**62)
    return final.get("endedMs")


def _apply(doc: CallDoc, time: int, kind: Deadline, subject: str | None) -> CallDoc:
    new = copy_doc(doc)
    if kind == "answer":
        _answer(new, _party(new, subject), time)
        _dial_next_wave(new, time)
        return new
    if kind == "ring_timeout":
        _leave(new, _party(new, subject), Disposition.NO_ANSWER)
        if "answered" not in new["call"]:
            return _after_leaving(new, time, EndedBy.SYSTEM, Cause.NO_ANSWER)
        return new if len(active(new)) >= 2 else end_call(new, time, EndedBy.SYSTEM, Cause.COMPLETED)
    if kind == "duration":
        return end_call(new, time, EndedBy.SYSTEM, Cause.DURATION_LIMIT)
    unpark(new)  # maxInParking passed: the call goes back to its parker
    ring_parker_back(new, time)
    return new


def _party(doc: CallDoc, number: str | None) -> PartyState:
    assert number is not None, "a party's deadline names its party"
    return next(p for p in active(doc) if p["number"] == number)


def unpark(doc: CallDoc) -> None:
    doc["timers"].pop("parkedUntil", None)
    for view in doc["call"]["phoneCallView"]:
        view.pop("parked", None)
        view.pop("parkedPos", None)
        view.pop("parkedBy", None)


def park_away(doc: CallDoc, parker: PartyState) -> None:
    """On a real switch the parker hangs up into the parking lot (its leg ends, the others are
    held) and stays a party of the call, to be rung back. The simulator's parker never leaves."""
    if doc["options"].get("liveSwitch"):
        parker["parkedAway"] = True


def ring_parker_back(doc: CallDoc, now: int) -> None:
    """The parked call returns to its parker: on a real switch its phone rings (and answers by
    itself), then it is connected to the parked party again."""
    for party in active(doc):
        if party.pop("parkedAway", False):
            party.update({"answered": False, "autoAnswer": True, "ringUntil": ring_deadline(doc, now)})
            _ring(doc, party, now)


def _answer(doc: CallDoc, party: PartyState, time: int) -> None:
    """A party picks up. The call is answered once two parties are on it (a real switch rings
    the source of an API call first: its answer alone connects nobody)."""
    party["answered"] = True
    party.pop("answerAt", None)
    party.pop("ringUntil", None)
    view = view_of(doc, party)
    if view is not None:
        view.pop("ringing", None)
        view["answered"] = iso(time)
        waiting = any(not p["answered"] for p in active(doc))
        view["status"] = Status.OTHER_SIDE_RINGING if "answered" not in doc["call"] and waiting else Status.ON_CALL
    if "answered" not in doc["call"] and sum(p["answered"] for p in active(doc)) >= 2:
        doc["call"]["answered"] = iso(time)
        doc["timers"]["endAt"] = time + doc["options"]["callDuration"] * 1000
        for other in active(doc):
            other_view = view_of(doc, other)
            if other["answered"] and other_view is not None:
                other_view.update({"status": Status.ON_CALL, "answered": other_view.get("answered", iso(time))})


# -- ending ------------------------------------------------------------------------


def _leave(doc: CallDoc, party: PartyState, disposition: Disposition) -> None:
    party["left"] = True
    party.pop("answerAt", None)
    party.pop("ringUntil", None)
    view = view_of(doc, party)
    if view is not None:
        view["disposition"] = disposition


def _disposition(doc: CallDoc, party: PartyState, cause: Cause | None = None) -> Disposition:
    """How the call went for a party that leaves: answered only if the call itself was
    answered and so was the party; a call nobody answered says busy, failed or no answer."""
    if "answered" in doc["call"]:
        return Disposition.ANSWERED if party["answered"] else Disposition.NO_ANSWER
    return UNANSWERED_OUTCOME.get(cause, Disposition.NO_ANSWER)


def end_call(doc: CallDoc, now: int, ended_by: EndedBy, cause: Cause) -> CallDoc:
    new = copy_doc(doc)
    for party in active(new):
        _leave(new, party, _disposition(new, party, cause))
    new["call"].update({"ended": iso(now), "endedBy": ended_by, "cause": cause})
    new["timers"] = {}
    new["endedMs"] = now
    return new


def close_legs(doc: CallDoc, number_digits: str | None, now: int) -> CallDoc | None:
    """The call after a hang-up through the API, or None when nothing of it is hung up.

    Without a number every leg closes. With one, only that party leaves; the call ends
    when fewer than two parties remain on it. A call nobody answered yet is cancelled.
    """
    current = active(doc)
    leaving = current if number_digits is None else [p for p in current if party_matches(p, number_digits)]
    if not leaving:
        return None
    if len(current) - len(leaving) >= 2:
        new = copy_doc(doc)
        numbers = {p["number"] for p in leaving}
        for party in active(new):
            if party["number"] in numbers:
                _leave(new, party, _disposition(new, party))
        return new
    return end_call(doc, now, EndedBy.API, Cause.HANGUP if "answered" in doc["call"] else Cause.CANCELLED)


def leave(doc: CallDoc, party: PartyState, now: int) -> None:
    """One party leaves `doc` in place (a transfer away); the call ends when fewer than two remain."""
    _leave(doc, party, _disposition(doc, party))
    if len(active(doc)) < 2:
        doc.update(end_call(doc, now, EndedBy.SYSTEM, Cause.COMPLETED))
    else:
        _dial_next_wave(doc, now)   # the party that left may have been the one the others waited for


def answer_now(doc: CallDoc, party: PartyState, now: int) -> None:
    """A party that joins by picking up: answered at once, in place (and whoever waited for
    the party it replaces, a real switch's destination, is dialled now)."""
    _answer(doc, party, now)
    _dial_next_wave(doc, now)


def party_matches(party: PartyState, number_digits: str) -> bool:
    if party["extension"]:
        return number_digits in (party["number"].split("*", 1)[1], digits(party["number"]))
    return digits(party["number"]) == number_digits


# -- what the switch reports ---------------------------------------------------------


def _dial_next_wave(doc: CallDoc, now: int) -> None:
    """Once every party dialled first has answered, the parties waiting for them ring.

    A real switch rings the source of an API call first and the destination only when the
    source picked up (RFC 3725 flow IV); the simulator dials everyone at once, so nothing waits.
    """
    if not is_live(doc) or any(p.get("dialled", True) and not p["answered"] for p in active(doc)):
        return
    waiting = [p for p in active(doc) if not p.get("dialled", True)]
    for party in waiting:
        party["dialled"] = True
        party["ringUntil"] = ring_deadline(doc, now)
        _ring(doc, party, now)


def _ring(doc: CallDoc, party: PartyState, now: int) -> None:
    view = view_of(doc, party)
    if view is not None:
        view.update({"status": Status.RINGING, "ringing": view.get("ringing", iso(now))})
    if "answered" not in doc["call"]:
        for other in active(doc):
            other_view = view_of(doc, other)
            if other["answered"] and other_view is not None:
                other_view["status"] = Status.OTHER_SIDE_RINGING


def _after_leaving(doc: CallDoc, now: int, ended_by: EndedBy, cause: Cause) -> CallDoc:
    """A party left by itself; the call ends when fewer than two remain, or when nobody who
    could still answer is left on a call nobody answered."""
    remaining = active(doc)
    could_answer = any(not p["answered"] for p in remaining)
    if len(remaining) < 2 or ("answered" not in doc["call"] and not could_answer):
        return end_call(doc, now, ended_by, cause)
    return doc


def apply_event(doc: CallDoc, kind: EventKind, number: str, at: int, now: int,
                status: int | None = None) -> CallDoc | None:
    """The call after the switch reported `kind` for party `number`; None when it changes
    nothing (the party already left: a phone's BYE that lost the race to a hang-up)."""
    if not is_live(doc):
        return None
    new = copy_doc(doc)
    party = next((p for p in active(new) if p["number"] == number), None)
    if party is None:
        return None
    if kind == "answered":
        if party["answered"]:
            return None
        if at > now:  # known ahead of time (the simulator): a deadline, applied when it passes
            party["answerAt"] = at
            return new
        _answer(new, party, now)
        _dial_next_wave(new, now)
        return new
    if kind == "ringing":
        view = view_of(new, party)
        if party["answered"] or view is None or "ringing" in view:   # nothing a reader would see changes
            return None
        _ring(new, party, now)
        return new
    if kind == "busy":
        _leave(new, party, Disposition.BUSY)
        return _after_leaving(new, now, EndedBy.CALLEE, Cause.BUSY)
    if kind == "no_answer":
        _leave(new, party, Disposition.NO_ANSWER)
        return _after_leaving(new, now, EndedBy.SYSTEM, Cause.NO_ANSWER)
    if kind == "failed":
        _leave(new, party, Disposition.NOT_ALLOWED if status in NOT_ALLOWED_STATUSES else Disposition.FAILED)
        return _after_leaving(new, now, EndedBy.SYSTEM, Cause.FAILED)
    if kind == "hangup":  # the party put its own phone down (or gave up ringing)
        _leave(new, party, _disposition(new, party, Cause.CANCELLED))
        return _after_leaving(new, now, EndedBy.PARTY, Cause.HANGUP if "answered" in new["call"] else Cause.CANCELLED)
    raise ValueError(f"unknown switch event {kind!r}")


def end_after_restart(doc: CallDoc, now: int) -> CallDoc | None:
    """A call whose legs a crashed switch engine held: nobody can carry it any more."""
    return end_call(doc, now, EndedBy.SYSTEM, Cause.SWITCH_RESTART) if is_live(doc) else None
