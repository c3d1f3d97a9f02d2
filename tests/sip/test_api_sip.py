"""Black box: `uapi serve --switch sip` with Kamailio, SIPp phones and a SIPp trunk.

Each test registers its phones (digest auth) and drives calls through the HTTP API, then
checks what every phone received (SIPp exits 0 only when its script ran exactly), what
the API reports, and that Kamailio's `dlg.list` holds no dialog afterwards.
"""
from __future__ import annotations

import concurrent.futures
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sip.sipserver import HOST, PHONES, SipServer, methods, phone, trunk
from tests.support.kamailio import requires_kamailio, sip_agents, wait_until  # noqa: F401 (fixture)
from tests.support.sipp import requires_sipp

pytestmark = [pytest.mark.sip, pytest.mark.kamailio, requires_sipp, requires_kamailio]
ME = "/uapi/phoneCalls/@me"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipServer]:
    running = SipServer(tmp_path_factory.mktemp("sipserver"))
    running.start()
    try:
        yield running
    finally:
        running.stop()
        print(running.output()[-4000:])


@pytest.fixture(autouse=True)
def no_dialog_left_behind(server: SipServer) -> Iterator[None]:
    yield
    assert server.no_dialogs_left(10), f"dialogs left in Kamailio: {server.live_dialogs()}"


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for this container's PID 1 to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def views(call: dict) -> dict[str, dict]:
    return {view["extension"]: view for view in call.get("phoneCallView", [])}


def answered(call: dict) -> bool:
    return "answered" in call


def test_api_call_rings_the_source_first_then_the_number_and_hang_up_sends_bye_to_both(server, sip_agents):
    john = phone(sip_agents, server, "0003*210")
    number = trunk(sip_agents, server)
    call = server.create("8887777")
    up = server.until(call["id"], answered)
    assert views(up)["0003*210"]["status"] == 5
    confirmed = lambda: len([d for d in server.dialogs() if d.get("state") == 4]) == 2  # noqa: E731
    assert wait_until(confirmed, 5), server.dialogs()   # both legs confirmed in Kamailio
    response = server.request("DELETE", f"{ME}/210/{call['id']}")
    assert response.status_code == 200
    ended = response.json()[0]
    assert (ended["endedBy"], ended["cause"]) == ("api", "hangup")
    assert methods(john).count("BYE") == 1 and methods(number).count("BYE") == 1
    invite = john.received("INVITE")[0]
    assert "answer-after=0" in invite and "m=" not in invite.split("\n\n", 1)[1]   # auto-answer, flow IV offer
    assert server.request("DELETE", f"{ME}/210/{call['id']}").status_code == 204


def test_hanging_up_every_call_of_the_extension_sends_bye_to_both_legs(server, sip_agents):
    john = phone(sip_agents, server, "0003*210")
    number = trunk(sip_agents, server)
    call = server.create("8887777")
    server.until(call["id"], answered)
    confirmed = lambda: len([d for d in server.dialogs() if d.get("state") == 4]) == 2  # noqa: E731
    assert wait_until(confirmed, 5), server.dialogs()
    response = server.request("DELETE", f"{ME}/210")   # the batch path: its releases go through end_many
    assert response.status_code == 200 and call["id"] in [c["id"] for c in response.json()]
    assert methods(john).count("BYE") == 1 and methods(number).count("BYE") == 1


def test_hanging_up_a_ringing_number_sends_cancel(server, sip_agents):
    john = phone(sip_agents, server, "0003*210")
    number = trunk(sip_agents, server, "phone_ring.xml")
    call = server.create("8887778")
    assert wait_until(lambda: number.received("INVITE"), 10)
    response = server.request("DELETE", f"{ME}/210/{call['id']}")
    assert (response.status_code, response.json()[0]["cause"]) == (200, "cancelled")
    assert methods(number) == ["INVITE", "CANCEL", "ACK"]
    assert methods(john) == ["INVITE", "ACK", "BYE"]


def test_a_busy_number_ends_the_call_busy(server, sip_agents):
    john = phone(sip_agents, server, "0003*210")
    trunk(sip_agents, server, "phone_busy.xml")
    call = server.create("8887779")
    ended = server.until(call["id"], lambda c: "ended" in c)
    assert (ended["endedBy"], ended["cause"]) == ("callee", "busy")
    assert views(ended)["0003*210"]["disposition"] == 1
    assert methods(john) == ["INVITE", "ACK", "BYE"]


