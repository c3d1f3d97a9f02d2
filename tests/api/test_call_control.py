"""Call control (issue: full call control): the other creates, every update action, the
lifecycle the simulated switch drives, and the list filters. Time moves only by the
injected clock."""
from __future__ import annotations

import pytest

from tests.conftest import TEST_DIRECTORY
from uapi.accounts import Directory
from uapi.app import create_app

ME = "/uapi/phoneCalls/@me"


@pytest.fixture
def directory() -> Directory:
    """The test directory with a switch whose parties answer after 5 s, and two special numbers."""
    directory = Directory.load(TEST_DIRECTORY)
    directory.simulator.answer_delay = 5
    directory.simulator.no_answer = frozenset({"5550002"})
    return directory


async def get(api, call_id, as_="john", ext="@self"):
    response = await api.request("GET", f"/uapi/phoneCalls/@me/{ext}/{call_id}", as_=as_)
    assert response.status_code == 200, response.text
    return response.json()["entry"][0]


async def act(api, call_id, status=200, as_="john", **body):
    response = await api.request("PUT", f"{ME}/@self/{call_id}", as_=as_, json=body)
    assert response.status_code == status, response.text
    return response.json()


def views(call):
    return {view["extension"]: view for view in call["phoneCallView"]}


async def answered_call(api, clock, destination="220", **kwargs):
    call = await api.create(destination, **kwargs)
    clock.advance(5)
    return await get(api, call["id"])


# -- lifecycle ---------------------------------------------------------------------------


async def test_parties_ring_until_answered_after_the_answer_delay(api, clock):
    call = await api.create("220")
    caller, callee = views(call)["0003*210"], views(call)["0003*220"]
    assert caller["status"] == 4 and callee["status"] == 3 and "ringing" in callee
    assert "answered" not in call
    clock.advance(5)
    after = await get(api, call["id"])
    assert after["answered"] == "2026-11-27T05:27:05Z"
    assert {v["status"] for v in after["phoneCallView"]} == {5} and "ringing" not in views(after)["0003*220"]


async def test_a_number_that_never_answers_ends_the_call_after_wait_for_pickup(api, clock):
    response = await api.request("POST", f"{ME}/simple?waitForPickup=10",
                                 json={"extension": "210", "phoneCallView": [{"destination": "5550002"}]})
    call = response.json()[0]
    clock.advance(9)
    assert (await api.request("GET", f"{ME}/210")).status_code == 200
    clock.advance(1)
    assert (await api.request("GET", f"{ME}/210")).status_code == 204  # ended, before any sweep
    ended = await get(api, call["id"])
    assert ended["endedBy"] == "system" and ended["cause"] == "no_answer"
    assert ended["ended"] == "2026-11-27T05:27:10Z"


async def test_call_duration_ends_an_answered_call(api, clock):
    response = await api.request("POST", f"{ME}/simple?callDuration=60",
                                 json={"extension": "210", "phoneCallView": [{"destination": "8887777"}]})
    call = response.json()[0]
    clock.advance(5 + 60)
    ended = await get(api, call["id"])
    assert (ended["endedBy"], ended["cause"], ended["ended"]) == ("system", "duration_limit", "2026-11-27T05:28:05Z")
    assert all(v["disposition"] == 0 for v in ended["phoneCallView"])


async def test_hanging_up_a_ringing_call_cancels_it(api, clock):
    call = await api.create("220")
    response = await api.request("DELETE", f"{ME}/210/{call['id']}")
    cancelled = response.json()[0]
    assert cancelled["cause"] == "cancelled" and cancelled["endedBy"] == "api"
    assert views(cancelled)["0003*220"]["disposition"] == 3


async def test_the_sweeper_writes_ends_that_readers_already_see(api, app, clock):
    call = await api.create("5550002")
    clock.advance(25)
    assert await app.services.calls.sweep() == 1
    stored = await app.services.store.load_call(call["id"])
    assert stored.ended is not None and stored.doc["call"]["cause"] == "no_answer"
    assert await app.services.calls.sweep() == 0


async def test_deadlines_hold_across_server_instances_sharing_a_database(api, app, settings, directory, clock):
    call = await api.create("5550002")
    other = create_app(settings, directory)  # a second server process on the same database
    await other.services.store.start()
    try:
        clock.advance(25)
        assert await other.services.calls.sweep() == 1
        assert (await app.services.store.load_call(call["id"])).doc["call"]["cause"] == "no_answer"
    finally:
        await other.services.store.close()


# -- creates -----------------------------------------------------------------------------


