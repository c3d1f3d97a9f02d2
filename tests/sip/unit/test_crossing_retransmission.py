"""A 2xx that crossed our CANCEL is ACKed and BYEd once; its retransmissions get the same ACK.

Loopback SIPp phones never retransmit (nothing is lost), so this plays the phone by hand on a
UDP socket: 100 Trying without a tag (as Kamailio sends it), our CANCEL, then the phone's 200
twice.
"""
from __future__ import annotations

import asyncio
import socket

from uapi.switch import Leg
from uapi.switch.sip.engine import SipEngine
from uapi.switch.sip.message import SipMessage, parse, response

SDP = b"v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"


async def receive(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> SipMessage:
    return parse(await asyncio.wait_for(loop.sock_recv(sock, 4000), 2))


async def quiet(loop: asyncio.AbstractEventLoop, sock: socket.socket, seconds: float) -> list[SipMessage]:
    got = []
    try:
        while True:
            got.append(parse(await asyncio.wait_for(loop.sock_recv(sock, 4000), seconds)))
    except TimeoutError:
        return got


async def test_a_retransmitted_2xx_after_our_cancel_gets_the_same_ack_and_no_second_bye() -> None:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind(("127.0.0.1", 0))
        phone.setblocking(False)
        events = []

        async def on_event(event):
            events.append(event)

        async def no_calls(call):
            raise AssertionError("nobody dials in this test")
        engine = SipEngine(dial_plan=lambda target: phone.getsockname())
        await engine.start(on_event, no_calls)
        try:
            await engine.originate("c1", Leg("8887777", "8887777"), 0)
            invite = await receive(loop, phone)
            await loop.sock_sendto(phone, response(invite, 100).to_bytes(), engine.address)
            await engine.end("c1", ["8887777"])
            cancel = await receive(loop, phone)
            assert cancel.method == "CANCEL" and cancel.branch == invite.branch
            contact = "<sip:phone@127.0.0.1:%d>" % phone.getsockname()[1]
            ok = response(invite, 200, to_tag="phone1", extra=[("contact", contact),
                                                               ("content-type", "application/sdp")], body=SDP)
            await loop.sock_sendto(phone, ok.to_bytes(), engine.address)
            first = await quiet(loop, phone, 0.3)
            for request in [cancel, *(m for m in first if m.method == "BYE")]:   # stop their retransmissions
                await loop.sock_sendto(phone, response(request, 200, to_tag="phone1").to_bytes(), engine.address)
            await loop.sock_sendto(phone, ok.to_bytes(), engine.address)   # the phone did not hear the ACK
            again = await quiet(loop, phone, 0.3)
        finally:
            await engine.stop()
    assert sorted(m.method or "" for m in first) == ["ACK", "BYE"]
    assert [m.method for m in again] == ["ACK"]
    assert again[0].to_bytes() == next(m for m in first if m.method == "ACK").to_bytes()
    assert events == []   # the leg was ended by end(): the domain hears nothing more of it
