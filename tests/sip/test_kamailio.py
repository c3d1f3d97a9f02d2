"""Kamailio as the SIP switch: registrar with digest auth, routing rules, dialogs, supervision.

Every SIP peer is a SIPp process with a strict script (rc 0 = exactly the expected messages).
The fake engine and the fake trunk are SIPp agents bound on the addresses the session's
Kamailio was configured with; phones register their UAS's address through a REGISTER agent.
"""
from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.support.kamailio import (  # noqa: F401  (fixtures)
    KAMAILIO,
    PHONES,
    KamailioEnv,
    kamailio_env,
    register,
    requires_kamailio,
    sip_agents,
    wait_until,
    write_directory,
)
from tests.support.sipp import header_values
from uapi.accounts import Directory, DirectoryError
from uapi.switch.sip.kamailio import Kamailio, KamailioError, render_config

pytestmark = [pytest.mark.sip, pytest.mark.kamailio, requires_kamailio]

JOHN, JOHN2, JANE = "0003*210", "0003*211", "0003*220"


def call_dialogs(env: KamailioEnv, call_id: str) -> list[dict]:
    return [d for d in env.dialogs() if d.get("call-id") == call_id]


def call_id_of(message: str) -> str:
    return header_values(message, "Call-ID")[0]


# -- the directory and the rendered config (no processes) -----------------------------


def test_sip_password_only_on_phone_terminals(tmp_path: Path) -> None:
    directory = Directory.load(write_directory(tmp_path))
    assert dict(directory.sip_credentials()) == PHONES
    assert "secret" not in repr(directory.extensions[JOHN])
    bad = {"organizations": [{"id": "3", "name": "O", "code": "0003"}],
           "users": [{"id": "1", "organization": "3", "name": "U"}],
           "extensions": [{"number": "212", "user": "1", "type": "callback", "sipPassword": "x"}]}
    with pytest.raises(DirectoryError, match=r"extensions\[0\]: sipPassword is only allowed on phone_terminal"):
        Directory.from_dict(bad)


def test_rendered_config_holds_no_plaintext_password(tmp_path: Path) -> None:
    directory = Directory.load(write_directory(tmp_path))
    text = render_config(directory, listen=("127.0.0.1", 5070), rpc=("127.0.0.1", 5071),
                         engine=("127.0.0.1", 5072), trunk=None, workdir=tmp_path)
    assert "secret-210" not in text and "0003*210" in text
    assert "listen=udp:127.0.0.1:5070" in text and "No Trunk Configured" in text
    with pytest.raises(KamailioError):
        render_config(directory, listen=("0.0.0.0; evil", 5070), rpc=("127.0.0.1", 1), engine=("127.0.0.1", 2),
                      trunk=None, workdir=tmp_path)


# -- registrar ------------------------------------------------------------------------


def test_register_with_digest_auth(kamailio_env: KamailioEnv, sip_agents) -> None:
    challenged = sip_agents("register_noauth.xml", remote=kamailio_env.sip_target, service=JOHN)
    assert challenged.wait(10) == 0                      # REGISTER without credentials -> 401
    assert challenged.received_statuses() == [401]
    assert 'WWW-Authenticate: Digest realm="127.0.0.1"' in challenged.messages

    agent = register(sip_agents, kamailio_env, JOHN, PHONES[JOHN], ("127.0.0.1", 40210))
    assert agent.returncode == 0, agent.report()
    assert agent.received_statuses() == [401, 200]
    assert kamailio_env.registrations()[JOHN] == [f"sip:{JOHN}@127.0.0.1:40210"]

    again = register(sip_agents, kamailio_env, JOHN, PHONES[JOHN], ("127.0.0.1", 40211))
    assert again.returncode == 0                         # one phone per extension: the new contact replaces
    assert kamailio_env.registrations()[JOHN] == [f"sip:{JOHN}@127.0.0.1:40211"]


@pytest.mark.parametrize("user, password, aor", [
    (JANE, "wrong", JANE),                 # wrong password
    ("0003*299", "whatever", "0003*299"),  # unknown user
    (JOHN2, PHONES[JOHN], JOHN2),          # another phone's password
])
def test_register_refused(kamailio_env: KamailioEnv, sip_agents, user: str, password: str, aor: str) -> None:
    agent = register(sip_agents, kamailio_env, user, password, ("127.0.0.1", 40299), scenario="register_refused.xml")
    assert agent.returncode == 0, agent.report()         # 401, then 403 for the credentials
    assert agent.received_statuses() == [401, 403]
    assert aor not in kamailio_env.registrations()