def test_wait_for_pickup_cancels_the_ringing_number(server, sip_agents):
    john = phone(sip_agents, server, "0003*210")
    number = trunk(sip_agents, server, "phone_ring.xml")
    call = server.create("8887780", query="?waitForPickup=2")
    ended = server.until(call["id"], lambda c: "ended" in c, timeout=10)
    assert (ended["endedBy"], ended["cause"]) == ("system", "no_answer")
    assert views(ended)["0003*210"]["disposition"] == 3
    assert methods(number) == ["INVITE", "CANCEL", "ACK"]
    assert methods(john) == ["INVITE", "ACK", "BYE"]
    rang_for = received_at(number, "CANCEL") - received_at(number, "INVITE")
    assert 1.9 <= rang_for <= 2.5, f"the CANCEL came {rang_for:.2f} s after the INVITE, not at waitForPickup"


def received_at(agent, method: str) -> float:
    """Epoch seconds at which the agent received the first `method` (its -trace_shortmsg log)."""
    for line in agent.short_log.read_text().splitlines():
        columns = line.split("\t")
        if len(columns) >= 7 and columns[3] == "R" and columns[6].startswith(method + " "):
            return float(columns[2])
    raise AssertionError(f"{agent.name} received no {method}")


def test_a_party_hanging_up_ends_the_call_and_a_later_delete_sends_nothing(server, sip_agents):
    john = phone(sip_agents, server, "0003*210")
    trunk(sip_agents, server, "phone_hangup.xml", d_ms=500)
    call = server.create("8887781")
    ended = server.until(call["id"], lambda c: "ended" in c)
    assert (ended["endedBy"], ended["cause"]) == ("party", "hangup")
    assert methods(john) == ["INVITE", "ACK", "INVITE", "ACK", "BYE"]   # flow IV re-INVITE, then our BYE
    assert server.request("DELETE", f"{ME}/210/{call['id']}").status_code == 204


def test_hold_and_resume_reinvite_both_legs(server, sip_agents):
    john = phone(sip_agents, server, "0003*210")
    number = trunk(sip_agents, server)
    call = server.create("8887782")
    server.until(call["id"], answered)
    for action in ("OnHold", "OffHold"):
        response = server.request("PUT", f"{ME}/@self/{call['id']}", json={"action": action, "phoneCallViewId": "00"})
        assert response.status_code == 200, response.text
    # the flow IV connect, then hold and resume: john 1 + 3 INVITEs, the number 1 + 2
    assert wait_until(lambda: len(number.received("INVITE")) >= 3 and len(john.received("INVITE")) >= 4, 10)
    assert server.request("DELETE", f"{ME}/210/{call['id']}").status_code == 200
    for agent in (john, number):
        methods(agent)
        invites = agent.received("INVITE")
        assert "a=inactive" in invites[-2] and "a=inactive" not in invites[-1], invites


def test_media_actions_are_unsupported_on_sip(server, sip_agents):
    john = phone(sip_agents, server, "0003*210")
    number = trunk(sip_agents, server)
    call = server.create("8887783")
    server.until(call["id"], answered)
    response = server.request("PUT", f"{ME}/@self/{call['id']}",
                              json={"action": "StartRecording", "phoneCallViewId": "00"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "pc_action_unsupported")
    server.request("DELETE", f"{ME}/210/{call['id']}")
    methods(john), methods(number)


def test_a_conference_invite_needs_a_bridge(server):
    response = server.request("POST", f"{ME}/conferenceInvite?number=123&pin=456",
                              json={"extension": "213", "phoneCallView": [{"destination": "8887777"}]})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "pc_bridge_unavailable")


def test_sixteen_concurrent_hang_ups_one_wins_one_bye_per_phone(server, sip_agents):
    john = phone(sip_agents, server, "0003*210")
    number = trunk(sip_agents, server)
    call = server.create("8887784")
    server.until(call["id"], answered)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: server.request("DELETE", f"{ME}/210/{call['id']}").status_code, range(16)))
    assert sorted(statuses) == [200] + [204] * 15
    assert methods(john).count("BYE") == 1 and methods(number).count("BYE") == 1


