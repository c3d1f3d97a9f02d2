"""SDP as a controller with no media touches it: forwarded, never invented (RFC 3725 Flow IV).

The only SDP we write ourselves is a session with no media streams (the first leg's offer,
RFC 4317 section 5.1). Everything else is the other phone's SDP with two rewrites:
- origin: each leg sees one `o=` line whose version goes up by one per new SDP (RFC 3264 8);
- m-lines: a leg is never sent fewer m-lines than before (pad with port-0 streams).
Plus the direction attribute for hold (`a=inactive`, RFC 3264 8.4) and resume (sendrecv).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

DIRECTIONS = ("a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive")


def _lines(sdp: bytes) -> list[str]:
    return [line for line in sdp.decode("utf-8", "replace").replace("\r\n", "\n").split("\n") if line]


def _join(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


def no_media(session_id: int, version: int, address: str) -> bytes:
    return _join(["v=0", f"o=- {session_id} {version} IN IP4 {address}", "s=-",
                  f"c=IN IP4 {address}", "t=0 0"])


def media_count(sdp: bytes) -> int:
    return sum(1 for line in _lines(sdp) if line.startswith("m="))


def with_origin(sdp: bytes, session_id: int, version: int, address: str) -> bytes:
    lines = [f"o=- {session_id} {version} IN IP4 {address}" if line.startswith("o=") else line
             for line in _lines(sdp)]
    return _join(lines)


def padded(sdp: bytes, at_least: int) -> bytes:
    """Append disabled streams (`m=audio 0 RTP/AVP 0`) until there are `at_least` m-lines."""
    missing = at_least - media_count(sdp)
    lines = _lines(sdp) + ["m=audio 0 RTP/AVP 0"] * max(missing, 0)
    return _join(lines)


def with_direction(sdp: bytes, direction: str) -> bytes:
    """Every stream marked `a=inactive`, or every direction attribute removed (sendrecv)."""
    out: list[str] = []
    for line in _lines(sdp):
        if line in DIRECTIONS:
            continue
        out.append(line)
    if direction == "inactive":
        result: list[str] = []
        in_media = False
        for line in out:
            if line.startswith("m=") and in_media:
                result.append("a=inactive")
            in_media = in_media or line.startswith("m=")
            result.append(line)
        if in_media:
            result.append("a=inactive")
        out = result
    return _join(out)


def direction_of(sdp: bytes) -> str:
    for line in _lines(sdp):
        if line in DIRECTIONS:
            return line[2:]
    return "sendrecv"


@dataclass
class Origin:
    """One leg's view of us as an SDP party: a fixed session id, a version that only grows."""

    address: str
    session_id: int = field(default_factory=lambda: secrets.randbelow(10**9) + 1000)
    version: int = 0
    media_sent: int = 0
    last_sent: bytes | None = None

    def stamp(self, sdp: bytes) -> bytes:
        """`sdp` as this leg must see it next: our origin, version + 1, never fewer m-lines."""
        self.version += 1
        body = padded(with_origin(sdp, self.session_id, self.version, self.address), self.media_sent)
        self.media_sent = max(self.media_sent, media_count(body))
        self.last_sent = body
        return body

    def empty_offer(self) -> bytes:
        return self.stamp(no_media(self.session_id, 0, self.address))

    def to_record(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "version": self.version}