# -- calls from phones ----------------------------------------------------------------


def test_invite_without_credentials_is_challenged(kamailio_env: KamailioEnv, sip_agents) -> None:
    engine = sip_agents("phone_answer.xml", port=kamailio_env.engine[1], timeout_s=3)
    phone = sip_agents("dial_unauthenticated.xml", remote=kamailio_env.sip_target, service="5551234",
                       extra_args=["-key", "caller", JOHN])
    assert phone.wait(10) == 0, phone.report()
    assert 407 in phone.received_statuses()
    assert 'Proxy-Authenticate' in phone.messages
    engine.stop()
    assert engine.received_methods() == []


@pytest.mark.parametrize("caller, auth_user, password", [
    (JOHN, JOHN, "wrong"),                 # wrong password
    (JOHN, JOHN2, PHONES[JOHN2]),          # good credentials of another phone: auth user != From user
    ("0003*299", "0003*299", "x"),         # unknown user
])
def test_invite_with_bad_credentials_never_reaches_the_engine(kamailio_env: KamailioEnv, sip_agents,
                                                              caller: str, auth_user: str, password: str) -> None:
    engine = sip_agents("phone_answer.xml", port=kamailio_env.engine[1], timeout_s=3)
    phone = sip_agents("dial_refused.xml", remote=kamailio_env.sip_target, service="5551234",
                       auth_user=auth_user, auth_password=password, extra_args=["-key", "caller", caller])
    assert phone.wait(10) == 0, phone.report()
    assert phone.received_statuses()[-1] == 403
    engine.stop()
    assert engine.received_methods() == []


def test_authenticated_phone_call_reaches_the_engine(kamailio_env: KamailioEnv, sip_agents) -> None:
    engine = sip_agents("phone_answer.xml", port=kamailio_env.engine[1], d_ms=50)
    phone = sip_agents("dial_auth_bye.xml", remote=kamailio_env.sip_target, service="5551234", d_ms=300,
                       auth_user=JOHN, auth_password=PHONES[JOHN], extra_args=["-key", "caller", JOHN])
    assert phone.wait(10) == 0, phone.report()
    assert engine.wait(10) == 0, engine.report()
    assert engine.received_methods() == ["INVITE", "ACK", "BYE"]
    invite = engine.received("INVITE")[0]
    assert invite.startswith(f"INVITE sip:5551234@{kamailio_env.sip_target} ")   # the R-URI the phone dialled
    assert header_values(invite, "X-UAPI-Caller") == [JOHN]                       # the forged one is gone
    assert not header_values(invite, "Proxy-Authorization")                       # credentials consumed
    record_route = header_values(invite, "Record-Route")
    assert record_route and f"127.0.0.1:{kamailio_env.sip[1]};lr" in record_route[0]
    assert wait_until(lambda: not call_dialogs(kamailio_env, call_id_of(invite)), 10), kamailio_env.dialogs()


# -- calls from the engine ------------------------------------------------------------


def test_engine_call_to_registered_phone_and_dialog_lifecycle(kamailio_env: KamailioEnv, sip_agents) -> None:
    phone = sip_agents("phone_answer.xml", d_ms=50, timeout_s=10)
    assert register(sip_agents, kamailio_env, JOHN2, PHONES[JOHN2], phone.address).returncode == 0
    engine = sip_agents("dial_engine_bye.xml", port=kamailio_env.engine[1], remote=kamailio_env.sip_target,
                        service=JOHN2, d_ms=1500, timeout_s=10)

    def confirmed() -> list[dict]:
        invites = phone.received("INVITE")
        return invites and [d for d in call_dialogs(kamailio_env, call_id_of(invites[0])) if d.get("state") == 4]

    live = wait_until(confirmed, 5)
    assert live, f"no confirmed dialog while the call is up: {kamailio_env.dialogs()}"
    assert engine.wait(10) == 0, engine.report()
    assert phone.wait(10) == 0, phone.report()
    assert phone.received_methods() == ["INVITE", "ACK", "BYE"]
    invite = phone.received("INVITE")[0]
    assert invite.startswith(f"INVITE sip:{JOHN2}@127.0.0.1:{phone.port}")        # looked up in location
    assert header_values(invite, "Record-Route")
    assert wait_until(lambda: not call_dialogs(kamailio_env, call_id_of(invite)), 10), kamailio_env.dialogs()


