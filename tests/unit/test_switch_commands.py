"""commands_between: what the switch is told follows from two written states of a call."""
from __future__ import annotations

import copy

from uapi.switch_commands import commands_between


def doc(*parties: dict, answered: bool = False) -> dict:
    call = {"id": "c1", "phoneCallView": [{"id": "00", "extension": "0003*210"}]}
    if answered:
        call["answered"] = "2026-11-27T05:27:00Z"
    return {"call": call, "parties": [{"left": False, "answered": False, "view": None, **p} for p in parties]}


SOURCE = {"number": "0003*210", "view": "00", "autoAnswer": True}
NUMBER = {"number": "8887777"}


def test_a_new_call_originates_what_was_dialled_and_not_what_waits_or_is_off_hook() -> None:
    new = doc(SOURCE, {**NUMBER, "dialled": False})
    commands = commands_between(None, new)
    assert [(leg.party, leg.auto_answer) for leg in commands.originate] == [("0003*210", True)]
    off_hook = doc({**SOURCE, "offHook": True, "answered": True}, NUMBER)
    assert [leg.party for leg in commands_between(None, off_hook).originate] == ["8887777"]


def test_the_answer_that_makes_the_call_answered_connects_the_two() -> None:
    before = doc({**SOURCE, "answered": True}, NUMBER)
    after = copy.deepcopy(before)
    after["parties"][1]["answered"] = True
    after["call"]["answered"] = "2026-11-27T05:27:05Z"
    assert commands_between(before, after).connect == [("0003*210", "8887777")]


def test_a_callee_the_switch_bridged_itself_is_not_connected_again() -> None:
    before = doc({**SOURCE, "answered": True}, {**NUMBER, "bridged": True})
    after = copy.deepcopy(before)
    after["parties"][1]["answered"] = True
    after["call"]["answered"] = "2026-11-27T05:27:05Z"
    assert commands_between(before, after).connect == []


def test_every_party_that_left_is_ended_once() -> None:
    before = doc({**SOURCE, "answered": True}, {**NUMBER, "answered": True}, answered=True)
    after = copy.deepcopy(before)
    for party in after["parties"]:
        party["left"] = True
    assert commands_between(before, after).end == ["0003*210", "8887777"]
    assert not commands_between(after, after)


def test_hold_and_resume_set_the_direction_of_every_answered_leg() -> None:
    before = doc({**SOURCE, "answered": True}, {**NUMBER, "answered": True}, answered=True)
    held = copy.deepcopy(before)
    held["call"]["phoneCallView"][0]["onHold"] = "2026-11-27T05:28:00Z"
    assert commands_between(before, held).directions == [("0003*210", "inactive"), ("8887777", "inactive")]
    assert commands_between(held, before).directions == [("0003*210", "sendrecv"), ("8887777", "sendrecv")]


def test_parking_ends_the_parkers_leg_holds_the_other_and_the_return_rings_it_again() -> None:
    talking = doc({**SOURCE, "answered": True}, {**NUMBER, "answered": True}, answered=True)
    parked = copy.deepcopy(talking)
    parked["parties"][0]["parkedAway"] = True
    commands = commands_between(talking, parked)
    assert commands.end == ["0003*210"] and commands.directions == [("8887777", "inactive")]
    back = copy.deepcopy(parked)
    back["parties"][0].update(parkedAway=False, answered=False)
    del back["parties"][0]["parkedAway"]
    assert [leg.party for leg in commands_between(parked, back).originate] == ["0003*210"]
    answered = copy.deepcopy(back)
    answered["parties"][0]["answered"] = True
    assert commands_between(back, answered).connect == [("8887777", "0003*210")]
