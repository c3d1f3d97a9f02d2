"""A call as placed: its parties, views and options, built in one place.

A call is kept as one document:

* `call`: the PhoneCall as the API answers it (without `links`);
* `parties`: every party, an extension (with a view) or a public number, with its state
  (`answered`, `left`, `dialled`, and while ringing `answerAt` / `ringUntil`);
* `options`: the create's query parameters; `timers`: the call's own deadlines;
* `userId`: the owner of the charged extension, for `links.self`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from uapi.accounts import EXTENDED_NUMBER, Directory, Extension, User
from uapi.errors import bad_request
from uapi.lifecycle import (
    STATUS_OTHER_SIDE_RINGING,
    STATUS_RINGING,
    STATUS_TRYING,
    Doc,
    iso,
    next_event,
    projected_end,
)
from uapi.store.port import CallState

PUBLIC_NUMBER = re.compile(r"^\+?[0-9]+$")
FLOW_LOCAL, FLOW_OUTGOING, FLOW_INCOMING = 2, 4, 8
# Which extension type places each kind of call, and whether its sources ring first
# (a callback rings the source back; a simple call starts from a phone already off hook).
KINDS = {"simple": ("phone_terminal", False), "callback": ("callback", True), "conferenceInvite": ("conference", False)}


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
    role: str  # "source" or "destination"


def listify(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def parse_party(raw: str, role: str, directory: Directory, user: User, code: str) -> Party:
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


def call_state(doc: Doc) -> CallState:
    return CallState(ended=doc.get("endedMs"), next_event=next_event(doc), ends_at=projected_end(doc))


def members_of(doc: Doc, directory: Directory) -> set[tuple[str, str]]:
    """(extension, user id) of every extension that ever took part in the call."""
    found = set()
    for party in doc["parties"]:
        ext = directory.extensions.get(party["number"]) if party["extension"] else None
        if ext is not None:
            found.add((ext.extended, ext.user.id))
    return found


def new_document(kind: str, call_id: str, charged: Extension, parties: list[Party],
                  view_in: dict[str, Any], nonce: str | None, options: CallOptions, now: int,
                  sequential: bool, live: bool = False) -> Doc:
    """The call as placed. Who rings first depends on the switch: the simulator takes the
    source of a simple call as off hook and rings everyone else at once; a real switch
    (`sequential`) rings the sources first, asking a simple call's phone to answer by
    itself, and the destinations once they picked up."""
    sources_ring = KINDS[kind][1] or sequential
    sources = listify(view_in.get("source")) or [charged.number]
    destinations = listify(view_in.get("destination"))
    public_source = any(p.extension is None for p in parties if p.role == "source")
    public_destination = any(p.extension is None for p in parties if p.role == "destination")
    views: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for party in parties:
        is_source = party.role == "source"
        dialled = is_source or not sequential
        rings = dialled and (sources_ring or not is_source)
        record: dict[str, Any] = {"number": party.number, "extension": party.extension is not None,
                                  "role": party.role, "view": None, "left": False, "answered": dialled and not rings,
                                  "dialled": dialled}
        if is_source and not rings:
            record["offHook"] = True
        if is_source and sequential and kind == "simple":
            record["autoAnswer"] = True
        if rings:
            record["ringUntil"] = now + options.wait_for_pickup * 1000
        if party.extension is not None:
            record["view"] = f"{len(views):02d}"
            if is_source:
                flow = FLOW_OUTGOING if public_destination else FLOW_LOCAL
                caller_id = view_in.get("callerDestination") or party.extension.caller_id
            else:
                flow = FLOW_INCOMING if public_source else FLOW_LOCAL
                caller_id = view_in.get("callerId") or charged.caller_id
            status = STATUS_RINGING if rings else STATUS_OTHER_SIDE_RINGING if dialled else STATUS_TRYING
            view = {"id": record["view"], "extension": party.extension.extended, "source": sources,
                    "destination": destinations, "flow": flow, "status": status, "callerId": caller_id}
            if rings:
                view["ringing"] = iso(now)
            views.append({k: v for k, v in view.items() if v is not None})
        records.append(record)
    org = charged.organization
    call = {"id": call_id, "extension": charged.extended, "ownerId": org.id, "ownerName": org.name,
            "published": iso(now), "nonce": nonce, "phoneCallView": views}
    return {"call": {k: v for k, v in call.items() if v is not None}, "parties": records,
            "userId": charged.user.id, "timers": {},
            "options": {"kind": kind,
                        "waitForPickup": options.wait_for_pickup, "callDuration": options.call_duration,
                        "allowPublicTransfer": options.allow_public_transfer, "video": options.video,
                        "conferenceNumber": options.conference_number, "conferencePin": options.conference_pin,
                        "liveSwitch": live}}   # real phones: Park hangs the parker up (uapi.lifecycle.park_away)
