"""The SIP engine against scripted SIPp phones on loopback (no Kamailio, no HTTP).

Each phone is a SIPp UAS on its own port, reached through the engine's dial plan. A test
passes only if SIPp saw exactly its script (exit 0) and the engine reported the right events.
Waits are on engine events or SIPp's exit, always bounded.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.support.sipp import SIPP, Sipp, branch_of, header_values, sipp_phones  # noqa: F401
from uapi.switch import Accept, IncomingCall, Leg, Reject, SwitchEvent
from uapi.switch.sip.dialogs import MemoryDialogStore
from uapi.switch.sip.engine import SipEngine

pytestmark = [pytest.mark.sip, pytest.mark.skipif(SIPP is None, reason="sipp not installed")]


class Recorder:
    """Collects engine events; `until` waits (bounded) for one to arrive."""

    def __init__(self) -> None:
        self.events: list[SwitchEvent] = []
        self.changed = asyncio.Condition()
        self.incoming: Callable[[IncomingCall], Accept | Reject] = lambda c: Reject(404, "Not Found")

    async def on_event(self, event: SwitchEvent) -> None:
        async with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    async def on_incoming(self, call: IncomingCall) -> Accept | Reject:
        return self.incoming(call)

    def kinds(self, party: str) -> list[str]:
        return [e.kind for e in self.events if e.party == party]

    async def until(self, party: str, kind: str, timeout: float = 5) -> SwitchEvent:
        def found() -> SwitchEvent | None:
            return next((e for e in self.events if e.party == party and e.kind == kind), None)
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: found() is not None), timeout)
        event = found()
        assert event is not None
        return event


@pytest.fixture
async def engine_for():
    """Factory: an engine whose dial plan maps target -> a SIPp phone's address."""
    engines: list[SipEngine] = []

    async def make(phones: dict[str, Sipp], store: MemoryDialogStore | None = None) -> tuple[SipEngine, Recorder]:
        rec = Recorder()
        engine = SipEngine(dial_plan=lambda target: phones[target].address, dialogs=store)
        await engine.start(rec.on_event, rec.on_incoming)
        engines.append(engine)
        return engine, rec

    yield make
    for engine in engines:
        await engine.stop()


def leg(party: str, auto: bool = False) -> Leg:
    return Leg(party=party, target=party, caller_id=f"Test <{party}>", auto_answer=auto)


async def test_flow_iv_call_connected_then_ended(sipp_phones, engine_for):
    a = sipp_phones("phone_answer.xml", d_ms=100)
    b = sipp_phones("phone_answer.xml", d_ms=100)
    engine, rec = await engine_for({"210": a, "333": b})
    assert await engine.originate("c1", leg("210", auto=True), 0) == []
    await rec.until("210", "answered")
    await engine.originate("c1", leg("333"), 0)
    await engine.connect("c1", "210", "333")
    await rec.until("333", "answered")
    await wait_for_partner(engine, "c1", "210")
    await engine.end("c1", ["210", "333"])
    assert await a.finished(5) == 0
    assert await b.finished(5) == 0
    assert a.received_methods() == ["INVITE", "ACK", "INVITE", "ACK", "BYE"]
    assert b.received_methods() == ["INVITE", "ACK", "BYE"]
    first_invite, reinvite = a.received("INVITE")
    assert "m=" not in body_of(first_invite)                # Flow IV: no media offer
    assert "answer-after=0" in first_invite and 'From: "Test" <sip:210@' in first_invite
    assert "m=audio" in reinvite                                        # B's offer relayed to A
    assert body_of(b.received("INVITE")[0]).strip() == ""    # B: no SDP
    ack_b = b.received("ACK")[0]
    assert "m=audio" in ack_b                                           # A's answer in B's ACK
    assert origin_version(first_invite) + 1 == origin_version(reinvite)
    assert rec.kinds("210") == ["ringing", "answered"] and rec.kinds("333") == ["ringing", "answered"]
    assert engine.live_legs() == []


async def wait_for_partner(engine: SipEngine, call_id: str, party: str) -> None:
    """connect() is done when the re-INVITE was answered (partners set); bounded poll on state."""
    await settled(engine, call_id, party, lambda leg: leg.partner is not None)


async def settled(engine: SipEngine, call_id: str, party: str, also=lambda leg: True) -> None:
    """No INVITE transaction pending or queued on the leg (commands return before SIP finishes)."""
    for _ in range(500):
        leg = engine.calls[call_id].legs[party]
        if not leg.invite_busy and not leg.reinvites and also(leg):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{party}: re-INVITE never completed")