def test_a_call_dialled_from_a_phone_is_a_call_of_both_extensions_and_delete_ends_it(server, sip_agents):
    jane = phone(sip_agents, server, "0003*220")
    caller = sip_agents("dial_auth_wait_bye.xml", remote=server.sip_target, service="220", d_ms=0, timeout_s=15,
                        auth_user="0003*210", auth_password=PHONES["0003*210"], extra_args=["-key", "caller", "0003*210"])
    listed = wait_until(lambda: server.live("210"), 5)
    assert listed, "the dialled call never showed on the caller's extension"
    call_id = listed[0]["id"]
    assert [c["id"] for c in server.live("220", client="org", user="13")] == [call_id]
    server.until(call_id, answered)
    response = server.request("DELETE", f"{ME}/210/{call_id}")
    assert (response.status_code, response.json()[0]["endedBy"]) == (200, "api")
    assert methods(caller)[-1] == "BYE" and methods(jane)[-1] == "BYE"


def test_a_wrong_password_cannot_register(server, sip_agents):
    refused = sip_agents("register_refused.xml", remote=server.sip_target, service="0003*210",
                         auth_user="0003*210", auth_password="wrong",
                         extra_args=["-key", "contact", f"{HOST}:40999", "-key", "expires", "3600"])
    assert refused.wait(10) == 0, refused.report()


def test_sigterm_ends_every_call_stops_kamailio_and_frees_every_port(tmp_path: Path, sip_agents):
    from tests.support.sipp import udp_bound

    own = SipServer(tmp_path / "own")
    own.start()
    john = phone(sip_agents, own, "0003*210")
    number = trunk(sip_agents, own)
    call = own.create("8887790")
    own.until(call["id"], answered)
    kamailio_pid = own.kamailio_pid
    # uvicorn shuts down gracefully, then re-raises the signal it caught: -SIGTERM is a clean stop.
    assert own.stop() in (0, -signal.SIGTERM), own.output()
    assert "Traceback" not in own.output()
    assert methods(john).count("BYE") == 1 and methods(number).count("BYE") == 1
    assert wait_until(lambda: not running(kamailio_pid), 10)
    assert not udp_bound(own.sip_port)
    own.start()   # the call was ended as the server stopped, not left live in the database
    try:
        ended = own.call(call["id"])
        assert (ended["endedBy"], ended["cause"]) == ("system", "switch_restart")
    finally:
        own.stop()


def test_after_a_crash_the_restarted_server_ends_every_call_the_phones_were_left_in(tmp_path: Path, sip_agents):
    crashed = SipServer(tmp_path / "crash")
    crashed.start()
    try:
        john = phone(sip_agents, crashed, "0003*210", timeout_s=30)
        number = trunk(sip_agents, crashed, timeout_s=30)
        call = crashed.create("8887785")
        crashed.until(call["id"], answered)
        assert wait_until(lambda: len(number.received("INVITE")) and len(john.received("INVITE")) >= 2, 5)
        crashed.stop(signal.SIGKILL)          # no goodbye: both phones are still in the call
        assert john.returncode is None and number.returncode is None
        crashed.start()                       # same database, same SIP addresses
        assert methods(john).count("BYE") == 1 and methods(number).count("BYE") == 1
        ended = crashed.call(call["id"])
        assert (ended["endedBy"], ended["cause"]) == ("system", "switch_restart")
        assert crashed.no_dialogs_left(10), crashed.live_dialogs()
    finally:
        crashed.stop()


def test_transfer_rings_the_new_party_connects_it_and_byes_the_one_leaving(server, sip_agents):
    john = phone(sip_agents, server, "0003*210")
    desk = phone(sip_agents, server, "0003*211")
    number = trunk(sip_agents, server)
    call = server.create("8887786", query="?allowPublicTransfer=true")
    server.until(call["id"], answered)
    response = server.request("PUT", f"{ME}/@self/{call['id']}", json={
        "action": "Transfer", "transferNumber": "8887786", "transferFromNumber": "210", "sendCallTo": "211"})
    assert response.status_code == 200, response.text
    assert methods(john) == ["INVITE", "ACK", "INVITE", "ACK", "BYE"]
    moved = server.until(call["id"], lambda c: views(c).get("0003*211", {}).get("status") == 5)
    assert views(moved)["0003*210"]["disposition"] == 0
    assert wait_until(lambda: len(number.received("INVITE")) >= 2, 5)   # re-INVITEd with the desk's media
    assert server.request("DELETE", f"{ME}/211/{call['id']}").status_code == 200
    assert methods(desk).count("BYE") == 1 and methods(number).count("BYE") == 1


