"""A leg ended while our re-INVITE is pending gets its BYE only after that re-INVITE's answer.

Sent at once, the BYE can overtake the re-INVITE inside Kamailio (its UDP workers forward in
parallel); the phone then ends the dialog, answers the late re-INVITE 200 and waits in a call
nobody will end (seen once in tests/sip/test_races.py). Played by hand on a UDP socket.
"""
from __future__ import annotations

import asyncio
import socket

from tests.sip.unit.test_crossing_retransmission import SDP, quiet, receive
from uapi.switch import Leg
from uapi.switch.sip.engine import SipEngine
from uapi.switch.sip.message import response


async def test_the_bye_waits_for_the_pending_reinvite_then_follows_its_ack() -> None:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind(("127.0.0.1", 0))
        phone.setblocking(False)

        async def ignore(event):
            pass

        async def no_calls(call):
            raise AssertionError("nobody dials in this test")
        engine = SipEngine(dial_plan=lambda target: phone.getsockname())
        await engine.start(ignore, no_calls)
        try:
            await engine.originate("c1", Leg("8887777", "8887777"), 0)
            invite = await receive(loop, phone)
            contact = [("contact", "<sip:phone@127.0.0.1:%d>" % phone.getsockname()[1]),
                       ("content-type", "application/sdp")]
            await loop.sock_sendto(phone, response(invite, 200, to_tag="p1", extra=contact, body=SDP).to_bytes(),
                                   engine.address)
            assert (await receive(loop, phone)).method == "ACK"
            await engine.set_direction("c1", "8887777", "inactive")
            reinvite = await receive(loop, phone)
            assert reinvite.method == "INVITE"
            await engine.end("c1", ["8887777"])
            held = await quiet(loop, phone, 0.3)                  # nothing while the re-INVITE is pending
            await loop.sock_sendto(phone, response(reinvite, 200, to_tag="p1", extra=contact, body=SDP).to_bytes(),
                                   engine.address)
            after = await quiet(loop, phone, 0.3)
            for bye in (m for m in after if m.method == "BYE"):   # answered, so it is not retransmitted
                await loop.sock_sendto(phone, response(bye, 200, to_tag="p1").to_bytes(), engine.address)
        finally:
            await engine.stop()
    assert held == []
    assert [m.method for m in after] == ["ACK", "BYE"]
    assert after[0].cseq[0] == reinvite.cseq[0] and after[1].cseq[0] > reinvite.cseq[0]
