"""The update actions of `updatePhoneCall`, each a pure function of the call document.

Every action checks its own rules first (a view that exists, a target of the right kind in
the call's organization, a state in which the action makes sense) and raises the 400 the
spec lists for it; then it answers the next document. Who joins and who leaves follows the
reference's decision: BargeIn, Whisper and Monitor add the target as a new view; PickUp and
UnPark connect it in place of the ringing or parking party; Transfer replaces the party
`transferFromNumber` with the target; TransferToVoicemail takes `transferNumber` off the call.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from uapi.accounts import EXTENDED_NUMBER, Directory, Extension, Organization
from uapi.call_document import PUBLIC_NUMBER, new_party, new_view, next_view_id
from uapi.call_types import CallDoc, Flow, PartyState, Role, Status, View, copy_doc
from uapi.errors import bad_request
from uapi.lifecycle import (
    active,
    answer_now,
    digits,
    iso,
    leave,
    park_away,
    party_matches,
    ring_parker_back,
    unpark,
    view_of,
)
from uapi.switch import HOLD, MEDIA, PARK, TRANSFER

DEFAULT_WAIT_FOR_PICKUP = 25

# An action changes a copy of the document in place; `body` is the request's JSON.
Action = Callable[[CallDoc, dict[str, Any], Directory, int], None]
ACTIONS: dict[str, Action] = {}
# What each action needs of the switch (see uapi.switch); the domain refuses an action the
# switch cannot carry (pc_action_unsupported) instead of pretending it happened.
CAPABILITY = {"OnHold": HOLD, "OffHold": HOLD, "Transfer": TRANSFER, "PickUp": TRANSFER, "Park": PARK,
              "UnPark": PARK, "StartRecording": MEDIA, "StopRecording": MEDIA, "BargeIn": MEDIA, "Whisper": MEDIA,
              "Monitor": MEDIA, "TransferToVoicemail": MEDIA}


def action(name: str) -> Callable[[Action], Action]:
    def register(function: Action) -> Action:
        ACTIONS[name] = function
        return function
    return register


def apply(doc: CallDoc, body: dict[str, Any], directory: Directory, now: int) -> CallDoc:
    """The call after the action in `body`; `doc` is live and already advanced to `now`."""
    name = body.get("action")
    if name not in ACTIONS:
        raise bad_request("pc_action_invalid", f"Unknown action {name!r}; see the spec for the list.")
    new = copy_doc(doc)
    ACTIONS[name](new, body, directory, now)
    return new


# -- shared rules ----------------------------------------------------------------------


def _organization(doc: CallDoc, directory: Directory) -> Organization:
    return directory.organizations[doc["call"]["ownerId"]]


def _view(doc: CallDoc, body: dict[str, Any]) -> View:
    view_id = body.get("phoneCallViewId")
    if view_id is None:
        raise bad_request("pc_phonecallviewid_invalid", f"{body['action']} needs phoneCallViewId.")
    for party in active(doc):
        view = view_of(doc, party)
        if view is not None and view["id"] == str(view_id):
            return view
    raise bad_request("pc_phonecallviewid_invalid", f"No view {view_id} of a party still on the call.")


def _party_of_view(doc: CallDoc, view: View) -> PartyState:
    return next(p for p in active(doc) if p["view"] == view["id"])


def _answered(doc: CallDoc, name: str) -> None:
    if "answered" not in doc["call"]:
        raise bad_request("pc_call_not_answered", f"{name} needs a call that has been answered.")


def _phone_terminal(doc: CallDoc, body: dict[str, Any], directory: Directory) -> Extension:
    """`sendCallTo` as a phone terminal of the call's organization."""
    target = body.get("sendCallTo")
    if not target:
        raise bad_request("pc_sendcallto_invalid", f"{body['action']} needs sendCallTo.")
    ext = directory.find_extension(str(target), _organization(doc, directory))
    if ext is None or ext.organization != _organization(doc, directory) or ext.type != "phone_terminal":
        _refuse_target(target)
    return ext


def _refuse_target(target: object) -> NoReturn:
    # One message whether the extension is missing, of another type or of another
    # organization: the answer must not tell an app what exists outside its organization.
    raise bad_request("pc_sendcallto_invalid",
                      f"sendCallTo {target} must be a phone terminal extension of the call's organization.")


