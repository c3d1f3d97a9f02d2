"""The call document as built: one shape for every view and party, and JSON with the spec's values."""
from __future__ import annotations

import json
from pathlib import Path

from uapi import actions
from uapi.accounts import Directory
from uapi.call_document import CallOptions, new_document, parse_party
from uapi.call_types import CallDoc, CallKind, Role, copy_doc

DIRECTORY = Directory.load(Path(__file__).parents[1] / "support" / "directory.yaml")
NOW = 1_795_000_000_000


def placed(*destinations: str, sequential: bool = False) -> CallDoc:
    charged = DIRECTORY.extensions["0003*210"]
    parties = [parse_party(charged.extended, Role.SOURCE, DIRECTORY, charged.user, "pc_source_invalid")]
    parties += [parse_party(d, Role.DESTINATION, DIRECTORY, charged.user, "pc_destination_invalid") for d in destinations]
    view_in = {"destination": list(destinations)}
    return new_document(CallKind.SIMPLE, "c1", charged, parties, view_in, "n1", CallOptions(), NOW, sequential)


def test_a_call_to_a_public_number_is_outgoing_and_its_source_hears_the_other_side_ring() -> None:
    view = placed("+4031234567")["call"]["phoneCallView"][0]
    assert (view["flow"], view["status"]) == (4, 4)


def test_a_real_switch_leaves_the_destination_trying_until_the_source_answers() -> None:
    views = placed("220", sequential=True)["call"]["phoneCallView"]
    assert [(v["flow"], v["status"]) for v in views] == [(2, 3), (2, 2)]


def test_the_document_is_plain_json_with_the_spec_values() -> None:
    doc = placed("220")
    stored = json.loads(json.dumps(doc))
    assert stored == doc
    view = stored["call"]["phoneCallView"][1]
    assert type(view["flow"]) is int and type(view["status"]) is int
    assert type(stored["parties"][1]["role"]) is str and stored["options"]["kind"] == "simple"


def test_a_view_an_action_adds_has_the_shape_of_one_built_when_the_call_was_placed() -> None:
    doc = placed("220")
    doc["call"]["answered"] = "2026-11-27T05:27:00Z"
    barge_in = {"action": "BargeIn", "phoneCallViewId": "00", "sendCallTo": "211", "callerId": "Desk <211>"}
    added = actions.apply(doc, barge_in, DIRECTORY, NOW)
    created, joined = doc["call"]["phoneCallView"][1], added["call"]["phoneCallView"][2]
    assert joined["id"] == "02" and set(joined) == set(created)
    created_party, joined_party = doc["parties"][1], added["parties"][2]
    assert set(joined_party) == set(created_party) - {"dialled"}
    assert (joined_party["view"], joined_party["role"], joined_party["left"]) == ("02", "destination", False)


def test_copy_doc_is_equal_and_shares_nothing_mutable_with_the_original() -> None:
    doc = placed("8887777", "220")
    copied = copy_doc(doc)
    assert copied == doc
    copied["parties"][0]["left"] = True
    copied["call"]["phoneCallView"][0]["status"] = 99
    copied["timers"].clear()
    assert copied != doc and doc == placed("8887777", "220")
