"""Requests phones send to the engine: calls they dial (B2BUA pass-through) and in-dialog
requests (BYE, re-INVITE, OPTIONS ...). Mixed into :class:`SipEngine`, whose state it uses.

A dialled call: 100 Trying at once, then the domain decides (`on_incoming`). Accept makes the
inbound leg party `caller` of the call and dials the callee with the caller's offer; the
callee's progress is relayed back (180, 200 with its answer, or a matching final).
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .. import Accept, IncomingCall, Leg, Reject
from . import sdp
from .leg import SipLeg
from .message import ALLOW, SipMessage, new_tag, param, response, uri_of, user_of
from .transaction import Deliver, TimedOut

if TYPE_CHECKING:
    from .engine import Call
    from .engine_state import EngineState

log = logging.getLogger(__name__)
ANSWER_OK = ("OPTIONS", "INFO", "NOTIFY", "UPDATE", "PRACK", "MESSAGE")


class InboundMixin:
    # dispatch ------------------------------------------------------------------------------
    def _on_request(self: EngineState, msg: SipMessage, addr: tuple[str, int]) -> None:
        method = msg.method or ""
        if method == "ACK":
            self._on_ack(msg)
            return
        if self.runner.replay(msg):                          # retransmission: same answer
            return
        if method == "CANCEL":
            self._on_cancel(msg, addr)
            return
        to_tag = param(msg["to"], "tag")
        if to_tag is None:
            if method == "INVITE":
                self._on_new_invite(msg, addr)
            elif method == "OPTIONS":
                self._reply(msg, 200, addr, extra=[("allow", ALLOW)])
            else:
                self._reply(msg, 481 if method == "BYE" else 405, addr, extra=[("allow", ALLOW)])
            return
        leg = self.legs.get(msg.call_id)
        if leg is None or leg.local_tag != to_tag:
            self._reply(msg, 481, addr)
            return
        if method == "BYE":
            self._reply(msg, 200, addr)                      # also in BYE glare (RFC 5407 3.2.1)
            if leg.live:
                self._remote_end(leg, "hangup", None)
        elif method == "INVITE":
            self._on_reinvite(leg, msg, addr)
        elif method in ANSWER_OK:
            self._reply(msg, 200, addr)
        elif method == "REFER":
            self._reply(msg, 405, addr, extra=[("allow", ALLOW)])
        else:
            self._reply(msg, 501, addr)

    def _reply(self: EngineState, msg: SipMessage, status: int, addr: tuple[str, int], *,
               extra: list[tuple[str, str]] | None = None, to_tag: str | None = None) -> None:
        data = response(msg, status, to_tag=to_tag or new_tag(), extra=extra).to_bytes()
        self._send(data, addr)
        if status >= 200:
            self.runner.remember(msg, data, addr)

    # a phone dials ----------------------------------------------------------------------------
    def _on_new_invite(self: EngineState, msg: SipMessage, addr: tuple[str, int]) -> None:
        if msg.call_id in self.legs:                         # a retransmission before our 100 landed
            return
        if self.proxy is not None and addr != self.proxy:
            # Only Kamailio authenticates phones and vouches for X-UAPI-Caller; anyone else
            # reaching the engine's port directly could call out as any extension.
            self._reply(msg, 403, addr)
            return
        contact = msg.get("contact") or msg["from"]
        leg = SipLeg("", "", "uas", msg.call_id, local=f"{msg['to']};tag={new_tag()}", remote=msg["from"],
                     contact=self._contact, via_host=self._via_host, remote_target=uri_of(contact),
                     destination=addr, route_set=msg.all("record-route"), remote_cseq=msg.cseq[0],
                     state="early", origin=sdp.Origin(self.host), remote_sdp=msg.body or None,
                     server_invite=msg, reply_to=addr)
        self.legs[msg.call_id] = leg
        trying = response(msg, 100).to_bytes()
        self._send(trying, addr)
        self.runner.remember(msg, trying, addr)
        caller = (msg.get("x-uapi-caller") or user_of(uri_of(msg["from"]))).strip()
        dialled = user_of(msg.uri or "")
        task = asyncio.get_running_loop().create_task(self._decide(leg, IncomingCall(caller, dialled)))
        self._deciding.add(task)                     # the loop keeps only weak references to tasks
        task.add_done_callback(self._deciding.discard)

    async def _decide(self: EngineState, leg: SipLeg, incoming: IncomingCall) -> None:
        try:
            assert self.on_incoming is not None
            decision = await self.on_incoming(incoming)
        except Exception:
            log.exception("on_incoming failed for %s", incoming)
            decision = Reject(500, "Server Internal Error")
        if isinstance(decision, Reject):
            if leg.live:
                leg.state = "ended"
                self._final_to_caller(leg, decision.status, decision.reason)
            self._forget(leg)                                # reaped once retransmissions are over
            return
        assert isinstance(decision, Accept)
        leg.call_id, leg.party = decision.call_id, incoming.caller
        self.calls.setdefault(decision.call_id, self._new_call()).legs[incoming.caller] = leg
        if not leg.live:                                     # the caller cancelled meanwhile
            self._emit(leg, "hangup", 487)
            self._forget(leg)
            return
        callee: Leg = decision.callee
        offer = leg.remote_sdp
        dialled = self._dial(decision.call_id, callee, offer=offer, empty_offer=offer is None,
                             relay_for=incoming.caller)
        dialled.partner, leg.partner = incoming.caller, callee.party

    def _new_call(self: EngineState) -> Call:
        from .engine import Call
        return Call()

    def _final_to_caller(self: EngineState, leg: SipLeg, status: int, reason: str = "",
                         body: bytes = b"") -> None:
        """Our final response to the phone's INVITE, re-sent until its ACK (Timer G/H)."""
        assert leg.server_invite is not None and leg.reply_to is not None
        extra = [("contact", f"<{leg.contact}>")] if status < 300 else []
        if body:
            extra.append(("content-type", "application/sdp"))
        resp = response(leg.server_invite, status, reason, to_tag=leg.local_tag, extra=extra, body=body)
        data = resp.to_bytes()
        leg.final_sent = True
        self.runner.remember(leg.server_invite, data, leg.reply_to)
        self.runner.final(leg.sip_call_id, data, leg.reply_to, lambda a: self._no_ack(leg, status, a))

    def _no_ack(self: EngineState, leg: SipLeg, status: int, action: Deliver | TimedOut) -> None:
        """64*T1 without an ACK for our 2xx: the caller is gone; BYE it and its partner."""
        if isinstance(action, TimedOut) and 200 <= status < 300 and leg.live:
            partner = self._leg(leg.call_id, leg.partner)
            self._remote_end(leg, "failed", 408, bye=True)
            if partner is not None:
                self._remote_end(partner, "failed", 408, bye=True)

    def _on_ack(self: EngineState, msg: SipMessage) -> None:
        self.runner.acked(msg.call_id)

    def _on_cancel(self: EngineState, msg: SipMessage, addr: tuple[str, int]) -> None:
        leg = self.legs.get(msg.call_id)
        invite = leg.server_invite if leg else None
        if leg is None or invite is None or invite.branch != msg.branch:
            self._reply(msg, 481, addr)
            return
        self._reply(msg, 200, addr, to_tag=leg.local_tag)
        if leg.final_sent:
            return
        was_live = leg.live
        leg.state = "ended"
        self._final_to_caller(leg, 487)
        if was_live and leg.call_id:
            self._emit(leg, "hangup", 487)
        if leg.call_id:   # before the domain decided, _decide forgets the leg once it has
            self._forget(leg)

    def _on_reinvite(self: EngineState, leg: SipLeg, msg: SipMessage, addr: tuple[str, int]) -> None:
        """A phone's re-INVITE: 491 while ours is pending, else 200 with the SDP we last sent."""
        if leg.invite_busy:
            self._reply(msg, 491, addr)
            return
        if msg.get("contact"):
            leg.remote_target = uri_of(msg["contact"])
        body = leg.origin.last_sent or b""
        extra = [("contact", f"<{leg.contact}>")] + ([("content-type", "application/sdp")] if body else [])
        data = response(msg, 200, to_tag=leg.local_tag, extra=extra, body=body).to_bytes()
        self.runner.remember(msg, data, addr)
        self.runner.final(msg.call_id, data, addr, lambda a: None)

    # relaying the callee to the caller ----------------------------------------------------------
    def _caller_of(self: EngineState, callee: SipLeg) -> SipLeg | None:
        if callee.relay_for is None:
            return None
        caller = self._leg(callee.call_id, callee.relay_for)
        return caller if caller is not None and caller.live and not caller.final_sent else None

    def _relay_ringing(self: EngineState, callee: SipLeg) -> None:
        caller = self._caller_of(callee)
        if caller is not None and not caller.ringing_sent:
            caller.ringing_sent = True
            assert caller.server_invite is not None and caller.reply_to is not None
            ringing = response(caller.server_invite, 180, to_tag=caller.local_tag,
                               extra=[("contact", f"<{caller.contact}>")])
            self._send(ringing.to_bytes(), caller.reply_to)

    def _relay_answer(self: EngineState, callee: SipLeg, resp: SipMessage) -> None:
        caller = self._caller_of(callee)
        if caller is None:
            return
        answer = caller.origin.stamp(resp.body) if resp.body else b""
        caller.state = "confirmed"
        self._save(caller)
        self._final_to_caller(caller, 200, body=answer)

    def _relay_failure(self: EngineState, callee: SipLeg, status: int) -> None:
        caller = self._caller_of(callee)
        if caller is None:
            return
        kind = self._classify(status)
        mapped = 486 if kind == "busy" else 480 if kind == "no_answer" else status if 400 <= status < 700 else 503
        caller.state = "ended"
        self._forget(caller)
        self._final_to_caller(caller, mapped)

    def _classify(self: EngineState, status: int) -> str:
        from .engine import classify
        return classify(status)

    def _end_inbound(self: EngineState, leg: SipLeg, was: str) -> None:
        """The domain ends the inbound leg: 487 while it is unanswered, BYE once answered."""
        if was == "confirmed":
            self.runner.acked(leg.sip_call_id)              # stop re-sending our 2xx
            self._bye(leg)
        elif not leg.final_sent:
            self._final_to_caller(leg, 487)