async def test_callback_call_rings_its_source_first_and_needs_a_callback_extension(api, clock):
    response = await api.request("POST", f"{ME}/callback", json={
        "extension": "212", "phoneCallView": [{"source": "+4031234567", "destination": ["220"]}]})
    assert response.status_code == 200
    call = response.json()[0]
    assert call["extension"] == "0003*212" and views(call)["0003*220"]["status"] == 3
    wrong = await api.request("POST", f"{ME}/callback", json={
        "extension": "210", "phoneCallView": [{"source": "+4031234567", "destination": "220"}]})
    assert wrong.json()["error"]["code"] == "extension_invalid"
    no_source = await api.request("POST", f"{ME}/callback", json={
        "extension": "212", "phoneCallView": [{"destination": "220"}]})
    assert no_source.json()["error"]["code"] == "pc_source_invalid"


async def test_conference_invite_puts_the_conference_on_the_call(api, clock):
    response = await api.request("POST", f"{ME}/conferenceInvite?number=213&pin=1234", json={
        "extension": "213", "phoneCallView": [{"destination": ["220", "8887777"]}]})
    assert response.status_code == 200, response.text
    call = response.json()[0]
    assert views(call)["0003*213"]["status"] == 4 and views(call)["0003*220"]["status"] == 3
    bad_pin = await api.request("POST", f"{ME}/conferenceInvite?pin=12a4", json={
        "extension": "213", "phoneCallView": [{"destination": "220"}]})
    assert bad_pin.json()["error"]["code"] == "pc_pin_invalid"
    simple_from_conference = await api.request("POST", f"{ME}/simple", json={
        "extension": "213", "phoneCallView": [{"destination": "220"}]})
    assert simple_from_conference.json()["error"]["code"] == "extension_invalid"


@pytest.mark.parametrize("query, code", [
    ("waitForPickup=0", "pc_waitforpickup_invalid"), ("waitForPickup=abc", "pc_waitforpickup_invalid"),
    ("callDuration=0", "pc_callduration_invalid"), ("allowPublicTransfer=perhaps", "pc_allowpublictransfer_invalid"),
    ("video=2", "pc_video_invalid"),
])
async def test_create_options_are_validated(api, query, code):
    response = await api.request("POST", f"{ME}/simple?{query}",
                                 json={"extension": "210", "phoneCallView": [{"destination": "1"}]})
    assert response.status_code == 400 and response.json()["error"]["code"] == code


# -- update actions ----------------------------------------------------------------------


async def test_on_hold_and_off_hold(api, clock):
    call = await answered_call(api, clock)
    held = await act(api, call["id"], action="OnHold", phoneCallViewId="01")
    assert views(held)["0003*220"]["holder"] == 1 and views(held)["0003*210"]["holder"] == 0
    assert all(v["onHold"] == "2026-11-27T05:27:05Z" for v in held["phoneCallView"])
    again = await act(api, call["id"], 400, action="OnHold", phoneCallViewId="00")
    assert again["error"]["code"] == "pc_call_on_hold"
    released = await act(api, call["id"], action="OffHold", phoneCallViewId="00")
    assert not any("onHold" in v or "holder" in v for v in released["phoneCallView"])
    assert (await act(api, call["id"], 400, action="OffHold", phoneCallViewId="00"))["error"]["code"] == "pc_call_not_on_hold"


async def test_actions_on_an_unanswered_call_are_refused(api, clock):
    call = await api.create("220")
    body = await act(api, call["id"], 400, action="OnHold", phoneCallViewId="00")
    assert body["error"]["code"] == "pc_call_not_answered"


async def test_recording(api, clock):
    call = await answered_call(api, clock)
    clock.advance(1)
    recording = await act(api, call["id"], action="StartRecording", phoneCallViewId="00", format="wav49")
    assert views(recording)["0003*210"]["recording"] == "2026-11-27T05:27:06Z"
    assert (await act(api, call["id"], 400, action="StartRecording", phoneCallViewId="00"))["error"]["code"] == "pc_call_recording"
    stopped = await act(api, call["id"], action="StopRecording", phoneCallViewId="00")
    assert "recording" not in views(stopped)["0003*210"]
    assert (await act(api, call["id"], 400, action="StopRecording", phoneCallViewId="00"))["error"]["code"] == "pc_call_not_recording"
    bad = await act(api, call["id"], 400, action="StartRecording", phoneCallViewId="00", format="mp3")
    assert bad["error"]["code"] == "pc_format_invalid"


async def test_park_returns_to_the_parker_after_max_in_parking(api, clock):
    call = await answered_call(api, clock)
    parked = await act(api, call["id"], action="Park", phoneCallViewId="00", maxInParking=30)
    assert all(v["parkedBy"] == "0003*210" and "parked" in v and v["parkedPos"] >= 1 for v in parked["phoneCallView"])
    assert (await act(api, call["id"], 400, action="Park", phoneCallViewId="00", maxInParking=5))["error"]["code"] == "pc_call_parked"
    clock.advance(30)
    back = await get(api, call["id"])
    assert not any("parked" in v for v in back["phoneCallView"]) and "ended" not in back