def _not_on_call(doc: CallDoc, number: str) -> None:
    if any(p["number"] == number for p in active(doc)):
        raise bad_request("pc_sendcallto_invalid", f"{number} is already on the call.")


def _party(doc: CallDoc, body: dict[str, Any], field: str) -> PartyState:
    number = body.get(field)
    if not number or not PUBLIC_NUMBER.match(str(number).replace("*", "")):
        raise bad_request(f"pc_{field.lower()}_invalid", f"{body['action']} needs {field}, a number on the call.")
    wanted = digits(str(number))
    for party in active(doc):
        if party_matches(party, wanted):
            return party
    raise bad_request(f"pc_{field.lower()}_invalid", f"{number} is not a party of the call.")


def _join(doc: CallDoc, number: str, ext: Extension | None, now: int, ring_seconds: int | None,
          directory: Directory, caller_id: str | None = None) -> PartyState:
    """Add a party: a new view for an extension; a public number shows in the views' destination."""
    views = doc["call"]["phoneCallView"]
    view = None
    if ext is None:
        for other in views:
            other["destination"] = [*other["destination"], number]
    else:
        view = new_view(next_view_id(views), ext, views[0]["source"] if views else [], [ext.number], Flow.LOCAL,
                        Status.RINGING, caller_id or ext.caller_id, iso(now))
        views.append(view)
    party = new_party(number, ext, Role.DESTINATION, view, answered=False)
    if ring_seconds:
        party["ringUntil"] = now + ring_seconds * 1000
    else:
        party["autoAnswer"] = True  # the party asked for the call (PickUp, UnPark): its phone answers by itself
    doc["parties"].append(party)
    return party


def _whole(body: dict[str, Any], field: str, low: int, high: int, default: int | None = None) -> int | None:
    """An integer field that may arrive as a numeric string (the original client sends them so)."""
    value = body.get(field)
    if value is None:
        return default
    number = int(value)  # the spec lets through only integers and strings of digits
    if not low <= number <= high:
        raise bad_request(f"pc_{field.lower()}_invalid", f"{field} must be between {low} and {high}.")
    return number


def _ring_seconds(body: dict[str, Any]) -> int:
    return _whole(body, "waitForPickup", 1, 600, DEFAULT_WAIT_FOR_PICKUP) or DEFAULT_WAIT_FOR_PICKUP


# -- the actions -----------------------------------------------------------------------


@action("OnHold")
def _on_hold(doc: CallDoc, body: dict[str, Any], directory: Directory, now: int) -> None:
    view = _view(doc, body)
    _answered(doc, "OnHold")
    if any("onHold" in v for v in doc["call"]["phoneCallView"]):
        raise bad_request("pc_call_on_hold", "The call is already on hold.")
    for other in doc["call"]["phoneCallView"]:
        other.update({"onHold": iso(now), "holder": int(other is view)})


@action("OffHold")
def _off_hold(doc: CallDoc, body: dict[str, Any], directory: Directory, now: int) -> None:
    _view(doc, body)
    if not any("onHold" in v for v in doc["call"]["phoneCallView"]):
        raise bad_request("pc_call_not_on_hold", "The call is not on hold.")
    for view in doc["call"]["phoneCallView"]:
        view.pop("onHold", None)
        view.pop("holder", None)


@action("StartRecording")
def _start_recording(doc: CallDoc, body: dict[str, Any], directory: Directory, now: int) -> None:
    view = _view(doc, body)
    _answered(doc, "StartRecording")
    if "recording" in view:
        raise bad_request("pc_call_recording", f"View {view['id']} is already recording.")
    view["recording"] = iso(now)
    doc.setdefault("recordingFormats", {})[view["id"]] = body.get("format") or "wav"


@action("StopRecording")
def _stop_recording(doc: CallDoc, body: dict[str, Any], directory: Directory, now: int) -> None:
    view = _view(doc, body)
    if "recording" not in view:
        raise bad_request("pc_call_not_recording", f"View {view['id']} is not recording.")
    del view["recording"]


