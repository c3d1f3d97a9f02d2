"""Phone calls: how they are placed, which ones a request selects, and how legs close.

A call is kept as one document: the PhoneCall as the API answers it (`call`, without links)
and its parties (`parties`), each an extension (with a view) or a public number. Every
transition is a pure function from one document to the next; :class:`CallService` writes it
with the store's conditional update and retries on a lost race, so concurrent requests
never both win.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from uapi.accounts import EXTENDED_NUMBER, Directory, Extension, User
from uapi.errors import UapiError, bad_request
from uapi.store import Store, StoredCall
from uapi.switch import Switch

PUBLIC_NUMBER = re.compile(r"^\+?[0-9]+$")
FLOW_LOCAL, FLOW_OUTGOING, FLOW_INCOMING = 2, 4, 8
STATUS_TRYING, STATUS_ON_CALL = 2, 5
DISPOSITION_ANSWERED, DISPOSITION_BUSY, DISPOSITION_NO_ANSWER = 0, 1, 3
MAX_RACE_RETRIES = 100


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def digits(number: str) -> str:
    """A number as the digits it dials: `+` and `*` dropped."""
    return number.replace("+", "").replace("*", "")


@dataclass(frozen=True)
class Party:
    number: str  # extended number for extensions, the number as given for public ones
    extension: Extension | None
    role: str  # "source" or "destination"

    def record(self, view_id: str | None) -> dict[str, Any]:
        return {"number": self.number, "extension": self.extension is not None, "role": self.role,
                "view": view_id, "left": False}


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


def party_matches(party: dict[str, Any], number_digits: str) -> bool:
    if party["extension"]:
        return number_digits in (party["number"].split("*", 1)[1], digits(party["number"]))
    return digits(party["number"]) == number_digits


class CallService:
    def __init__(self, directory: Directory, store: Store, switch: Switch,
                 clock: Callable[[], float], new_id: Callable[[], str]) -> None:
        self.directory = directory
        self.store = store
        self.switch = switch
        self.clock = clock
        self.new_id = new_id

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- create --------------------------------------------------------------------

    async def create_simple(self, user: User, charged: Extension, body: dict[str, Any]) -> dict[str, Any]:
        view_in = body["phoneCallView"][0]
        sources = listify(view_in.get("source")) or [charged.number]
        destinations = listify(view_in.get("destination"))
        parties: list[Party] = []
        for raw in sources:
            party = parse_party(raw, "source", self.directory, user, "pc_source_invalid")
            if party.extension and party.extension.organization != user.organization:
                raise bad_request("pc_source_invalid", f"Extension {party.number} is not in the user's organization.")
            parties.append(party)
        parties += [parse_party(raw, "destination", self.directory, user, "pc_destination_invalid") for raw in destinations]
        seen: set[str] = set()
        for party in parties:
            key = party.number if party.extension else digits(party.number)
            if key in seen:
                code = "pc_destination_invalid" if party.role == "destination" else "pc_source_invalid"
                raise bad_request(code, f"{party.number} appears more than once on the call.")
            seen.add(key)
        if not any(p.role == "destination" for p in parties):
            raise bad_request("pc_destination_invalid", "At least one destination is needed.")

        now = self._now_ms()
        call_id = self.new_id()
        outcome = await self.switch.connect(call_id, [p.number for p in parties])
        doc = self._new_document(call_id, charged, parties, sources, destinations, view_in, body.get("nonce"),
                                 now, answered=not outcome.busy)
        if outcome.busy:
            doc = end_call(doc, now, "callee", "busy", busy=set(outcome.busy))
        members = {(p.extension.extended, p.extension.user.id) for p in parties if p.extension}
        members.add((charged.extended, charged.user.id))
        await self.store.insert_call(call_id, charged.organization.id, now, doc.get("endedMs"), doc, sorted(members))
        return doc

    def _new_document(self, call_id: str, charged: Extension, parties: list[Party], sources: list[str],
                      destinations: list[str], view_in: dict[str, Any], nonce: str | None, now: int,
                      answered: bool) -> dict[str, Any]:
        public_source = any(p.extension is None for p in parties if p.role == "source")
        public_destination = any(p.extension is None for p in parties if p.role == "destination")
        views, records = [], []
        for party in parties:
            view_id = None
            if party.extension is not None:
                view_id = f"{len(views):02d}"
                if party.role == "source":
                    flow = FLOW_OUTGOING if public_destination else FLOW_LOCAL
                    caller_id = view_in.get("callerDestination") or party.extension.caller_id
                else:
                    flow = FLOW_INCOMING if public_source else FLOW_LOCAL
                    caller_id = view_in.get("callerId") or charged.caller_id
                view = {"id": view_id, "extension": party.extension.extended, "source": list(sources),
                        "destination": list(destinations), "flow": flow,
                        "status": STATUS_ON_CALL if answered else STATUS_TRYING,
                        "answered": iso(now) if answered else None, "callerId": caller_id}
                views.append({k: v for k, v in view.items() if v is not None})
            records.append(party.record(view_id))
        org = charged.organization
        call = {"id": call_id, "extension": charged.extended, "ownerId": org.id, "ownerName": org.name,
                "published": iso(now), "answered": iso(now) if answered else None, "nonce": nonce, "phoneCallView": views}
        return {"call": {k: v for k, v in call.items() if v is not None}, "parties": records,
                "userId": charged.user.id}

    # -- read ----------------------------------------------------------------------

    async def list_live(self, extensions: Iterable[Extension], start: int, count: int) -> tuple[int, list[dict]]:
        total, page = await self.store.live_calls_page([e.extended for e in extensions], start, count)
        return total, [stored.doc for stored in page]

    async def get(self, extensions: Iterable[Extension], call_id: str) -> dict[str, Any]:
        stored = await self.store.find_call(call_id, [e.extended for e in extensions])
        if stored is None:
            raise _unknown_call(call_id)
        return stored.doc

    # -- hang up -------------------------------------------------------------------

    async def hang_up(self, extensions: list[Extension], call_id: str | None,
                      phone_number: str | None) -> list[dict[str, Any]]:
        """Close legs of the selected live calls; answer each call that lost at least one."""
        numbers = [e.extended for e in extensions]
        if call_id is not None:
            stored = await self.store.find_call(call_id, numbers)
            if stored is None:
                raise _unknown_call(call_id)
            candidates = [stored] if stored.live else []
        else:
            candidates = await self.store.all_live_calls(numbers)
        wanted = None if phone_number is None else digits(phone_number.strip())
        hung_up = []
        for stored in candidates:
            doc = await self._transition(stored, lambda doc: close_legs(doc, wanted, self._now_ms()))
            if doc is not None:
                hung_up.append(doc)
        return hung_up

    async def _transition(self, stored: StoredCall,
                          step: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, Any] | None:
        """Apply `step` to a live call until this writer wins or the step no longer applies."""
        current: StoredCall | None = stored
        for _ in range(MAX_RACE_RETRIES):
            if current is None or not current.live:
                return None
            doc = step(current.doc)
            if doc is None:
                return None
            ended = doc.get("endedMs")
            if await self.store.replace_call(current, doc, ended):
                left = [p["number"] for p, before in zip(doc["parties"], current.doc["parties"])
                        if p["left"] and not before["left"]]
                await self.switch.release(current.id, left)
                return doc
            current = await self.store.load_call(current.id)
        raise UapiError(503, "service_busy", "The call is changing too fast; try again.")


def _unknown_call(call_id: str) -> UapiError:
    return bad_request("pc_phonecall_invalid", f"No phone call {call_id} exists for this user and extension.")


def close_legs(doc: dict[str, Any], number_digits: str | None, now: int) -> dict[str, Any] | None:
    """The call after the hang-up, or None when nothing of it is hung up.

    Without a number every leg closes. With one, only that party leaves; the call ends
    when fewer than two parties remain on it.
    """
    active = [p for p in doc["parties"] if not p["left"]]
    leaving = active if number_digits is None else [p for p in active if party_matches(p, number_digits)]
    if not leaving:
        return None
    if len(active) - len(leaving) >= 2:
        new = copy.deepcopy(doc)
        answered = DISPOSITION_ANSWERED if doc["call"].get("answered") else DISPOSITION_NO_ANSWER
        for party in new["parties"]:
            if any(party["number"] == p["number"] for p in leaving):
                party["left"] = True
                _set_disposition(new, party, answered)
        return new
    answered = bool(doc["call"].get("answered"))
    return end_call(doc, now, "api", "hangup" if answered else "cancelled")


def end_call(doc: dict[str, Any], now: int, ended_by: str, cause: str, busy: set[str] = frozenset()) -> dict[str, Any]:
    new = copy.deepcopy(doc)
    answered = bool(new["call"].get("answered"))
    for party in new["parties"]:
        if party["left"]:
            continue
        party["left"] = True
        if party["number"] in busy:
            disposition = DISPOSITION_BUSY
        else:
            disposition = DISPOSITION_ANSWERED if answered else DISPOSITION_NO_ANSWER
        _set_disposition(new, party, disposition)
    new["call"].update(ended=iso(now), endedBy=ended_by, cause=cause)
    new["endedMs"] = now
    return new


def _set_disposition(doc: dict[str, Any], party: dict[str, Any], disposition: int) -> None:
    for view in doc["call"]["phoneCallView"]:
        if view["id"] == party["view"]:
            view["disposition"] = disposition