async def test_unpark_connects_the_target_in_place_of_the_parker(api, clock):
    call = await answered_call(api, clock, destination="8887777")
    await act(api, call["id"], action="Park", phoneCallViewId="00", maxInParking=60)
    unparked = await act(api, call["id"], action="UnPark", phoneCallViewId="00", sendCallTo="211")
    assert views(unparked)["0003*211"]["status"] == 5 and views(unparked)["0003*210"]["disposition"] == 0
    assert "ended" not in unparked and not any("parked" in v for v in unparked["phoneCallView"])
    assert (await act(api, call["id"], 400, action="UnPark", phoneCallViewId="01", sendCallTo="220"))["error"]["code"] == "pc_call_not_parked"


async def test_pick_up_answers_in_place_of_the_ringing_party(api, clock):
    call = await api.create("220")
    picked = await act(api, call["id"], action="PickUp", phoneCallViewId="01", sendCallTo="211")
    assert views(picked)["0003*211"]["status"] == 5 and views(picked)["0003*220"]["disposition"] == 3
    assert "answered" in picked
    clock.advance(5)
    refused = await act(api, call["id"], 400, action="PickUp", phoneCallViewId="02", sendCallTo="220")
    assert refused["error"]["code"] == "pc_view_not_ringing"


@pytest.mark.parametrize("name, extra", [("BargeIn", {}), ("Whisper", {"private": 1}), ("Monitor", {})])
async def test_listeners_join_as_a_new_view(api, clock, name, extra):
    call = await answered_call(api, clock, destination="8887777")
    joined = await act(api, call["id"], action=name, phoneCallViewId="00", sendCallTo="220", **extra)
    assert views(joined)["0003*220"]["id"] == "01" and views(joined)["0003*220"]["status"] == 3
    clock.advance(5)
    assert views(await get(api, call["id"]))["0003*220"]["status"] == 5
    listed = await api.request("GET", "/uapi/phoneCalls/@me/220", as_="jane")
    assert listed.json()["entry"][0]["id"] == call["id"]
    twice = await act(api, call["id"], 400, action=name, phoneCallViewId="00", sendCallTo="220", **extra)
    assert twice["error"]["code"] == "pc_sendcallto_invalid"


@pytest.mark.parametrize("target", ["0004*210", "212", "999"])
async def test_targets_must_be_phone_terminals_of_the_calls_organization(api, clock, target):
    call = await answered_call(api, clock, destination="8887777")
    body = await act(api, call["id"], 400, action="BargeIn", phoneCallViewId="00", sendCallTo=target)
    assert body["error"]["code"] == "pc_sendcallto_invalid"


async def test_transfer_replaces_the_transferring_party(api, clock):
    call = await answered_call(api, clock, destination="8887777")
    moved = await act(api, call["id"], action="Transfer", sendCallTo="220",
                      transferNumber="8887777", transferFromNumber="210")
    assert views(moved)["0003*210"]["disposition"] == 0 and "0003*220" in views(moved)
    assert "ended" not in moved


async def test_transfer_to_a_public_number_needs_allow_public_transfer(api, clock):
    call = await answered_call(api, clock, destination="220")
    refused = await act(api, call["id"], 400, action="Transfer", sendCallTo="+4031234567",
                        transferNumber="220", transferFromNumber="210")
    assert refused["error"]["code"] == "pc_sendcallto_invalid"
    response = await api.request("POST", f"{ME}/simple?allowPublicTransfer=true",
                                 json={"extension": "210", "phoneCallView": [{"destination": "220"}]})
    allowed = response.json()[0]
    clock.advance(5)
    moved = await act(api, allowed["id"], action="Transfer", sendCallTo="+4031234567",
                      transferNumber="220", transferFromNumber="210")
    assert "+4031234567" in views(moved)["0003*220"]["destination"]


async def test_transfer_to_voicemail_of_a_two_party_call_completes_it(api, clock):
    call = await answered_call(api, clock, destination="8887777")
    done = await act(api, call["id"], action="TransferToVoicemail", sendCallTo="220", transferNumber="8887777")
    assert done["endedBy"] == "system" and done["cause"] == "completed"
    ended = await act(api, call["id"], 400, action="OnHold", phoneCallViewId="00")
    assert ended["error"]["code"] == "pc_call_ended"


