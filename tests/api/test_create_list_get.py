"""createSimplePhoneCall, listPhoneCalls and getPhoneCall (§2, §3)."""
from __future__ import annotations

import pytest

ME = "/uapi/phoneCalls/@me"


async def test_create_answers_the_new_call_as_a_one_element_array(api):
    response = await api.request("POST", f"{ME}/simple", json={
        "extension": "210", "nonce": "n-1",
        "phoneCallView": [{"source": ["210"], "destination": ["3334444"], "callerId": "John Doe <4242425>"}]})
    assert response.status_code == 200
    (call,) = response.json()
    assert call["id"] == "00000000000000000001"
    assert call["extension"] == "0003*210" and call["ownerId"] == "3" and call["ownerName"] == "Default Organization"
    assert call["published"] == call["answered"] == "2026-11-27T05:27:00Z"
    assert call["nonce"] == "n-1"
    assert call["links"]["self"] == f"http://testserver/uapi/phoneCalls/12/0003*210/{call['id']}"
    (view,) = call["phoneCallView"]
    assert view == {"id": "00", "extension": "0003*210", "source": ["210"], "destination": ["3334444"],
                    "flow": 4, "status": 5, "answered": "2026-11-27T05:27:00Z", "callerId": "John Doe <0003*210>"}
    assert all(value is not None for value in call.values())


async def test_a_repeated_nonce_is_returned_but_does_not_deduplicate(api):
    first = await api.create(nonce="same")
    second = await api.create(nonce="same")
    assert first["id"] != second["id"] and first["nonce"] == second["nonce"] == "same"


async def test_a_call_between_two_extensions_has_a_view_for_each(api):
    call = await api.create("220", callerId="Front Desk <100>")
    views = {view["extension"]: view for view in call["phoneCallView"]}
    assert views["0003*210"]["id"] == "00" and views["0003*220"]["id"] == "01"
    assert views["0003*210"]["flow"] == views["0003*220"]["flow"] == 2
    assert views["0003*220"]["callerId"] == "Front Desk <100>"
    listed = await api.request("GET", "/uapi/phoneCalls/@me/220", as_="jane")
    assert listed.json()["entry"][0]["id"] == call["id"]


async def test_a_public_source_gives_the_called_extension_an_incoming_flow(api):
    call = await api.create("210", source="+4031234567")
    assert call["phoneCallView"][0]["flow"] == 8


async def test_busy_destination_ends_the_call_at_once(api):
    call = await api.create("5550001")
    assert call["cause"] == "busy" and call["endedBy"] == "callee" and "answered" not in call
    assert (await api.request("GET", f"{ME}/210")).status_code == 204


