"""close_legs and end_call: the pure transitions behind hang-up."""
from __future__ import annotations

from uapi.lifecycle import close_legs, end_call, party_matches


def call(*parties: tuple[str, bool], answered: bool = True) -> dict:
    views, records = [], []
    for number, is_extension in parties:
        view = None
        if is_extension:
            view = f"{len(views):02d}"
            views.append({"id": view, "extension": number})
        records.append({"number": number, "extension": is_extension, "role": "x", "view": view, "left": False,
                        "answered": answered})
    body = {"id": "c1", "phoneCallView": views}
    if answered:
        body["answered"] = "2026-11-27T05:27:00Z"
    return {"call": body, "parties": records, "userId": "12", "timers": {}, "options": {"callDuration": 3600}}


NOW = 1_795_000_000_000


def test_without_a_number_every_leg_closes_and_the_call_ends() -> None:
    after = close_legs(call(("0003*210", True), ("8887777", False)), None, NOW)
    assert after is not None and after["call"]["cause"] == "hangup" and after["endedMs"] == NOW
    assert all(p["left"] for p in after["parties"])
    assert after["call"]["phoneCallView"][0]["disposition"] == 0


def test_an_unanswered_call_hung_up_is_cancelled_with_no_answer() -> None:
    after = close_legs(call(("0003*210", True), ("8887777", False), answered=False), None, NOW)
    assert after["call"]["cause"] == "cancelled" and after["call"]["phoneCallView"][0]["disposition"] == 3


def test_a_number_that_is_not_a_party_changes_nothing() -> None:
    before = call(("0003*210", True), ("8887777", False))
    assert close_legs(before, "1234", NOW) is None


def test_one_leg_of_three_leaves_and_the_call_stays_live() -> None:
    before = call(("0003*210", True), ("8887777", False), ("0003*220", True))
    after = close_legs(before, "220", NOW)
    assert "ended" not in after["call"] and [p["left"] for p in after["parties"]] == [False, False, True]
    assert after["call"]["phoneCallView"][1]["disposition"] == 0
    assert before["parties"][2]["left"] is False  # the input is not mutated


def test_a_party_that_already_left_cannot_leave_again() -> None:
    once = close_legs(call(("0003*210", True), ("8887777", False), ("5550000", False)), "8887777", NOW)
    assert close_legs(once, "8887777", NOW) is None


def test_numbers_match_as_digits() -> None:
    public = {"number": "+4031234567", "extension": False}
    extension = {"number": "0003*210", "extension": True}
    assert party_matches(public, "4031234567")
    assert party_matches(extension, "210") and party_matches(extension, "0003210")
    assert not party_matches(extension, "0003")


def test_an_unanswered_call_ended_busy_says_busy_in_every_view() -> None:
    after = end_call(call(("0003*210", True), ("0003*220", True), answered=False), NOW, "callee", "busy")
    dispositions = [v["disposition"] for v in after["call"]["phoneCallView"]]
    assert dispositions == [1, 1] and after["call"]["endedBy"] == "callee"


def test_a_party_refused_with_403_says_not_allowed_and_the_call_failed() -> None:
    from uapi.lifecycle import apply_event

    before = call(("0003*210", True), ("0003*220", True), answered=False)
    before["parties"][0]["answered"] = True
    after = apply_event(before, "failed", "0003*220", NOW, NOW, 403)
    assert after is not None and (after["call"]["endedBy"], after["call"]["cause"]) == ("system", "failed")
    assert [v["disposition"] for v in after["call"]["phoneCallView"]] == [2, 5]


def test_a_phone_that_hangs_up_ends_a_two_party_call_as_party_hangup() -> None:
    from uapi.lifecycle import apply_event

    after = apply_event(call(("0003*210", True), ("8887777", False)), "hangup", "8887777", NOW, NOW)
    assert after is not None and (after["call"]["endedBy"], after["call"]["cause"]) == ("party", "hangup")
    assert after["call"]["phoneCallView"][0]["disposition"] == 0


def test_an_event_for_a_party_that_left_changes_nothing() -> None:
    from uapi.lifecycle import apply_event, close_legs

    ended = close_legs(call(("0003*210", True), ("8887777", False)), None, NOW)
    assert apply_event(ended, "hangup", "8887777", NOW, NOW) is None


def test_the_destination_rings_only_once_the_source_answered() -> None:
    from uapi.lifecycle import apply_event

    doc = call(("0003*210", True), ("8887777", False), answered=False)
    doc["options"]["waitForPickup"] = 25
    doc["parties"][1]["dialled"] = False
    after = apply_event(doc, "answered", "0003*210", NOW, NOW)
    assert after["parties"][1]["dialled"] and after["parties"][1]["ringUntil"] == NOW + 25_000
    assert "answered" not in after["call"]


def test_picking_up_a_ringing_source_dials_the_destination_that_waited_for_it() -> None:
    from tests.conftest import TEST_DIRECTORY
    from uapi import actions
    from uapi.accounts import Directory

    directory = Directory.load(TEST_DIRECTORY)
    doc = call(("0003*210", True), ("8887777", False), answered=False)
    doc["call"].update(ownerId="3")
    doc["call"]["phoneCallView"][0].update(status=3, source=["210"], destination=["8887777"])
    doc["options"].update(waitForPickup=25, allowPublicTransfer=False)
    doc["parties"][0].update(role="source", ringUntil=NOW + 25_000)
    doc["parties"][1].update(role="destination", dialled=False)
    after = actions.apply(doc, {"action": "PickUp", "phoneCallViewId": "00", "sendCallTo": "211"}, directory, NOW)
    number = next(p for p in after["parties"] if p["number"] == "8887777")
    assert number["dialled"] and number["ringUntil"] == NOW + 25_000