def body_of(message: str) -> str:
    return message.split("\n\n", 1)[1] if "\n\n" in message else ""


def origin_version(message: str) -> int:
    line = next(ln for ln in message.splitlines() if ln.startswith("o="))
    return int(line.split()[2])


async def test_ringing_leg_is_cancelled_with_the_invite_branch(sipp_phones, engine_for):
    p = sipp_phones("phone_ring.xml")
    engine, rec = await engine_for({"210": p})
    await engine.originate("c1", leg("210"), 0)
    await rec.until("210", "ringing")
    await engine.end("c1", ["210"])
    assert await p.finished(5) == 0
    assert p.received_methods() == ["INVITE", "CANCEL", "ACK"]
    invite, = p.received("INVITE")
    cancel, = p.received("CANCEL")
    assert branch_of(invite) == branch_of(cancel)
    assert header_values(cancel, "Max-Forwards") == ["70"]
    assert rec.kinds("210") == ["ringing"]                      # nothing after end()


async def test_cancel_is_held_until_the_first_provisional(sipp_phones, engine_for):
    p = sipp_phones("phone_slow_ring.xml", d_ms=300)
    engine, rec = await engine_for({"210": p})
    await engine.originate("c1", leg("210"), 0)
    await engine.end("c1", ["210"])
    assert await p.finished(5) == 0
    assert p.received_methods() == ["INVITE", "CANCEL", "ACK"]
    assert rec.events == []


async def test_busy_phone_gives_busy_event(sipp_phones, engine_for):
    p = sipp_phones("phone_busy.xml")
    engine, rec = await engine_for({"210": p})
    await engine.originate("c1", leg("210"), 0)
    event = await rec.until("210", "busy")
    assert event.status == 486
    assert await p.finished(5) == 0
    assert p.received_methods() == ["INVITE", "ACK"]
    invite, = p.received("INVITE")
    ack, = p.received("ACK")
    assert branch_of(invite) == branch_of(ack)                 # non-2xx ACK: same branch


async def test_phone_hangs_up_first_then_end_sends_nothing(sipp_phones, engine_for):
    p = sipp_phones("phone_hangup.xml", d_ms=100)
    engine, rec = await engine_for({"210": p})
    await engine.originate("c1", leg("210"), 0)
    await rec.until("210", "hangup")
    await engine.end("c1", ["210"])
    assert await p.finished(5) == 0
    assert p.received_methods() == ["INVITE", "ACK"]
    assert p.received_statuses() == [200]
    assert rec.kinds("210") == ["answered", "hangup"]


@pytest.mark.parametrize("scenario", ["phone_cross_invite_first.xml", "phone_cross_cancel_first.xml"])
async def test_200_crossing_our_cancel_is_acked_then_byed(sipp_phones, engine_for, scenario):
    p = sipp_phones(scenario)
    engine, rec = await engine_for({"210": p})
    await engine.originate("c1", leg("210"), 0)
    await rec.until("210", "ringing")
    await engine.end("c1", ["210"])
    assert await p.finished(5) == 0
    assert p.received_methods() == ["INVITE", "CANCEL", "ACK", "BYE"]
    assert rec.kinds("210") == ["ringing"]


async def test_bye_glare_is_answered_200(sipp_phones, engine_for):
    p = sipp_phones("phone_bye_glare.xml")
    engine, rec = await engine_for({"210": p})
    await engine.originate("c1", leg("210"), 0)
    await rec.until("210", "answered")
    await engine.end("c1", ["210"])
    assert await p.finished(5) == 0
    assert p.received_methods() == ["INVITE", "ACK", "BYE"]
    assert p.received_statuses() == [200]
    assert rec.kinds("210") == ["answered"]