def test_engine_call_to_public_number_goes_to_trunk(kamailio_env: KamailioEnv, sip_agents) -> None:
    trunk = sip_agents("phone_answer.xml", port=kamailio_env.trunk[1], d_ms=50)
    engine = sip_agents("dial_engine_bye.xml", port=kamailio_env.engine[1], remote=kamailio_env.sip_target,
                        service="40212345678", d_ms=200)
    assert engine.wait(10) == 0, engine.report()
    assert trunk.wait(10) == 0, trunk.report()
    assert trunk.received_methods() == ["INVITE", "ACK", "BYE"]
    assert trunk.received("INVITE")[0].startswith(f"INVITE sip:40212345678@127.0.0.1:{kamailio_env.trunk[1]} ")


def test_engine_call_to_unregistered_extension_gets_480(kamailio_env: KamailioEnv, sip_agents) -> None:
    engine = sip_agents("dial_engine_480.xml", port=kamailio_env.engine[1], remote=kamailio_env.sip_target,
                        service=JANE)
    assert engine.wait(10) == 0, engine.report()
    assert engine.received_statuses()[-1] == 480
    assert not [d for d in kamailio_env.dialogs() if JANE in str(d.get("to_uri", ""))]


# -- supervision ----------------------------------------------------------------------


async def test_killed_kamailio_is_restarted_and_stop_leaves_nothing(tmp_path: Path) -> None:
    directory = Directory.load(write_directory(tmp_path))
    kamailio = Kamailio(directory, listen=("127.0.0.1", 0), engine=("127.0.0.1", 9), trunk=None,
                        workdir=tmp_path / "kam", binary=str(KAMAILIO))
    await kamailio.start()
    try:
        first = kamailio.pid
        assert first is not None and kamailio.healthy and kamailio.last_error is None
        os.kill(first, signal.SIGKILL)

        async def restarted() -> bool:
            return kamailio.healthy and kamailio.pid not in (None, first)
        for _ in range(500):                     # bounded poll: <= ~10 s
            if await restarted():
                break
            await asyncio.sleep(0.02)
        assert await restarted(), kamailio.last_error
        assert "SIGKILL" in (kamailio.last_error or "")
        assert (await kamailio.rpc.call("core.version")).startswith("kamailio")
        assert await kamailio.rpc.dialogs() == [] and await kamailio.rpc.registrations() == {}
        second = kamailio.pid
    finally:
        await kamailio.stop()
    assert not Path(f"/proc/{first}").exists() and not Path(f"/proc/{second}").exists()
    assert kamailio.pid is None and not kamailio.healthy


# -- plain requests to the proxy --------------------------------------------------------


