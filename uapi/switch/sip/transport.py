"""The engine's one UDP socket: bind (port 0 -> the real port read back), send, receive.

Every datagram is parsed here; keep-alive CRLFs and anything unparsable are dropped so one
bad packet never stops the receive loop. RFC 3261 section 18.3: a request whose body is
shorter than its Content-Length is answered 400; such a response is dropped.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .message import ParseError, SipMessage, TruncatedBody, parse, response

log = logging.getLogger(__name__)
Address = tuple[str, int]
Receiver = Callable[[SipMessage, Address], None]


class UdpTransport(asyncio.DatagramProtocol):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def bind(cls, host: str, port: int, receiver: Receiver) -> UdpTransport:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(lambda: cls(receiver), local_addr=(host, port))
        return protocol

    @property
    def address(self) -> Address:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if not data.strip():
            return                                   # keep-alive
        try:
            msg = parse(data)
        except TruncatedBody as exc:
            if exc.message.is_request and exc.message.method != "ACK":
                self.send(response(exc.message, 400, "Content-Length Mismatch").to_bytes(), addr)
            return
        except (ParseError, ValueError, IndexError, KeyError):
            log.debug("dropped an unparsable datagram from %s", addr)
            return
        try:
            self.receiver(msg, addr)
        except Exception:                            # never let one message stop the loop
            log.exception("error handling a SIP message from %s", addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error: %s", exc)              # ICMP port unreachable etc.

    def send(self, data: bytes, addr: Address) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