@pytest.mark.parametrize("body, code", [
    ({"extension": "210"}, "pc_phonecallview_invalid"),
    ({"extension": "210", "phoneCallView": []}, "pc_phonecallview_invalid"),
    ({"extension": "210", "phoneCallView": [{"destination": "1"}, {"destination": "2"}]}, "pc_phonecallview_invalid"),
    ({"phoneCallView": [{"destination": "1"}]}, "extension_invalid"),
    ({"extension": "@self", "phoneCallView": [{"destination": "1"}]}, "extension_invalid"),
    ({"extension": "212", "phoneCallView": [{"destination": "1"}]}, "extension_invalid"),   # a callback extension
    ({"extension": "220", "phoneCallView": [{"destination": "1"}]}, "extension_invalid"),   # Jane's
    ({"extension": "210", "phoneCallView": [{}]}, "pc_destination_invalid"),
    ({"extension": "210", "phoneCallView": [{"destination": "abc"}]}, "pc_destination_invalid"),
    ({"extension": "210", "phoneCallView": [{"destination": ["1", 2]}]}, "pc_destination_invalid"),
    ({"extension": "210", "phoneCallView": [{"destination": "0009*1"}]}, "pc_destination_invalid"),
    ({"extension": "210", "phoneCallView": [{"destination": "210"}]}, "pc_destination_invalid"),
    ({"extension": "210", "phoneCallView": [{"destination": ["1", "+1"]}]}, "pc_destination_invalid"),
    ({"extension": "210", "phoneCallView": [{"destination": "1", "source": ""}]}, "pc_source_invalid"),
    ({"extension": "210", "phoneCallView": [{"destination": "1", "source": "0004*210"}]}, "pc_source_invalid"),
    ({"extension": "210", "phoneCallView": [{"destination": "1", "callerId": "no brackets"}]}, "pc_callerid_invalid"),
    ({"extension": "210", "phoneCallView": [{"destination": "1", "callerDestination": "<x>"}]},
     "pc_callerdestination_invalid"),
    ({"extension": "210", "phoneCallView": [{"destination": "1"}], "nonce": 5}, "pc_nonce_invalid"),
    ({"extension": "210", "phoneCallView": [{"destination": "1"}], "nonce": "x" * 256}, "pc_nonce_invalid"),
])
async def test_bad_create_bodies_name_the_field(api, body, code):
    response = await api.request("POST", f"{ME}/simple", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code
    assert "schema" not in response.json()["error"]["message"].lower()


@pytest.mark.parametrize("content", [b"{", b"[1]", b'"x"', b"null", b"\xff\xfe", b""])
async def test_create_body_that_is_not_a_json_object_is_request_invalid(api, content):
    response = await api.request("POST", f"{ME}/simple", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "request_invalid"


async def test_list_pages_in_published_order_with_totals(api, clock):
    ids = []
    for n in range(5):
        ids.append((await api.create(f"88877{n:02d}"))["id"])
        clock.advance(1)
    page = (await api.request("GET", f"{ME}/210?count=2&startIndex=1")).json()
    assert page["startIndex"] == 1 and page["itemsPerPage"] == 2 and page["totalResults"] == 5
    assert [c["id"] for c in page["entry"]] == ids[1:3]
    past = await api.request("GET", f"{ME}/210?count=2&startIndex=9")
    assert past.status_code == 200 and past.json()["entry"] == [] and past.json()["totalResults"] == 5
    default = (await api.request("GET", f"{ME}/210")).json()
    assert default["startIndex"] == 0 and default["itemsPerPage"] == 5


async def test_numeric_strings_are_accepted_for_numbers(api):
    await api.create()
    response = await api.request("GET", f"{ME}/210", params={"count": "20", "startIndex": "0"})
    assert response.status_code == 200


async def test_list_shows_live_calls_only(api):
    ended, live = await api.create("8887777"), await api.create("8887778")
    await api.request("DELETE", f"{ME}/210/{ended['id']}")
    entry = (await api.request("GET", f"{ME}/210")).json()["entry"]
    assert [c["id"] for c in entry] == [live["id"]]


@pytest.mark.parametrize("query, code", [
    ("count=0", "count_invalid"), ("count=5001", "count_invalid"), ("count=x", "count_invalid"),
    ("startIndex=-1", "startindex_invalid"), ("startIndex=5001", "startindex_invalid"),
    ("fields=nope", "fields_invalid"), ("fields=id,,x", "fields_invalid"), ("fields=", "fields_invalid"),
])
async def test_bad_standard_parameters_have_their_codes(api, query, code):
    await api.create()
    for path in (f"{ME}/210", f"{ME}/210/00000000000000000001"):
        response = await api.request("GET", f"{path}?{query}")
        assert response.status_code == 400 and response.json()["error"]["code"] == code, (path, query)


async def test_fields_selects_what_lists_and_gets_answer(api):
    call = await api.create(nonce="n")
    listed = (await api.request("GET", f"{ME}/210?fields=nonce,published")).json()["entry"]
    assert listed == [{"id": call["id"], "nonce": "n", "published": call["published"]}]
    got = (await api.request("GET", f"{ME}/210/{call['id']}?fields=links")).json()["entry"]
    assert got == [{"id": call["id"], "links": call["links"]}]


async def test_get_answers_a_collection_of_one_from_any_party_or_self(api):
    call = await api.create("220")
    for path, as_ in ((f"{ME}/210/{call['id']}", "john"), (f"{ME}/@self/{call['id']}", "john"),
                      (f"/uapi/phoneCalls/@me/220/{call['id']}", "jane")):
        body = (await api.request("GET", path, as_=as_)).json()
        assert body["totalResults"] == 1 and body["itemsPerPage"] == 1 and body["entry"][0]["id"] == call["id"]
    assert (await api.request("GET", f"{ME}/211/{call['id']}")).json()["error"]["code"] == "pc_phonecall_invalid"


async def test_self_link_reads_the_call(api, client):
    call = await api.create()
    response = await api.request("GET", call["links"]["self"].removeprefix("http://testserver"))
    assert response.json()["entry"][0]["id"] == call["id"]