def _ask(env: KamailioEnv, request: str) -> str:
    """Send one SIP request over UDP from a throw-away socket; the first line of the answer."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        port = s.getsockname()[1]
        s.sendto(request.replace("PORT", str(port)).replace("\n", "\r\n").encode(), env.sip)
        return s.recv(65535).decode(errors="replace").split("\r\n", 1)[0]


def _options(env: KamailioEnv, max_forwards: int, ruri: str) -> str:
    return (f"OPTIONS {ruri} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bK-opt{max_forwards}{abs(hash(ruri))}\n"
            f"From: <sip:probe@127.0.0.1>;tag=p1\nTo: <{ruri}>\nCall-ID: opt-{max_forwards}-{abs(hash(ruri))}@127.0.0.1\n"
            f"CSeq: 1 OPTIONS\nMax-Forwards: {max_forwards}\nContent-Length: 0\n\n")


def test_options_to_the_proxy_and_max_forwards(kamailio_env: KamailioEnv) -> None:
    here = f"sip:{kamailio_env.sip_target}"
    assert _ask(kamailio_env, _options(kamailio_env, 70, here)) == "SIP/2.0 200 OK"
    assert _ask(kamailio_env, _options(kamailio_env, 0, f"sip:{JOHN}@{kamailio_env.sip_target}")).startswith("SIP/2.0 483")


def test_engine_cancels_a_ringing_phone(kamailio_env: KamailioEnv, sip_agents) -> None:
    phone = sip_agents("phone_ring.xml", timeout_s=10)
    assert register(sip_agents, kamailio_env, JOHN2, PHONES[JOHN2], phone.address).returncode == 0
    engine = sip_agents("dial_engine_cancel.xml", port=kamailio_env.engine[1], remote=kamailio_env.sip_target,
                        service=JOHN2, d_ms=300)
    assert engine.wait(10) == 0, engine.report()
    assert phone.wait(10) == 0, phone.report()
    assert phone.received_methods() == ["INVITE", "CANCEL", "ACK"]
    call_id = call_id_of(phone.received("INVITE")[0])
    assert wait_until(lambda: not call_dialogs(kamailio_env, call_id), 10), kamailio_env.dialogs()


def test_phone_call_hung_up_by_the_network(kamailio_env: KamailioEnv, sip_agents) -> None:
    engine = sip_agents("phone_hangup.xml", port=kamailio_env.engine[1], d_ms=300)
    phone = sip_agents("dial_auth_wait_bye.xml", remote=kamailio_env.sip_target, service=JANE,
                       auth_user=JOHN, auth_password=PHONES[JOHN], extra_args=["-key", "caller", JOHN])
    assert phone.wait(10) == 0, phone.report()
    assert engine.wait(10) == 0, engine.report()
    assert phone.received_methods() == ["BYE"]
    bye = phone.received("BYE")[0]
    assert wait_until(lambda: not call_dialogs(kamailio_env, call_id_of(bye)), 10), kamailio_env.dialogs()


def test_hundred_concurrent_calls(kamailio_env: KamailioEnv, sip_agents) -> None:
    """The config holds 100 calls up at once (2 cores here): all answered, all tracked, all gone."""
    calls = 100
    phone = sip_agents("phone_answer.xml", d_ms=50, timeout_s=40, extra_args=["-m", str(calls)])
    assert register(sip_agents, kamailio_env, JOHN2, PHONES[JOHN2], phone.address).returncode == 0
    engine = sip_agents("dial_engine_bye.xml", port=kamailio_env.engine[1], remote=kamailio_env.sip_target,
                        service=JOHN2, d_ms=4000, timeout_s=40,
                        extra_args=["-m", str(calls), "-l", str(calls), "-r", "50"])
    peak = 0

    def all_up() -> bool:
        nonlocal peak
        peak = max(peak, len([d for d in kamailio_env.dialogs() if d.get("state") == 4]))
        return peak >= calls
    assert wait_until(all_up, 15, interval=0.1), f"only {peak} confirmed dialogs at once"
    assert engine.wait(40) == 0, engine.report()
    assert phone.wait(40) == 0, phone.report()
    assert wait_until(lambda: not kamailio_env.dialogs(), 10), len(kamailio_env.dialogs())


async def test_start_fails_clearly_when_the_sip_port_is_taken(tmp_path: Path) -> None:
    import socket
    directory = Directory.load(write_directory(tmp_path))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        kamailio = Kamailio(directory, listen=taken.getsockname(), engine=("127.0.0.1", 9), trunk=None,
                            workdir=tmp_path / "kam", binary=str(KAMAILIO))
        with pytest.raises(KamailioError, match="exited during start-up.*Address already in use"):
            await kamailio.start()
        await kamailio.stop()
    assert not kamailio.healthy


async def test_supervisor_gives_up_after_too_many_deaths(tmp_path: Path) -> None:
    directory = Directory.load(write_directory(tmp_path))
    kamailio = Kamailio(directory, listen=("127.0.0.1", 0), engine=("127.0.0.1", 9), trunk=None,
                        workdir=tmp_path / "kam", binary=str(KAMAILIO))
    kamailio.max_restarts, kamailio.restart_backoff_s = 2, 0.01
    await kamailio.start()
    killed: list[int] = []
    try:
        for _ in range(kamailio.max_restarts + 1):
            for _ in range(500):                 # bounded poll: the next incarnation is up
                if kamailio.healthy and kamailio.pid not in (None, *killed):
                    break
                await asyncio.sleep(0.02)
            pid = kamailio.pid
            assert pid is not None and pid not in killed, kamailio.last_error
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        for _ in range(500):
            if "not restarting" in (kamailio.last_error or ""):
                break
            await asyncio.sleep(0.02)
        assert "died 3 times" in (kamailio.last_error or "") and "not restarting" in kamailio.last_error
        assert not kamailio.healthy and kamailio.pid is None
    finally:
        await kamailio.stop()
    assert not any(Path(f"/proc/{pid}").exists() for pid in killed)      # our children, reaped
