"""SIP messages: parse and build, with the few header helpers a 3pcc controller needs.

Own parser rather than `sipmessage`: we need exactly the RFC 3261 section 7 wire form
(start line, headers with compact names, comma-split Via/Route/Record-Route, a body) plus
the UDP Content-Length rule of section 18.3, which `sipmessage` does not apply. About 150
lines keep the engine free of a dependency and keep parsing errors under our control: any
malformed datagram raises `ParseError` and the transport drops it.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding"}
CANONICAL = {"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq",
             "contact": "Contact", "content-length": "Content-Length", "content-type": "Content-Type",
             "max-forwards": "Max-Forwards", "record-route": "Record-Route", "route": "Route",
             "www-authenticate": "WWW-Authenticate", "call-info": "Call-Info", "alert-info": "Alert-Info"}
LIST_HEADERS = {"via", "route", "record-route"}     # headers whose comma lists we split
REASONS = {100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 400: "Bad Request",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist", 486: "Busy Here",
           487: "Request Terminated", 488: "Not Acceptable Here", 491: "Request Pending",
           500: "Server Internal Error", 501: "Not Implemented", 503: "Service Unavailable"}
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY"


class ParseError(ValueError):
    """Not a SIP message we can use; the transport drops it (or answers 400)."""


class TruncatedBody(ParseError):
    """Content-Length promises more body than the datagram holds (RFC 3261 section 18.3)."""

    def __init__(self, message: SipMessage) -> None:
        super().__init__("body shorter than Content-Length")
        self.message = message


@dataclass
class SipMessage:
    method: str | None = None           # requests
    uri: str | None = None
    status: int | None = None           # responses
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)   # (lower-case name, value)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def all(self, name: str) -> list[str]:
        key = name.lower()
        return [v for n, v in self.headers if n == key]

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.lower()
        for n, v in self.headers:
            if n == key:
                return v
        return default

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def set(self, name: str, value: str) -> None:
        key = name.lower()
        self.headers = [(n, v) for n, v in self.headers if n != key] + [(key, value)]

    @property
    def call_id(self) -> str:
        return self["call-id"]

    @property
    def cseq(self) -> tuple[int, str]:
        number, method = self["cseq"].split()
        return int(number), method.upper()

    @property
    def branch(self) -> str:
        return param(self.all("via")[0], "branch") or ""

    def to_bytes(self) -> bytes:
        if self.is_request:
            lines = [f"{self.method} {self.uri} SIP/2.0"]
        else:
            lines = [f"SIP/2.0 {self.status} {self.reason or REASONS.get(self.status or 0, 'Unknown')}"]
        for name, value in self.headers:
            if name != "content-length":
                lines.append(f"{CANONICAL.get(name, name.title())}: {value}")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def split_list(value: str) -> list[str]:
    """Split a header value at commas outside quotes and angle brackets."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def parse(data: bytes) -> SipMessage:
    """Parse one datagram. Raises ParseError (or TruncatedBody) for anything unusable."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("not UTF-8") from exc
    lines = text.replace("\r\n", "\n").split("\n")
    msg = _start_line(lines[0].strip())
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":                       # folded continuation
            if not msg.headers:
                raise ParseError("continuation without header")
            name, value = msg.headers[-1]
            msg.headers[-1] = (name, value + " " + line.strip())
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise ParseError(f"bad header line {line[:40]!r}")
        key = name.strip().lower()
        key = COMPACT.get(key, key)
        values = split_list(value.strip()) if key in LIST_HEADERS else [value.strip()]
        msg.headers.extend((key, v) for v in values)
    for required in ("via", "call-id", "cseq", "from", "to"):
        if msg.get(required) is None:
            raise ParseError(f"missing {required}")
    try:
        number, method = msg["cseq"].split()
        int(number)
    except ValueError as exc:
        raise ParseError("bad CSeq") from exc
    if msg.is_request and method.upper() != msg.method:
        raise ParseError("CSeq method differs from the request method")
    length = msg.get("content-length")
    if length is not None:
        try:
            n = int(length)
        except ValueError as exc:
            raise ParseError("bad Content-Length") from exc
        if len(body) < n:
            msg.body = body
            raise TruncatedBody(msg)
        body = body[:n]                            # extra bytes are discarded (18.3)
    msg.body = body
    return msg


_REQUEST = re.compile(r"^([A-Z]+) (\S+) SIP/2\.0$")
_RESPONSE = re.compile(r"^SIP/2\.0 ([1-6]\d\d)(?: (.*))?$")


def _start_line(line: str) -> SipMessage:
    if m := _REQUEST.match(line):
        return SipMessage(method=m.group(1), uri=m.group(2))
    if m := _RESPONSE.match(line):
        return SipMessage(status=int(m.group(1)), reason=m.group(2) or "")
    raise ParseError(f"bad start line {line[:40]!r}")


def param(value: str, name: str) -> str | None:
    """A header parameter (outside the <uri>): `tag`, `branch`, `lr` (empty string)."""
    tail = value.rsplit(">", 1)[1] if ">" in value else value
    for part in tail.split(";")[1:]:
        key, _, val = part.partition("=")
        if key.strip().lower() == name:
            return val.strip()
    return None


def uri_of(value: str) -> str:
    """The URI inside a name-addr (`"x" <sip:a@b>;tag=1` -> `sip:a@b`) or a bare addr-spec."""
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0]
    return value.split(";", 1)[0].strip()


def user_of(uri: str) -> str:
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    return rest.split("@", 1)[0] if "@" in rest else ""


def host_port(uri: str) -> tuple[str, int]:
    """Where a SIP URI points: `sip:u@h:p;params` -> (h, p); port 5060 when absent."""
    rest = uri.split(":", 1)[1]
    rest = rest.split("@", 1)[1] if "@" in rest else rest
    hostport = re.split(r"[;?>]", rest, maxsplit=1)[0]
    host, _, port = hostport.partition(":")
    return host, int(port) if port else 5060


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(10)}@{host}"


def response(request: SipMessage, status: int, reason: str = "", *, to_tag: str | None = None,
             extra: list[tuple[str, str]] | None = None, body: bytes = b"") -> SipMessage:
    """A response copying Via, From, To (adding our tag if asked), Call-ID and CSeq."""
    headers = [(n, v) for n, v in request.headers if n in ("via", "from", "call-id", "cseq")]
    to = request["to"]
    if to_tag and param(to, "tag") is None:
        to = f"{to};tag={to_tag}"
    headers.insert(2, ("to", to))
    if status > 100 and status < 300:
        headers += [("record-route", rr) for rr in request.all("record-route")]
    headers += extra or []
    return SipMessage(status=status, reason=reason or REASONS.get(status, ""), headers=headers, body=body)