def test_pick_up_replaces_the_ringing_party(server, sip_agents):
    john = phone(sip_agents, server, "0003*210")
    ringing = phone(sip_agents, server, "0003*220", scenario="phone_ring.xml")
    desk = phone(sip_agents, server, "0003*211")
    call = server.create("220")
    server.until(call["id"], lambda c: views(c)["0003*220"]["status"] == 3)
    response = server.request("PUT", f"{ME}/@self/{call['id']}", json={
        "action": "PickUp", "phoneCallViewId": "01", "sendCallTo": "211"})
    assert response.status_code == 200, response.text
    assert methods(ringing) == ["INVITE", "CANCEL", "ACK"]
    assert wait_until(lambda: len(john.received("INVITE")) >= 2, 5)   # re-INVITEd: connected to the desk
    assert server.request("DELETE", f"{ME}/210/{call['id']}").status_code == 200
    assert methods(john).count("BYE") == 1 and methods(desk).count("BYE") == 1


@pytest.mark.parametrize("scenario", ["phone_not_found.xml", "phone_forbidden.xml"])
def test_a_refusing_number_ends_the_call_failed(server, sip_agents, scenario):
    john = phone(sip_agents, server, "0003*210")
    trunk(sip_agents, server, scenario)
    call = server.create("8887787")
    ended = server.until(call["id"], lambda c: "ended" in c)
    assert (ended["endedBy"], ended["cause"]) == ("system", "failed")
    assert views(ended)["0003*210"]["disposition"] == 2   # the call failed (the refusing party itself: 2 or 5)
    assert methods(john) == ["INVITE", "ACK", "BYE"]


def test_call_duration_ends_an_answered_call_with_bye(server, sip_agents):
    john = phone(sip_agents, server, "0003*210")
    number = trunk(sip_agents, server)
    call = server.create("8887788", query="?callDuration=1")
    server.until(call["id"], answered)
    ended = server.until(call["id"], lambda c: "ended" in c, timeout=10)
    assert (ended["endedBy"], ended["cause"]) == ("system", "duration_limit")
    assert methods(john).count("BYE") == 1 and methods(number).count("BYE") == 1


def test_park_holds_the_caller_hangs_up_the_parker_and_rings_it_back(server, sip_agents):
    john = phone(sip_agents, server, "0003*210", timeout_s=20)
    number = trunk(sip_agents, server, timeout_s=20)
    call = server.create("8887789")
    server.until(call["id"], answered)
    response = server.request("PUT", f"{ME}/@self/{call['id']}",
                              json={"action": "Park", "phoneCallViewId": "00", "maxInParking": "1"})
    assert response.status_code == 200, response.text
    assert views(response.json())["0003*210"]["parkedBy"] == "0003*210"
    assert methods(john).count("BYE") == 1                      # the parker hung up into the parking lot
    held = number.received("INVITE")
    assert wait_until(lambda: any("a=inactive" in i for i in number.received("INVITE")), 5), held
    back = phone(sip_agents, server, "0003*210", timeout_s=20)   # the parker's phone, rung back
    returned = server.until(call["id"], lambda c: views(c)["0003*210"].get("status") == 5 and "parked" not in
                            views(c)["0003*210"], timeout=10)
    assert "ended" not in returned
    assert wait_until(lambda: "a=inactive" not in number.received("INVITE")[-1], 5)   # connected again
    assert server.request("DELETE", f"{ME}/210/{call['id']}").status_code == 200
    assert methods(back).count("BYE") == 1 and methods(number).count("BYE") == 1


def test_unpark_connects_the_parked_party_to_another_phone(server, sip_agents):
    john = phone(sip_agents, server, "0003*210", timeout_s=20)
    number = trunk(sip_agents, server, timeout_s=20)
    call = server.create("8887792")
    server.until(call["id"], answered)
    parked = server.request("PUT", f"{ME}/@self/{call['id']}",
                            json={"action": "Park", "phoneCallViewId": "00", "maxInParking": 30})
    assert parked.status_code == 200, parked.text
    assert methods(john).count("BYE") == 1
    desk = phone(sip_agents, server, "0003*211", timeout_s=20)
    response = server.request("PUT", f"{ME}/@self/{call['id']}",
                              json={"action": "UnPark", "phoneCallViewId": "00", "sendCallTo": "211"})
    assert response.status_code == 200, response.text
    assert views(response.json())["0003*210"]["disposition"] == 0
    assert wait_until(lambda: desk.received("INVITE") and "a=inactive" not in number.received("INVITE")[-1], 5)
    assert server.request("DELETE", f"{ME}/211/{call['id']}").status_code == 200
    assert methods(desk).count("BYE") == 1 and methods(number).count("BYE") == 1
