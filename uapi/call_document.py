"""A call as placed: its parties, views and options, built in one place.

A call is kept as one document:

* `call`: the PhoneCall as the API answers it (without `links`);
* `parties`: every party, an extension (with a view) or a public number, with its state
  (`answered`, `left`, `dialled`, and while ringing `answerAt` / `ringUntil`);
* `options`: the create's query parameters; `timers`: the call's own deadlines;
* `userId`: the owner of the charged extension, for `links.self`.

Its types are in `uapi.call_types`. Parties and views are built here only, by `new_party`
and `new_view`, whether the call is placed or an action adds a party to it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from uapi.accounts import EXTENDED_NUMBER, Directory, Extension, User
from uapi.call_types import CallDoc, CallKind, Flow, PartyState, PhoneCall, Role, Status, View
from uapi.errors import bad_request
from uapi.lifecycle import iso, next_event, projected_end
from uapi.store.port import CallState

PUBLIC_NUMBER = re.compile(r"^\+?[0-9]+$")
# Which extension type places each kind of call, and whether its sources ring first
# (a callback rings the source back; a simple call starts from a phone already off hook).
KINDS = {CallKind.SIMPLE: ("phone_terminal", False), CallKind.CALLBACK: ("callback", True),
         CallKind.CONFERENCE_INVITE: ("conference", False)}


@dataclass(frozen=True)
class CallOptions:
    """The create's query parameters."""

    wait_for_pickup: int = 25
    call_duration: int = 3600
    allow_public_transfer: bool = False
    video: bool = False
    conference_number: str | None = None
    conference_pin: str | None = None


@dataclass(frozen=True)
class Party:
    number: str  # extended number for extensions, the number as given for public ones
    extension: Extension | None
    role: Role


def listify(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def parse_party(raw: str, role: Role, directory: Directory, user: User, code: str) -> Party:
    number = raw.strip()
    if EXTENDED_NUMBER.match(number):
        ext = directory.extensions.get(number)
        if ext is None:
            raise bad_request(code, f"Extension {number} does not exist.")
        return Party(ext.extended, ext, role)
    if not PUBLIC_NUMBER.match(number):
        raise bad_request(code, f"{number!r} is neither an extension nor a public number.")
    ext = None if number.startswith("+") else directory.find_extension(number, user.organization)
    return Party(ext.extended, ext, role) if ext else Party(number, None, role)


def call_state(doc: CallDoc) -> CallState:
    return CallState(ended=doc.get("endedMs"), next_event=next_event(doc), ends_at=projected_end(doc))


def members_of(doc: CallDoc, directory: Directory) -> set[tuple[str, str]]:
    """(extension, user id) of every extension that ever took part in the call."""
    found = set()
    for party in doc["parties"]:
        ext = directory.extensions.get(party["number"]) if party["extension"] else None
        if ext is not None:
            found.add((ext.extended, ext.user.id))
    return found


def new_party(number: str, extension: Extension | None, role: Role, view: View | None, answered: bool) -> PartyState:
    """A party as it joins the call; the caller adds the keys of its leg's state (`dialled`,
    `ringUntil`, ...)."""
    return {"number": number, "extension": extension is not None, "role": role,
            "view": None if view is None else view["id"], "left": False, "answered": answered}


def new_view(view_id: str, extension: Extension, source: list[str], destination: list[str], flow: Flow,
             status: Status, caller_id: str | None, ringing: str | None) -> View:
    """The view of an extension as it joins the call (`ringing`: when its phone started ringing)."""
    view: View = {"id": view_id, "extension": extension.extended, "source": source,
                  "destination": destination, "flow": flow, "status": status}
    if caller_id is not None:
        view["callerId"] = caller_id
    if ringing is not None:
        view["ringing"] = ringing
    return view


def next_view_id(views: list[View]) -> str:
    """`00`, `01`, ... in the order the parties joined."""
    return f"{max((int(v['id']) for v in views), default=-1) + 1:02d}"


def new_document(kind: CallKind, call_id: str, charged: Extension, parties: list[Party],
                  view_in: dict[str, Any], nonce: str | None, options: CallOptions, now: int,
                  sequential: bool, live: bool = False) -> CallDoc:
    """The call as placed. Who rings first depends on the switch: the simulator takes the
    source of a simple call as off hook and rings everyone else at once; a real switch
    (`sequential`) rings the sources first, asking a simple call's phone to answer by
    itself, and the destinations once they picked up. `view_in` is the create's first
    phoneCallView, request JSON as the spec validated it."""
    sources_ring = KINDS[kind][1] or sequential
    sources = listify(view_in.get("source")) or [charged.number]
    destinations = listify(view_in.get("destination"))
    public_source = any(p.extension is None for p in parties if p.role == Role.SOURCE)
    public_destination = any(p.extension is None for p in parties if p.role == Role.DESTINATION)
    views: list[View] = []
    records: list[PartyState] = []
    for party in parties:
        is_source = party.role == Role.SOURCE
        dialled = is_source or not sequential
        rings = dialled and (sources_ring or not is_source)
        view = None
        if party.extension is not None:
            if is_source:
                flow = Flow.OUTGOING if public_destination else Flow.LOCAL
                caller_id = view_in.get("callerDestination") or party.extension.caller_id
            else:
                flow = Flow.INCOMING if public_source else Flow.LOCAL
                caller_id = view_in.get("callerId") or charged.caller_id
            status = Status.RINGING if rings else Status.OTHER_SIDE_RINGING if dialled else Status.TRYING
            view = new_view(next_view_id(views), party.extension, sources, destinations, flow, status, caller_id,
                            iso(now) if rings else None)
            views.append(view)
        record = new_party(party.number, party.extension, party.role, view, answered=dialled and not rings)
        record["dialled"] = dialled
        if is_source and not rings:
            record["offHook"] = True
        if is_source and sequential and kind == CallKind.SIMPLE:
            record["autoAnswer"] = True
        if rings:
            record["ringUntil"] = now + options.wait_for_pickup * 1000
        records.append(record)
    org = charged.organization
    call: PhoneCall = {"id": call_id, "extension": charged.extended, "ownerId": org.id, "ownerName": org.name,
                       "published": iso(now), "phoneCallView": views}
    if nonce is not None:
        call["nonce"] = nonce
    return {"call": call, "parties": records, "userId": charged.user.id, "timers": {},
            "options": {"kind": kind,
                        "waitForPickup": options.wait_for_pickup, "callDuration": options.call_duration,
                        "allowPublicTransfer": options.allow_public_transfer, "video": options.video,
                        "conferenceNumber": options.conference_number, "conferencePin": options.conference_pin,
                        "liveSwitch": live}}   # real phones: Park hangs the parker up (uapi.lifecycle.park_away)
