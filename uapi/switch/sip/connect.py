"""Connecting two legs and changing a leg's media: re-INVITEs, one at a time per dialog.

`connect` takes the offer a later leg answered with (its ACK deferred, RFC 3725 flow IV),
re-INVITEs the other leg with it, and ACKs the first with that leg's answer. Hold and resume
are re-INVITEs with the partner's SDP marked `inactive`, then plain again. At most one INVITE
transaction runs per dialog (RFC 3261 14.1): the rest queue, and a 491 retries after a random
wait. Mixed into :class:`SipEngine`, whose state it uses.
"""
from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from .leg import SipLeg
from .message import SipMessage
from .transaction import Deliver, TimedOut

if TYPE_CHECKING:
    from .engine_state import EngineState


class ConnectMixin:
    def _try_connect(self: EngineState, call_id: str) -> None:
        call = self.calls.get(call_id)
        if call is None or call.pending_connect is None:
            return
        a, b = (call.legs.get(p) for p in call.pending_connect)
        if a is None or b is None or not a.live or not b.live:
            call.pending_connect = None
            return
        if a.state != "confirmed" or b.state != "confirmed":
            return                                            # done when both answered
        if b.deferred_offer is None and a.deferred_offer is not None:
            a, b = b, a
        if b.deferred_offer is None:
            if not b.invite_busy:                             # ask b for a fresh offer
                self._reinvite(b, None, lambda resp: self._try_connect(call_id))
            return
        call.pending_connect = None
        offerer = b

        def answered(resp: SipMessage | None) -> None:
            if resp is not None and resp.body:
                a.partner, offerer.partner = offerer.party, a.party
                self._ack_deferred(offerer, resp.body)
            elif offerer.live:
                self._ack_deferred(offerer, self._inactive_answer(offerer))
                self._remote_end(offerer, "failed", None, bye=True)   # the media could not be connected

        self._reinvite(a, offerer.deferred_offer, answered)

    def _reinvite(self: EngineState, leg: SipLeg, body: bytes | None | Callable[[], bytes | None],
                  done: Callable[[SipMessage | None], None]) -> None:
        leg.reinvites.append((body, done))
        if not leg.invite_busy:
            self._next_reinvite(leg)

    def _next_reinvite(self: EngineState, leg: SipLeg) -> None:
        if leg.invite_busy or not leg.reinvites or not leg.live:
            return
        body, done = leg.reinvites.pop(0)
        if callable(body):
            body = body()
            if body is None:                                  # nothing to offer yet: skip it
                done(None)
                self._next_reinvite(leg)
                return
        leg.invite_busy = True
        stamped = leg.origin.stamp(body) if body else b""
        request = leg.request("INVITE", stamped)
        self._save(leg)
        self.runner.client(request, leg.next_hop(), lambda a: self._reinvite_progress(leg, request, body, done, a))

    def _reinvite_progress(self: EngineState, leg: SipLeg, request: SipMessage, body: bytes | None,
                           done: Callable[[SipMessage | None], None], action: Deliver | TimedOut) -> None:
        resp = action.response if isinstance(action, Deliver) else None
        status = resp.status if resp else 408
        assert status is not None
        if status < 200:
            return
        if 200 <= status < 300 and resp is not None:
            if leg.last_ack and leg.deferred_cseq != request.cseq[0] and leg.answered_cseq == request.cseq[0]:
                self._send(leg.last_ack, leg.next_hop())     # retransmitted 2xx
                return
            leg.answered_cseq = request.cseq[0]
            leg.confirm(resp)
            if not leg.live:
                self._ack(leg, request.cseq[0], b"")
                self._send_wanted_bye(leg)
                return
            leg.remote_sdp = resp.body or leg.remote_sdp
            if body:
                self._ack(leg, request.cseq[0], b"")
                leg.invite_busy = False
            else:
                leg.deferred_offer, leg.deferred_cseq = resp.body, request.cseq[0]
            done(resp)
            self._next_reinvite(leg)
            return
        leg.invite_busy = False
        if status == 491 and leg.live:
            delay = random.randint(210, 400) / 100
            leg.reinvites.insert(0, (body, done))
            leg.invite_busy = True
            asyncio.get_running_loop().call_later(delay, self._retry_reinvite, leg)
            return
        if status in (481, 408):   # the dialog is gone (RFC 3261 12.2.1.2): a failure, not a hang-up
            leg.bye_wanted = False
            if leg.live:
                self._remote_end(leg, "failed", status, bye=True)
        self._send_wanted_bye(leg)
        done(None)
        self._next_reinvite(leg)

    def _retry_reinvite(self: EngineState, leg: SipLeg) -> None:
        leg.invite_busy = False
        self._send_wanted_bye(leg)   # ended while waiting to retry: nothing is pending any more
        self._next_reinvite(leg)

