"""One leg of a call: a SIP dialog the engine holds with one phone, and the requests it sends.

State: calling -> early -> confirmed -> ended ("ended" is final). Flags: `cancel_wanted`
(CANCEL waits for the first provisional, RFC 3261 9.1) and `deferred_offer` (the 3pcc ACK
that waits for the other phone's answer). The builders follow RFC 3261 section 12 for
in-dialog requests: Request-URI = remote target, Route = route set (loose routing only),
CSeq + 1 per new request; CANCEL copies the INVITE's top Via (same branch) and CSeq number.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .message import SipMessage, host_port, new_branch, param, uri_of
from .sdp import Origin

LegState = Literal["calling", "early", "confirmed", "ended"]
Role = Literal["uac", "uas"]
ReinviteBody = bytes | None | Callable[[], bytes | None]   # an SDP, none, or one built when sent


@dataclass
class SipLeg:
    call_id: str                      # the domain's call
    party: str
    role: Role
    sip_call_id: str
    local: str                        # our From (UAC) / To (UAS) value, with our tag
    remote: str                       # the phone's name-addr, with its tag once known
    contact: str                      # our Contact URI
    via_host: str                     # "host:port" for our Via
    remote_target: str                # Request-URI for in-dialog requests
    destination: tuple[str, int]      # next hop while there is no route set
    route_set: list[str] = field(default_factory=list)
    local_cseq: int = 1
    remote_cseq: int = 0
    state: LegState = "calling"
    invite: SipMessage | None = None  # our initial INVITE (CANCEL and non-2xx ACK need it)
    origin: Origin = field(default_factory=lambda: Origin("127.0.0.1"))
    remote_sdp: bytes | None = None   # the phone's last SDP
    cancel_wanted: bool = False
    ringing_sent: bool = False
    answered_sent: bool = False
    deferred_offer: bytes | None = None   # the phone's 2xx offer, its ACK not sent yet
    deferred_cseq: int = 0
    last_ack: bytes | None = None
    partner: str | None = None
    invite_busy: bool = False         # one INVITE transaction per dialog at a time
    bye_wanted: bool = False          # ended while our re-INVITE was pending: the BYE follows its answer
    # queued (body, done) while one is pending
    reinvites: list[tuple[ReinviteBody, Callable[[SipMessage | None], None]]] = field(default_factory=list)
    relay_for: str | None = None      # inbound B2BUA: the caller party this leg answers for
    server_invite: SipMessage | None = None         # UAS: the phone's INVITE
    reply_to: tuple[str, int] | None = None         # UAS: where that INVITE came from
    final_sent: bool = False          # UAS: a final response to the INVITE left
    cancel_sent: bool = False
    answered_cseq: int = 0            # CSeq of the last re-INVITE whose 2xx we took
    invite_run: object = None         # the initial INVITE's running client transaction
    # ACKs sent for 2xx answers we did not keep (a 2xx crossing our CANCEL, a forked second
    # 2xx), by the answer's To tag: a retransmission of that 2xx gets the same ACK, no new BYE.
    stray_acks: dict[str, bytes] = field(default_factory=dict)

    @property
    def local_tag(self) -> str:
        return param(self.local, "tag") or ""

    @property
    def remote_tag(self) -> str | None:
        return param(self.remote, "tag")

    @property
    def live(self) -> bool:
        return self.state != "ended"

    def next_hop(self) -> tuple[str, int]:
        if self.route_set:
            return host_port(uri_of(self.route_set[0]))
        if self.state == "confirmed" or self.role == "uas":
            try:
                return host_port(self.remote_target)
            except (IndexError, ValueError):
                pass
        return self.destination

    def _headers(self, branch: str, cseq: int, method: str) -> list[tuple[str, str]]:
        return [("via", f"SIP/2.0/UDP {self.via_host};rport;branch={branch}"), ("max-forwards", "70"),
                ("from", self.local), ("to", self.remote), ("call-id", self.sip_call_id), ("cseq", f"{cseq} {method}")]

    def request(self, method: str, body: bytes = b"", *, cseq: int | None = None,
                branch: str | None = None) -> SipMessage:
        """An in-dialog request (BYE, re-INVITE, ACK for a 2xx)."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        headers = self._headers(branch or new_branch(), cseq, method)
        headers += [("route", r) for r in self.route_set]
        if method == "INVITE":
            headers += [("contact", f"<{self.contact}>"), ("allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")]
        if body:
            headers.append(("content-type", "application/sdp"))
        return SipMessage(method=method, uri=self.remote_target, headers=headers, body=body)

    def cancel(self) -> SipMessage:
        assert self.invite is not None
        inv = self.invite
        headers = [("via", inv.all("via")[0]), ("max-forwards", "70"), ("from", inv["from"]),
                   ("to", inv["to"]), ("call-id", inv.call_id), ("cseq", f"{inv.cseq[0]} CANCEL")]
        headers += [("route", r) for r in inv.all("route")]
        return SipMessage(method="CANCEL", uri=inv.uri, headers=headers)

    def confirm(self, resp: SipMessage) -> None:
        """Take the dialog's identity from a 2xx (or a tagged 1xx): remote tag, target, routes."""
        tag = param(resp["to"], "tag")
        if tag and self.remote_tag is None:
            self.remote = resp["to"]
        contact = resp.get("contact")
        if contact:
            self.remote_target = uri_of(contact)
        rr = resp.all("record-route")
        if rr and resp.status and resp.status < 300 and (self.state != "confirmed"):
            self.route_set = list(reversed(rr))

    def record(self) -> dict[str, Any]:
        """What a later process needs to end this leg (BYE when confirmed, CANCEL when early)."""
        rec = {"sip_call_id": self.sip_call_id, "role": self.role, "state": self.state,
               "local": self.local, "remote": self.remote, "remote_target": self.remote_target,
               "route_set": self.route_set, "local_cseq": self.local_cseq,
               "destination": list(self.destination)}
        if self.invite is not None and self.state in ("calling", "early"):
            rec["invite"] = self.invite.to_bytes().decode()
        return rec