@action("Park")
def _park(doc: CallDoc, body: dict[str, Any], directory: Directory, now: int) -> None:
    view = _view(doc, body)
    _answered(doc, "Park")
    if doc["timers"].get("parkedUntil") is not None:
        raise bad_request("pc_call_parked", "The call is already parked.")
    max_in_parking = _whole(body, "maxInParking", 1, 3600)
    if max_in_parking is None:
        raise bad_request("pc_maxinparking_invalid", "Park needs maxInParking (seconds).")
    # The simulator has no shared parking lot; a position derived from the call id keeps
    # it stable across reads. A real switch reports the slot it used.
    position = 1 + sum(map(ord, doc["call"]["id"])) % 100
    for other in doc["call"]["phoneCallView"]:
        other.update({"parked": iso(now), "parkedPos": position, "parkedBy": view["extension"]})
    doc["timers"]["parkedUntil"] = now + max_in_parking * 1000
    park_away(doc, _party_of_view(doc, view))


@action("UnPark")
def _unpark(doc: CallDoc, body: dict[str, Any], directory: Directory, now: int) -> None:
    _view(doc, body)
    if doc["timers"].get("parkedUntil") is None:
        raise bad_request("pc_call_not_parked", "The call is not parked.")
    parked_by = doc["call"]["phoneCallView"][0]["parkedBy"]
    target = _phone_terminal(doc, body, directory)
    unpark(doc)
    if target.extended == parked_by:
        ring_parker_back(doc, now)   # the parker takes its call back
        return
    _not_on_call(doc, target.extended)
    answer_now(doc, _join(doc, target.extended, target, now, 0, directory, body.get("callerId")), now)
    parker = next((p for p in active(doc) if p["number"] == parked_by), None)
    if parker is not None:
        leave(doc, parker, now)


@action("PickUp")
def _pick_up(doc: CallDoc, body: dict[str, Any], directory: Directory, now: int) -> None:
    view = _view(doc, body)
    if view["status"] != Status.RINGING:
        raise bad_request("pc_view_not_ringing", f"View {view['id']} is not ringing; only a ringing party can be picked up.")
    target = _phone_terminal(doc, body, directory)
    _not_on_call(doc, target.extended)
    ringing = _party_of_view(doc, view)
    joined = _join(doc, target.extended, target, now, 0, directory, body.get("callerId"))
    answer_now(doc, joined, now)
    leave(doc, ringing, now)


def _add_listener(name: str) -> Action:
    def add(doc: CallDoc, body: dict[str, Any], directory: Directory, now: int) -> None:
        _view(doc, body)
        _answered(doc, name)
        if name == "Whisper" and body.get("private") not in (None, 0, 1, "0", "1"):
            raise bad_request("pc_private_invalid", "private must be 0 or 1.")
        target = _phone_terminal(doc, body, directory)
        _not_on_call(doc, target.extended)
        _join(doc, target.extended, target, now, _ring_seconds(body), directory, body.get("callerId"))
    return add


for _name in ("BargeIn", "Whisper", "Monitor"):
    ACTIONS[_name] = _add_listener(_name)


@action("Transfer")
def _transfer(doc: CallDoc, body: dict[str, Any], directory: Directory, now: int) -> None:
    _answered(doc, "Transfer")
    moving = _party(doc, body, "transferNumber")
    leaving = _party(doc, body, "transferFromNumber")
    if moving is leaving:
        raise bad_request("pc_transferfromnumber_invalid", "transferFromNumber and transferNumber must be different parties.")
    target = str(body.get("sendCallTo") or "")
    # An extension (extended, or a local number of the call's organization) must be a phone
    # terminal of the call's organization, as for the other actions; anything else is a public number.
    ext = directory.find_extension(target, _organization(doc, directory))
    if EXTENDED_NUMBER.match(target) or ext is not None:
        ext = _phone_terminal(doc, body, directory)
    else:
        if not PUBLIC_NUMBER.match(target):
            raise bad_request("pc_sendcallto_invalid", "sendCallTo must be an extension or a public number.")
        if not doc["options"].get("allowPublicTransfer"):
            raise bad_request("pc_sendcallto_invalid",
                              "This call was placed without allowPublicTransfer; it cannot go to a public number.")
    number = ext.extended if ext else target
    _not_on_call(doc, number)
    _join(doc, number, ext, now, doc["options"]["waitForPickup"], directory)
    leave(doc, leaving, now)


@action("TransferToVoicemail")
def _transfer_to_voicemail(doc: CallDoc, body: dict[str, Any], directory: Directory, now: int) -> None:
    _phone_terminal(doc, body, directory)
    leave(doc, _party(doc, body, "transferNumber"), now)
