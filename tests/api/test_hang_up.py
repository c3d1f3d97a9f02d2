"""The seed page (Delete PhoneCalls) and §2 "Hang-up", one test per behaviour."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import OperationalError

from uapi.store.port import CallState

ME = "/uapi/phoneCalls/@me"


async def test_seed_example_request_hangs_up_the_call_and_returns_its_id(api):
    call = await api.create(destination="8887777")
    response = await api.request("DELETE", f"{ME}/0003*210/{call['id']}?phoneNumber=8887777",
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    (hung_up,) = response.json()
    assert hung_up["id"] == call["id"]
    assert hung_up["endedBy"] == "api" and hung_up["cause"] == "hangup" and "ended" in hung_up


async def test_without_phone_call_id_every_live_call_of_the_extension_is_hung_up(api):
    first, second = await api.create("8887777"), await api.create("8887778")
    other = await api.create("8887779", extension="211")
    response = await api.request("DELETE", f"{ME}/210")
    assert response.status_code == 200
    assert {c["id"] for c in response.json()} == {first["id"], second["id"]}
    assert (await api.request("GET", f"{ME}/211")).json()["entry"][0]["id"] == other["id"]
    assert (await api.request("GET", f"{ME}/210")).status_code == 204


async def test_bulk_hang_up_is_not_capped_by_a_page_size(api):
    created = [await api.create(f"55520{i:02d}") for i in range(25)]
    response = await api.request("DELETE", f"{ME}/210?count=5")
    assert response.status_code == 200
    assert len(response.json()) == len(created)


async def test_self_hangs_up_the_calls_of_every_extension_of_the_user(api):
    a, b = await api.create("8887777", extension="210"), await api.create("8887778", extension="211")
    jane = await api.create("8887779", as_="jane", extension="220")
    response = await api.request("DELETE", f"{ME}/@self")
    assert {c["id"] for c in response.json()} == {a["id"], b["id"]}
    assert (await api.request("GET", "/uapi/phoneCalls/@me/220", as_="jane")).json()["entry"][0]["id"] == jane["id"]


async def test_self_with_phone_call_id_finds_the_call_when_the_extension_is_unknown(api):
    call = await api.create("8887777", extension="211")
    response = await api.request("DELETE", f"{ME}/@self/{call['id']}")
    assert response.status_code == 200 and response.json()[0]["id"] == call["id"]


async def test_with_phone_call_id_only_that_call_is_hung_up(api):
    keep, drop = await api.create("8887777"), await api.create("8887778")
    response = await api.request("DELETE", f"{ME}/210/{drop['id']}")
    assert [c["id"] for c in response.json()] == [drop["id"]]
    listed = (await api.request("GET", f"{ME}/210")).json()["entry"]
    assert [c["id"] for c in listed] == [keep["id"]]


async def test_phone_number_not_on_the_call_hangs_up_nothing_and_answers_204(api):
    call = await api.create("8887777")
    response = await api.request("DELETE", f"{ME}/210/{call['id']}?phoneNumber=1112222")
    assert response.status_code == 204 and response.content == b""
    assert (await api.request("GET", f"{ME}/210")).json()["totalResults"] == 1


async def test_phone_number_closes_only_that_leg_and_a_call_with_two_parties_left_stays_live(api):
    call = await api.create(["8887777", "8887778"])
    response = await api.request("DELETE", f"{ME}/210/{call['id']}?phoneNumber=8887777")
    assert response.status_code == 200
    (after,) = response.json()
    assert after["id"] == call["id"] and "ended" not in after and "cause" not in after
    assert (await api.request("GET", f"{ME}/210")).json()["entry"][0]["id"] == call["id"]
    # The last other party leaving ends it.
    response = await api.request("DELETE", f"{ME}/210/{call['id']}?phoneNumber=8887778")
    assert response.json()[0]["cause"] == "hangup"


async def test_phone_number_leg_of_an_extension_party_sets_its_disposition(api):
    call = await api.create(["220", "8887777"])
    response = await api.request("DELETE", f"{ME}/210/{call['id']}?phoneNumber=220")
    (after,) = response.json()
    assert "ended" not in after
    views = {v["extension"]: v for v in after["phoneCallView"]}
    assert views["0003*220"]["disposition"] == 0 and "disposition" not in views["0003*210"]


@pytest.mark.parametrize("number", ["+8887777", "%2B8887777", "%208887777"])
async def test_numbers_compare_as_digits_and_a_leading_space_is_a_plus(api, number):
    call = await api.create("+8887777")
    response = await api.request("DELETE", f"{ME}/210/{call['id']}?phoneNumber={number}")
    assert response.status_code == 200


async def test_phone_number_without_call_id_closes_that_leg_on_every_call_of_the_extension(api):
    a, b = await api.create("8887777"), await api.create("8887778")
    response = await api.request("DELETE", f"{ME}/210?phoneNumber=8887777")
    assert [c["id"] for c in response.json()] == [a["id"]]
    assert [c["id"] for c in (await api.request("GET", f"{ME}/210")).json()["entry"]] == [b["id"]]


async def test_hanging_up_an_ended_call_again_answers_204(api):
    call = await api.create()
    assert (await api.request("DELETE", f"{ME}/210/{call['id']}")).status_code == 200
    again = await api.request("DELETE", f"{ME}/210/{call['id']}")
    assert again.status_code == 204 and again.content == b"" and "content-type" not in again.headers
    assert (await api.request("DELETE", f"{ME}/210")).status_code == 204


async def test_nothing_to_hang_up_answers_204(api):
    assert (await api.request("DELETE", f"{ME}/210")).status_code == 204
    assert (await api.request("DELETE", f"{ME}/@self?phoneNumber=8887777")).status_code == 204


async def test_concurrent_hang_ups_of_one_call_have_exactly_one_winner(api):
    call = await api.create()
    await api.token("john")
    responses = await asyncio.gather(*(api.request("DELETE", f"{ME}/210/{call['id']}") for _ in range(20)))
    assert sorted(r.status_code for r in responses) == [200] + [204] * 19


async def test_concurrent_bulk_and_single_hang_ups_never_report_a_call_twice(api):
    calls = [await api.create(f"55521{i:02d}") for i in range(10)]
    await api.token("john")
    requests = [api.request("DELETE", f"{ME}/210") for _ in range(3)]
    requests += [api.request("DELETE", f"{ME}/210/{c['id']}") for c in calls]
    responses = await asyncio.gather(*requests)
    reported = [c["id"] for r in responses if r.status_code == 200 for c in r.json()]
    assert sorted(reported) == sorted(c["id"] for c in calls)


async def test_bulk_hang_up_in_batches_racing_single_hang_ups_and_leg_hang_ups_ends_each_call_once(
        api, monkeypatch):
    monkeypatch.setattr("uapi.calls.BULK_BATCH", 4)   # several batch writes, each raced
    calls = [await api.create([f"55522{i:02d}", f"55523{i:02d}"]) for i in range(14)]
    await api.token("john")
    whole = calls[::3]                              # hung up alone while the bulk runs
    legs = [c for c in calls if c not in whole]     # lose one leg meanwhile: a new version, still live
    requests = [api.request("DELETE", f"{ME}/210")]
    requests += [api.request("DELETE", f"{ME}/210/{c['id']}") for c in whole]
    requests += [api.request("DELETE", f"{ME}/210/{c['id']}?phoneNumber=55522{calls.index(c):02d}") for c in legs]
    bulk, *others = await asyncio.gather(*requests)
    answers = [bulk, *others[:len(whole)]]
    ended = [c["id"] for r in answers if r.status_code == 200 for c in r.json()]
    assert sorted(ended) == sorted(c["id"] for c in calls)   # every call ended, by exactly one request
    assert all("ended" in c for r in answers if r.status_code == 200 for c in r.json())
    assert {c["id"] for c in bulk.json()} >= {c["id"] for c in legs}   # a leg hang-up never ends a call
    for response in others[len(whole):]:
        assert response.status_code == 204 or "ended" not in response.json()[0]
    assert (await api.request("GET", f"{ME}/210")).status_code == 204


async def test_a_bulk_hang_up_retries_the_calls_changed_under_its_batch_write_and_skips_those_ended(
        api, app):
    kept, changed, ended, plain = [await api.create(f"55524{i:02d}") for i in range(4)]
    store = app.services.store
    batch_write = store.replace_calls

    async def racing(changes):
        # Another server process writes two of the calls after the bulk read them: one stays
        # live in a new version, the other ends.
        by_id = {stored.id: (stored, doc, state) for stored, doc, state in changes}
        stored, _doc, _state = by_id[changed["id"]]
        assert await store.replace_call(stored, stored.doc, CallState(None, None, None))
        assert await store.replace_call(*by_id[ended["id"]])
        return await batch_write(changes)

    store.replace_calls = racing
    response = await api.request("DELETE", f"{ME}/210")
    assert sorted(c["id"] for c in response.json()) == sorted(c["id"] for c in (kept, changed, plain))
    written = {c["id"]: await store.load_call(c["id"]) for c in (kept, changed, ended, plain)}
    assert not any(call.live for call in written.values())
    # The changed call was written twice (the racer, then the retry); the ended one only by the racer.
    assert {call_id: call.version for call_id, call in written.items()} == {
        kept["id"]: 2, changed["id"]: 3, ended["id"]: 2, plain["id"]: 2}


async def test_a_bulk_batch_that_fails_fails_the_request_the_batch_under_way_beside_it_ends_and_no_other_starts(
        api, app, monkeypatch):
    monkeypatch.setattr("uapi.calls.BULK_BATCH", 2)   # three batches, two of them under way at once
    calls = [await api.create(f"55525{i:02d}") for i in range(6)]
    store, switch = app.services.store, app.services.switch
    batch_write = store.replace_calls
    written: list[set[str]] = []

    async def first_fails(changes):
        written.append({stored.id for stored, _doc, _state in changes})
        if len(written) == 1:
            raise OperationalError("UPDATE calls", {}, Exception("disk I/O error"))
        return await batch_write(changes)

    store.replace_calls = first_fails
    response = await api.request("DELETE", f"{ME}/210")
    assert response.status_code == 503 and response.json()["error"]["code"] == "service_unavailable"
    failed, beside = written   # the batch beside the failed one, already under way, ran to its end
    ended = {c["id"] for c in calls if not (await store.load_call(c["id"])).live}
    assert len(written) == 2 and ended == beside and len(beside) == 2 and not failed & beside
    released = {call_id for call_id, _party, command in switch.commands if command == "end"}
    assert released == beside


async def test_a_bulk_hang_up_has_at_most_two_batches_under_way_and_leaves_calls_placed_meanwhile(
        api, app, clock, monkeypatch):
    monkeypatch.setattr("uapi.calls.BULK_BATCH", 2)
    calls = [await api.create(f"55526{i:02d}") for i in range(9)]
    store = app.services.store
    batch_write = store.replace_calls
    under_way, most, placed = 0, 0, []

    async def counting(changes):
        nonlocal under_way, most
        under_way += 1
        most = max(most, under_way)
        if len(placed) < 2:   # a call placed while the hang-up runs, a moment after it began
            clock.advance(0.001)
            placed.append(await api.create(f"55527{len(placed):02d}"))
        await asyncio.sleep(0.01)
        try:
            return await batch_write(changes)
        finally:
            under_way -= 1

    store.replace_calls = counting
    response = await api.request("DELETE", f"{ME}/210")
    assert sorted(c["id"] for c in response.json()) == sorted(c["id"] for c in calls)
    assert most == 2
    assert len(placed) == 2 and [(await store.load_call(c["id"])).live for c in placed] == [True, True]


async def test_a_bulk_hang_up_cancelled_finishes_the_batches_under_way_and_starts_no_other(
        api, app, monkeypatch):
    monkeypatch.setattr("uapi.calls.BULK_BATCH", 2)
    calls = [await api.create(f"55528{i:02d}") for i in range(6)]
    services = app.services
    batch_write = services.store.replace_calls
    writing, started = asyncio.Event(), set()

    async def slow(changes):
        started.update(stored.id for stored, _doc, _state in changes)
        writing.set()
        await asyncio.sleep(0.05)
        return await batch_write(changes)

    services.store.replace_calls = slow
    extension = services.directory.extensions["0003*210"]
    bulk = asyncio.create_task(services.calls.hang_up([extension], None, None))
    await writing.wait()
    bulk.cancel()
    with pytest.raises(asyncio.CancelledError):
        await bulk
    await services.calls.close()   # waits for what is still under way, as the server does when it stops
    ended = {c["id"] for c in calls if not (await services.store.load_call(c["id"])).live}
    # The batches under way (one or two: the second may still have been reading) were written and
    # released; the last was never started.
    assert ended == started and len(ended) in (2, 4)
    released = {call_id for call_id, _party, command in services.switch.commands if command == "end"}
    assert released == ended
    assert len(services.calls.turns) == 0


async def test_ended_call_stays_readable_with_how_it_ended(api, clock):
    call = await api.create()
    clock.advance(130)
    await api.request("DELETE", f"{ME}/210/{call['id']}")
    response = await api.request("GET", f"{ME}/210/{call['id']}")
    assert response.status_code == 200
    (ended,) = response.json()["entry"]
    assert ended["endedBy"] == "api" and ended["cause"] == "hangup"
    assert ended["ended"] == "2026-11-27T05:29:10Z" and ended["published"] == "2026-11-27T05:27:00Z"
    assert all(view["disposition"] == 0 for view in ended["phoneCallView"])


async def test_fields_selects_what_the_hang_up_answers(api):
    call = await api.create()
    response = await api.request("DELETE", f"{ME}/210/{call['id']}?fields=cause")
    assert response.json() == [{"id": call["id"], "cause": "hangup"}]


@pytest.mark.parametrize("call_id", ["not-alnum", "abc.def", "%C3%A9t%C3%A9"])
async def test_non_alphanumeric_phone_call_id_is_pc_phonecall_invalid(api, call_id):
    response = await api.request("DELETE", f"{ME}/210/{call_id}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "pc_phonecall_invalid"


async def test_a_call_that_never_existed_in_scope_is_pc_phonecall_invalid(api):
    assert (await api.request("DELETE", f"{ME}/210/0123456789abcdef0123")).json()["error"]["code"] == "pc_phonecall_invalid"
    other = await api.create("8887777", extension="211")
    response = await api.request("DELETE", f"{ME}/210/{other['id']}")
    assert response.status_code == 400 and response.json()["error"]["code"] == "pc_phonecall_invalid"
    jane = await api.create("8887777", as_="jane", extension="220")
    response = await api.request("DELETE", f"{ME}/@self/{jane['id']}")
    assert response.json()["error"]["code"] == "pc_phonecall_invalid"


@pytest.mark.parametrize("number", ["", "abc", "12a", "++1", "1-2", "%2B", "%20"])
async def test_empty_or_malformed_phone_number_is_pc_phonenumber_invalid(api, number):
    call = await api.create()
    for path in (f"{ME}/210/{call['id']}", f"{ME}/210"):
        response = await api.request("DELETE", f"{path}?phoneNumber={number}")
        assert response.status_code == 400, (path, number)
        assert response.json()["error"]["code"] == "pc_phonenumber_invalid"
    assert (await api.request("GET", f"{ME}/210")).json()["totalResults"] == 1


async def test_hang_up_through_another_party_extension(api):
    call = await api.create("220")
    response = await api.request("DELETE", f"/uapi/phoneCalls/@me/220/{call['id']}", as_="jane")
    assert response.status_code == 200
    assert (await api.request("GET", f"{ME}/210")).status_code == 204


async def test_organization_app_hangs_up_for_a_user_by_id(api):
    call = await api.create()
    response = await api.request("DELETE", f"/uapi/phoneCalls/12/0003*210/{call['id']}", as_="org3")
    assert response.status_code == 200