async def test_hold_and_resume_reinvite_inactive_then_sendrecv(sipp_phones, engine_for):
    a = sipp_phones("phone_answer.xml")
    b = sipp_phones("phone_answer.xml")
    engine, rec = await engine_for({"210": a, "333": b})
    await engine.originate("c1", leg("210"), 0)
    await rec.until("210", "answered")
    await engine.originate("c1", leg("333"), 0)
    await engine.connect("c1", "210", "333")
    await rec.until("333", "answered")
    await wait_for_partner(engine, "c1", "210")
    for direction in ("inactive", "sendrecv"):
        await engine.set_direction("c1", "210", direction)
        await engine.set_direction("c1", "333", direction)
        await settled(engine, "c1", "210")
        await settled(engine, "c1", "333")
    await engine.end("c1", ["210", "333"])
    assert await a.finished(5) == 0 and await b.finished(5) == 0
    assert a.received_methods() == ["INVITE", "ACK", "INVITE", "ACK", "INVITE", "ACK", "INVITE", "ACK", "BYE"]
    assert b.received_methods() == ["INVITE", "ACK", "INVITE", "ACK", "INVITE", "ACK", "BYE"]
    holds = [a.received("INVITE")[2], b.received("INVITE")[1]]
    resumes = [a.received("INVITE")[3], b.received("INVITE")[2]]
    assert all("a=inactive" in m for m in holds)
    assert all("a=inactive" not in m and "m=audio" in m for m in resumes)
    versions = [origin_version(m) for m in a.received("INVITE")]
    assert versions == sorted(set(versions))                    # A's origin version only grows


async def test_sixteen_concurrent_ends_send_one_bye_per_leg(sipp_phones, engine_for):
    a = sipp_phones("phone_answer.xml")
    b = sipp_phones("phone_answer.xml")
    engine, rec = await engine_for({"210": a, "333": b})
    await engine.originate("c1", leg("210"), 0)
    await rec.until("210", "answered")
    await engine.originate("c1", leg("333"), 0)
    await engine.connect("c1", "210", "333")
    await rec.until("333", "answered")
    await wait_for_partner(engine, "c1", "210")
    await asyncio.gather(*(engine.end("c1", ["210", "333"]) for _ in range(16)))
    assert await a.finished(5) == 0 and await b.finished(5) == 0
    assert a.received_methods().count("BYE") == 1 and b.received_methods().count("BYE") == 1
    assert a.messages.count("\nBYE sip:") == 1 and b.messages.count("\nBYE sip:") == 1


async def test_inbound_call_is_bridged_to_the_callee(sipp_phones, engine_for):
    callee = sipp_phones("phone_answer.xml")
    engine, rec = await engine_for({"333": callee})
    rec.incoming = lambda c: Accept("in1", Leg(party=c.dialled, target=c.dialled))
    caller = sipp_phones("caller_wait_bye.xml", remote="%s:%d" % engine.address, service="333")
    await rec.until("333", "answered")
    for _ in range(500):                                         # the caller's ACK confirms it
        if not engine.runner.finals:
            break
        await asyncio.sleep(0.01)
    await engine.end("in1", ["caller", "333"])
    assert await caller.finished(5) == 0 and await callee.finished(5) == 0
    assert caller.received_statuses()[-2:] == [180, 200] or caller.received_statuses()[-1] == 200
    assert caller.received_methods() == ["BYE"]
    assert callee.received_methods() == ["INVITE", "ACK", "BYE"]
    assert "m=audio" in callee.received("INVITE")[0]            # the caller's offer passed through


async def test_stop_ends_every_live_leg(sipp_phones, engine_for):
    a = sipp_phones("phone_answer.xml")
    r = sipp_phones("phone_ring.xml")
    engine, rec = await engine_for({"210": a, "444": r})
    await engine.originate("c1", leg("210"), 0)
    await engine.originate("c2", leg("444"), 0)
    await rec.until("210", "answered")
    await rec.until("444", "ringing")
    await engine.stop()
    assert await a.finished(5) == 0 and await r.finished(5) == 0
    assert a.received_methods() == ["INVITE", "ACK", "BYE"]
    assert r.received_methods() == ["INVITE", "CANCEL", "ACK"]


async def test_recover_byes_a_leg_left_by_a_previous_engine(sipp_phones, engine_for):
    p = sipp_phones("phone_answer.xml")
    store = MemoryDialogStore()
    old, rec = await engine_for({"210": p}, store)
    await old.originate("c1", leg("210"), 0)
    await rec.until("210", "answered")
    await old._flush()
    old.runner.close()                                          # the old process dies silently
    old.transport.close()
    old.transport = None
    old.calls.clear()
    assert [(c, party) for c, party, r in await store.all()] == [("c1", "210")]
    new, _ = await engine_for({"210": p}, store)
    assert await new.recover() == [("c1", "210")]
    assert await p.finished(5) == 0
    assert p.received_methods() == ["INVITE", "ACK", "BYE"]
    assert await store.all() == []
