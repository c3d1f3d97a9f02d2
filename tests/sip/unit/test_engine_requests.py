"""The engine's answers to requests phones send, over a plain loopback UDP socket (no SIPp)."""
from __future__ import annotations

import asyncio
import socket

import pytest

from uapi.switch import Reject
from uapi.switch.sip.engine import SipEngine
from uapi.switch.sip.message import parse


def raw(method: str, to_tag: str = "", body: bytes = b"", length: int | None = None, branch: str = "z9hG4bKr1") -> bytes:
    tag = f";tag={to_tag}" if to_tag else ""
    n = len(body) if length is None else length
    return (f"{method} sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch={branch}\r\n"
            f"From: <sip:p@h>;tag=p1\r\nTo: <sip:x@h>{tag}\r\nCall-ID: raw@h\r\nCSeq: 1 {method}\r\n"
            f"Content-Length: {n}\r\n\r\n").encode() + body


@pytest.fixture
async def engine():
    async def no_events(event):
        pass

    async def reject(call):
        return Reject(403, "Forbidden")
    eng = SipEngine()
    await eng.start(no_events, reject)
    yield eng
    await eng.stop()


async def exchange(engine: SipEngine, data: bytes, expect: int = 1) -> list:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        await loop.sock_sendto(s, data, engine.address)
        return [parse(await asyncio.wait_for(loop.sock_recv(s, 4000), 2)) for _ in range(expect)]


@pytest.mark.parametrize("method,status", [("OPTIONS", 200), ("BYE", 481), ("REFER", 405)])
async def test_out_of_dialog_requests(engine, method, status):
    resp, = await exchange(engine, raw(method))
    assert resp.status == status and resp.cseq == (1, method)


@pytest.mark.parametrize("method,status", [("BYE", 481), ("INFO", 481), ("INVITE", 481)])
async def test_in_dialog_requests_for_unknown_dialogs_get_481(engine, method, status):
    resp, = await exchange(engine, raw(method, to_tag="nobody"))
    assert resp.status == status


async def test_garbage_never_stops_the_receive_loop_and_short_bodies_get_400(engine):
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (b"\r\n\r\n", b"\x00\xff garbage", b"INVITE nonsense\r\n\r\n"):
            await loop.sock_sendto(s, junk, engine.address)
    resp, = await exchange(engine, raw("OPTIONS", length=50, branch="z9hG4bKshort"))
    assert resp.status == 400
    resp, = await exchange(engine, raw("OPTIONS", branch="z9hG4bKafter"))
    assert resp.status == 200


async def test_a_dialled_call_the_domain_rejects_gets_100_then_the_final(engine):
    trying, final = await exchange(engine, raw("INVITE"), expect=2)
    assert trying.status == 100 and final.status == 403
    assert final["to"].endswith(final["to"].split(";tag=")[1]) and ";tag=" in final["to"]


async def test_every_rejected_call_is_forgotten_so_its_leg_is_reaped(engine):
    forgotten = []
    engine._forget = lambda leg: forgotten.append(leg.sip_call_id)   # it schedules the reap 64*T1 + 5 s on
    for n in range(5):
        await exchange(engine, raw("INVITE", branch=f"z9hG4bKrej{n}").replace(b"raw@h", f"rej{n}@h".encode()), 2)
    await asyncio.sleep(0)
    assert sorted(forgotten) == [f"rej{n}@h" for n in range(5)]
    for leg in list(engine.legs.values()):
        engine._reap(leg)
    assert engine.legs == {} and engine.calls == {}


async def test_behind_a_proxy_new_invites_from_anywhere_else_are_refused():
    async def no_events(event):
        pass

    async def accept_all(call):
        raise AssertionError("the domain must never hear of a call that bypassed the proxy")
    eng = SipEngine(proxy=("127.0.0.1", 9))   # Kamailio's address; the test socket is not it
    await eng.start(no_events, accept_all)
    try:
        refused, = await exchange(eng, raw("INVITE"))
        assert refused.status == 403 and eng.legs == {}
    finally:
        await eng.stop()