@pytest.mark.parametrize("body, code", [
    ({"action": "Dance"}, "pc_action_invalid"),
    ({}, "pc_action_invalid"),
    ({"action": "OnHold", "phoneCallViewId": "07"}, "pc_phonecallviewid_invalid"),
    ({"action": "OnHold"}, "pc_phonecallviewid_invalid"),
    ({"action": "Park", "phoneCallViewId": "00"}, "pc_maxinparking_invalid"),
    ({"action": "Park", "phoneCallViewId": "00", "maxInParking": 0}, "pc_maxinparking_invalid"),
    ({"action": "Whisper", "phoneCallViewId": "00", "sendCallTo": "220", "private": 3}, "pc_private_invalid"),
    ({"action": "Transfer", "sendCallTo": "220", "transferNumber": "1112222", "transferFromNumber": "210"},
     "pc_transfernumber_invalid"),
    ({"action": "Transfer", "sendCallTo": "220", "transferNumber": "8887777", "transferFromNumber": "8887777"},
     "pc_transferfromnumber_invalid"),
    ({"action": "BargeIn", "phoneCallViewId": "00"}, "pc_sendcallto_invalid"),
])
async def test_bad_actions_name_their_field(api, clock, body, code):
    call = await answered_call(api, clock, destination="8887777")
    assert (await act(api, call["id"], 400, **body))["error"]["code"] == code


async def test_update_answers_pc_phonecall_invalid_for_calls_out_of_scope(api, clock):
    jane = await api.create("8887777", as_="jane", extension="220")
    response = await api.request("PUT", f"{ME}/@self/{jane['id']}", json={"action": "OnHold", "phoneCallViewId": "00"})
    assert response.json()["error"]["code"] == "pc_phonecall_invalid"


# -- list filters ------------------------------------------------------------------------


async def list_ids(api, query):
    response = await api.request("GET", f"{ME}/210?{query}")
    return [] if response.status_code == 204 else [c["id"] for c in response.json()["entry"]]


async def test_filters_on_id_and_published_and_sort_order(api, clock):
    ids = []
    for n in range(4):
        ids.append((await api.create(f"88877{n:02d}"))["id"])
        clock.advance(60)
    assert await list_ids(api, f"filterBy=id&filterValue={ids[1]}") == [ids[1]]
    assert await list_ids(api, f"filterBy=id&filterOp=inArray&filterValue={ids[0]},{ids[3]}") == [ids[0], ids[3]]
    assert await list_ids(api, "filterBy=id&filterOp=startsWith&filterValue=000000000000") == ids
    assert await list_ids(api, "filterBy=id&filterOp=startsWith&filterValue=0000000000000000003") == []
    assert await list_ids(api, "filterBy=id&filterOp=contains&filterValue=0000000003") == [ids[2]]
    assert await list_ids(api, f"filterBy=id&filterOp=greaterThan&filterValue={ids[1]}") == ids[2:]
    assert await list_ids(api, f"filterBy=id&filterOp=lessThan&filterValue={ids[1]}") == ids[:1]
    assert await list_ids(api, "filterBy=published&filterOp=present") == ids
    assert await list_ids(api, "filterBy=published&filterValue=2026-11-27T05:28:00Z") == [ids[1]]
    assert await list_ids(api, "filterBy=published&filterOp=greaterThan&filterValue=2026-11-27T05:28:00Z") == ids[2:]
    assert await list_ids(api, "filterBy=published&filterOp=lessThan&filterValue=2026-11-27T05:28:00Z") == ids[:1]
    assert await list_ids(api, "sortOrder=descending") == ids[::-1]
    assert await list_ids(api, "filterBy=id&filterValue=nomatch") == []
    page = (await api.request("GET", f"{ME}/210?filterBy=published&filterOp=greaterThan"
                                     "&filterValue=2026-11-27T05:27:00Z&count=1")).json()
    assert page["totalResults"] == 3 and page["itemsPerPage"] == 1


@pytest.mark.parametrize("query, code", [
    ("filterBy=nope&filterValue=1", "filterby_invalid"),
    ("filterOp=equals&filterValue=1", "filterby_invalid"),
    ("filterBy=id&filterOp=like&filterValue=1", "filterop_invalid"),
    ("filterBy=published&filterOp=contains&filterValue=2026", "filterop_invalid"),
    ("filterBy=id", "filtervalue_invalid"),
    ("filterBy=id&filterValue=a%25b", "filtervalue_invalid"),
    ("filterBy=published&filterValue=yesterday", "filtervalue_invalid"),
    ("sortOrder=sideways", "sortorder_invalid"),
])
async def test_bad_filters_have_their_codes(api, query, code):
    await api.create()
    response = await api.request("GET", f"{ME}/210?{query}")
    assert response.status_code == 400 and response.json()["error"]["code"] == code
