"""The switch port seen from the API, on the simulator: every way a leg ends tells the switch,
an unanswered call never says "answered", and what the switch cannot carry is refused."""
from __future__ import annotations

import pytest

from tests.conftest import TEST_DIRECTORY
from uapi.accounts import Directory
from uapi.switch import HOLD, MEDIA, OFF_HOOK_SOURCE

ME = "/uapi/phoneCalls/@me"


@pytest.fixture
def directory() -> Directory:
    directory = Directory.load(TEST_DIRECTORY)
    directory.simulator.answer_delay = 5
    directory.simulator.busy = frozenset({"5550001"})
    directory.simulator.no_answer = frozenset({"5550002"})
    return directory


def ended_on_switch(app, call_id: str) -> list[str]:
    return [party for cid, party, command in app.services.switch.commands if cid == call_id and command == "end"]


async def create(api, destination: str, query: str = "") -> dict:
    response = await api.request("POST", f"{ME}/simple{query}",
                                 json={"extension": "210", "phoneCallView": [{"destination": destination}]})
    assert response.status_code == 200, response.text
    return response.json()[0]


async def test_a_busy_destination_says_busy_in_every_view_and_is_released(api, app):
    call = await create(api, "5550001")
    assert (call["endedBy"], call["cause"]) == ("callee", "busy")
    assert [view["disposition"] for view in call["phoneCallView"]] == [1]
    assert sorted(ended_on_switch(app, call["id"])) == ["0003*210", "5550001"]


async def test_no_answer_says_no_answer_and_the_sweeper_releases_every_leg(api, app, clock):
    call = await create(api, "5550002", "?waitForPickup=10")
    assert ended_on_switch(app, call["id"]) == []
    clock.advance(10)
    await app.services.calls.sweep()
    ended = (await api.request("GET", f"{ME}/210/{call['id']}")).json()["entry"][0]
    assert (ended["cause"], [v["disposition"] for v in ended["phoneCallView"]]) == ("no_answer", [3])
    assert sorted(ended_on_switch(app, call["id"])) == ["0003*210", "5550002"]


async def test_call_duration_releases_both_legs_once(api, app, clock):
    call = await create(api, "8887777", "?callDuration=60")
    clock.advance(65)
    await app.services.calls.sweep()
    await app.services.calls.sweep()
    assert sorted(ended_on_switch(app, call["id"])) == ["0003*210", "8887777"]


async def test_the_answer_connects_the_two_parties_on_the_switch(api, app, clock):
    call = await create(api, "8887777")
    clock.advance(5)
    await app.services.calls.sweep()
    connects = [party for cid, party, command in app.services.switch.commands if cid == call["id"] and command == "connect"]
    assert connects == ["0003*210+8887777"]


async def test_what_the_switch_cannot_carry_is_refused(api, app, clock):
    call = await create(api, "8887777")
    clock.advance(5)
    app.services.switch.capabilities = frozenset({HOLD, OFF_HOOK_SOURCE})
    response = await api.request("PUT", f"{ME}/@self/{call['id']}",
                                 json={"action": "StartRecording", "phoneCallViewId": "00"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "pc_action_unsupported"
    held = await api.request("PUT", f"{ME}/@self/{call['id']}", json={"action": "OnHold", "phoneCallViewId": "00"})
    assert held.status_code == 200
    directions = [(p, c) for cid, p, c in app.services.switch.commands if cid == call["id"] and c == "inactive"]
    assert sorted(directions) == [("0003*210", "inactive"), ("8887777", "inactive")]
    assert MEDIA not in app.services.switch.capabilities


async def test_a_conference_invite_needs_a_bridge(api, app):
    app.services.switch.capabilities = frozenset({HOLD})
    response = await api.request("POST", f"{ME}/simple", json={"extension": "210", "phoneCallView": [
        {"destination": ["8887777", "8887778"]}]})
    assert response.status_code == 400 and response.json()["error"]["code"] == "pc_bridge_unavailable"


@pytest.mark.parametrize("body", [{"waitForPickup": "20", "sendCallTo": "211"},
                                  {"waitForPickup": "20", "sendCallTo": "211", "private": "1"}])
async def test_integers_sent_as_numeric_strings_are_taken(api, clock, body):
    call = await create(api, "8887777")
    clock.advance(5)
    response = await api.request("PUT", f"{ME}/@self/{call['id']}",
                                 json={"action": "Whisper", "phoneCallViewId": "00", **body})
    assert response.status_code == 200, response.text
    assert "0003*211" in {view["extension"] for view in response.json()["phoneCallView"]}


@pytest.mark.parametrize("field, value", [("waitForPickup", "0"), ("waitForPickup", "601"), ("waitForPickup", "2x"),
                                          ("private", "2"), ("maxInParking", "3601")])
async def test_numeric_strings_out_of_range_answer_the_fields_code(api, clock, field, value):
    call = await create(api, "8887777")
    clock.advance(5)
    action = "Park" if field == "maxInParking" else "Whisper"
    response = await api.request("PUT", f"{ME}/@self/{call['id']}",
                                 json={"action": action, "phoneCallViewId": "00", "sendCallTo": "211", field: value})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == f"pc_{field.lower()}_invalid"
