"""The SIP engine: an RFC 3725 third-party call controller (and, for calls phones dial, a
small B2BUA) implementing :class:`uapi.switch.Switch` over one UDP socket.

Why everything is synchronous inside: each command and each datagram changes call state in
one go on the event loop, without an await in between, so 16 concurrent `end()` of one call
see one winner and send one BYE per leg. Slow things (the domain's event sink, the dialog
store) run in two ordered background queues and never hold up signalling.

Flows (see the brief, sip-engine.md 1.3): first leg gets an offer without m-lines (Flow IV);
later legs get an INVITE without SDP and their 2xx offer waits (deferred ACK) until
`connect` re-INVITEs the other leg with it. Inbound calls live in :mod:`.inbound`.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .. import HOLD, TRANSFER, Accept, EventSink, IncomingHandler, Leg, SwitchEvent
from . import sdp
from .connect import ConnectMixin
from .dialogs import DialogStore, MemoryDialogStore
from .inbound import InboundMixin
from .leg import SipLeg
from .message import SipMessage, host_port, new_call_id, new_tag, param
from .recovery import recovery_request
from .runner import Runner
from .transaction import Deliver, ResponseRetransmitter, TimedOut, Timers
from .transport import UdpTransport

log = logging.getLogger(__name__)
DialPlan = Callable[[str], tuple[str, int]]


def classify(status: int) -> str:
    if status in (486, 600, 603):
        return "busy"
    if status in (480, 408):
        return "no_answer"
    return "failed"


@dataclass
class Call:
    legs: dict[str, SipLeg] = field(default_factory=dict)
    pending_connect: tuple[str, str] | None = None


class SipEngine(ConnectMixin, InboundMixin):
    capabilities = frozenset({HOLD, TRANSFER})

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, proxy: tuple[str, int] | None = None,
                 domain: str = "127.0.0.1", dialogs: DialogStore | None = None, t1: float = 0.5,
                 clock: Callable[[], float] = time.time, dial_plan: DialPlan | None = None) -> None:
        self.host, self.port, self.proxy, self.domain = host, port, proxy, domain
        self.dialogs: DialogStore = dialogs if dialogs is not None else MemoryDialogStore()
        self.clock = clock
        self.dial_plan = dial_plan
        self.timers = Timers(t1=t1)
        self.transport: UdpTransport | None = None
        self.runner = Runner(self._send, clock, self.timers)
        self.calls: dict[str, Call] = {}
        self.legs: dict[str, SipLeg] = {}          # by SIP Call-ID
        self.on_event: EventSink | None = None
        self.on_incoming: IncomingHandler | None = None
        self._events: asyncio.Queue[SwitchEvent] = asyncio.Queue()
        self._store: asyncio.Queue[tuple[str, str, str, dict[str, Any] | None]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._deciding: set[asyncio.Task[None]] = set()   # phones' calls waiting for the domain's answer

    # lifecycle ---------------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None, "bind() first"
        return self.transport.address

    async def bind(self) -> None:
        if self.transport is None:
            self.transport = await UdpTransport.bind(self.host, self.port, self._receive)

    async def start(self, on_event: EventSink, on_incoming: IncomingHandler) -> None:
        self.on_event, self.on_incoming = on_event, on_incoming
        await self.bind()
        self._tasks = [asyncio.create_task(self._deliver_events()), asyncio.create_task(self._write_store())]

    async def stop(self) -> None:
        for call_id, call in list(self.calls.items()):
            self._end_parties(call_id, list(call.legs))
        deadline = asyncio.get_running_loop().time() + 2     # give the phones' answers <= 2 s
        while self._unanswered() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        try:
            await self._flush()
        except TimeoutError:
            log.warning("stop: events or dialog records still queued")
        for task in self._tasks:
            task.cancel()
        self.runner.close()
        if self.transport:
            self.transport.close()
            self.transport = None

    def _unanswered(self) -> bool:
        """Requests still waiting for a final response (our BYEs, CANCELs and their INVITEs)."""
        return any(not isinstance(run.tx, ResponseRetransmitter) and run.tx.state in ("calling", "proceeding", "trying")
                   for run in self.runner.clients.values())

    async def recover(self) -> list[tuple[str, str]]:
        ended = []
        for call_id, party, record in await self.dialogs.all():
            try:
                request, dest = recovery_request(record, self._via_host)
                self.runner.client(request, dest, lambda a: None)
            except (KeyError, ValueError, IndexError):
                log.warning("unusable dialog record for %s/%s", call_id, party)
            await self.dialogs.forget(call_id, party)
            ended.append((call_id, party))
        return ended

    def live_legs(self) -> list[tuple[str, str, str]]:
        return [(cid, p, leg.state) for cid, call in self.calls.items()
                for p, leg in call.legs.items() if leg.live]

    # commands ------------------------------------------------------------------------------
    async def originate(self, call_id: str, leg: Leg, now_ms: int) -> list[SwitchEvent]:
        call = self.calls.setdefault(call_id, Call())
        existing = call.legs.get(leg.party)
        if existing is not None and existing.live:
            return []
        first = not any(other.live for other in call.legs.values())
        self._dial(call_id, leg, offer=None, empty_offer=first)
        return []

    async def connect(self, call_id: str, a: str, b: str) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        call.pending_connect = (a, b)
        self._try_connect(call_id)

    async def set_direction(self, call_id: str, party: str, direction: Literal["inactive", "sendrecv"]) -> None:
        leg = self._leg(call_id, party)
        if leg is None or leg.state != "confirmed":
            return

        def body() -> bytes | None:
            """Computed when the re-INVITE leaves: a pending connect may still set the partner."""
            partner = self._leg(call_id, leg.partner) if leg.partner else None
            base = (partner.remote_sdp if partner and partner.remote_sdp else None) or leg.origin.last_sent
            return sdp.with_direction(base, direction) if base else None

        self._reinvite(leg, body, lambda resp: None)

    async def end(self, call_id: str, parties: Sequence[str]) -> None:
        self._end_parties(call_id, parties)

    # outbound legs ------------------------------------------------------------------------
    @property
    def _via_host(self) -> str:
        host, port = self.address
        return f"{host}:{port}"

    @property
    def _contact(self) -> str:
        return f"sip:uapi@{self._via_host}"

    def _leg(self, call_id: str, party: str | None) -> SipLeg | None:
        call = self.calls.get(call_id)
        return call.legs.get(party) if call and party else None

    def _dial(self, call_id: str, spec: Leg, *, offer: bytes | None, empty_offer: bool,
              relay_for: str | None = None) -> SipLeg:
        uri = f"sip:{spec.target}@{self.domain}"
        dest = self.proxy or (self.dial_plan(spec.target) if self.dial_plan else host_port(uri))
        display, user = _caller_id(spec.caller_id)
        name = f'"{display}" ' if display else ""
        leg = SipLeg(call_id, spec.party, "uac", new_call_id(self.host),
                     local=f"{name}<sip:{user}@{self.domain}>;tag={new_tag()}", remote=f"<{uri}>",
                     contact=self._contact, via_host=self._via_host, remote_target=uri, destination=dest,
                     origin=sdp.Origin(self.host), relay_for=relay_for, invite_busy=True)
        body = leg.origin.empty_offer() if empty_offer else (leg.origin.stamp(offer) if offer else b"")
        invite = leg.request("INVITE", body, cseq=1)
        if self.proxy:
            invite.headers.insert(6, ("route", f"<sip:{self.proxy[0]}:{self.proxy[1]};lr>"))
        if spec.auto_answer:
            invite.headers += [("call-info", f"<sip:{self.domain}>;answer-after=0"),
                               ("alert-info", f"<http://{self.domain}>;info=alert-autoanswer")]
        leg.invite = invite
        self.calls.setdefault(call_id, Call()).legs[spec.party] = leg
        self.legs[leg.sip_call_id] = leg
        leg.invite_run = self.runner.client(invite, dest, lambda a: self._invite_progress(leg, a))
        self._save(leg)
        return leg

    def _invite_progress(self, leg: SipLeg, action: Deliver | TimedOut) -> None:
        if isinstance(action, TimedOut):
            if leg.live:
                self._remote_end(leg, "no_answer", 408)
            return
        resp = action.response
        status = resp.status or 0
        if status < 200:
            if leg.remote_tag is None and param(resp["to"], "tag"):
                leg.remote = resp["to"]
            if leg.state == "calling":
                leg.state = "early"
            if leg.cancel_wanted and not leg.cancel_sent:
                self._send_cancel(leg)
            if leg.live and status > 100 and not leg.ringing_sent:
                leg.ringing_sent = True
                self._emit(leg, "ringing", status)
                self._relay_ringing(leg)
            return
        if status < 300:
            self._invite_answered(leg, resp)
            return
        if leg.live:
            self._relay_failure(leg, status)
            self._remote_end(leg, classify(status), status)
        else:
            self._forget(leg)

    def _invite_answered(self, leg: SipLeg, resp: SipMessage) -> None:
        tag = param(resp["to"], "tag")
        if tag in leg.stray_acks:                             # a 2xx we ACKed and BYEd: ACK it again
            self._send(leg.stray_acks[tag], leg.next_hop())
            return
        if leg.state in ("confirmed", "ended") and leg.answered_sent:
            if tag == leg.remote_tag:
                if leg.last_ack:                              # retransmitted 2xx: same ACK again
                    self._send(leg.last_ack, leg.next_hop())
                return
            self._ack_and_bye(leg, resp)                      # a forked second 2xx
            return
        if not leg.live:                                      # our CANCEL crossed this 2xx
            leg.answered_sent = True
            self._ack_and_bye(leg, resp)
            return
        leg.confirm(resp)
        leg.state = "confirmed"
        leg.answered_sent = True
        leg.remote_sdp = resp.body or None
        if leg.invite is not None and leg.invite.body:
            self._ack(leg, resp.cseq[0], b"")
            leg.invite_busy = False
        else:
            leg.deferred_offer, leg.deferred_cseq = resp.body, resp.cseq[0]
            asyncio.get_running_loop().call_later(16 * self.timers.t1, self._deferred_watchdog, leg, resp.cseq[0])
        self._save(leg)
        self._emit(leg, "answered", resp.status)
        self._relay_answer(leg, resp)
        self._try_connect(leg.call_id)

    def _ack(self, leg: SipLeg, cseq: int, body: bytes) -> None:
        ack = leg.request("ACK", body, cseq=cseq).to_bytes()
        leg.last_ack = ack
        self._send(ack, leg.next_hop())

    def _ack_deferred(self, leg: SipLeg, answer: bytes) -> None:
        if leg.deferred_offer is None:
            return
        self._ack(leg, leg.deferred_cseq, leg.origin.stamp(answer))
        leg.deferred_offer = None
        leg.invite_busy = False
        self._next_reinvite(leg)

    def _inactive_answer(self, leg: SipLeg) -> bytes:
        return sdp.with_direction(leg.deferred_offer or sdp.no_media(0, 0, self.host), "inactive")

    def _deferred_watchdog(self, leg: SipLeg, cseq: int) -> None:
        """The other leg never gave an answer in time: ACK inactive, then BYE (brief 1.3)."""
        if leg.deferred_offer is not None and leg.deferred_cseq == cseq and leg.live:
            self._ack_deferred(leg, self._inactive_answer(leg))
            self._remote_end(leg, "failed", 408, bye=True)   # the network failed the call, not the phone

    def _ack_and_bye(self, leg: SipLeg, resp: SipMessage) -> None:
        ghost = replace(leg, remote=resp["to"], route_set=[], reinvites=[], state="early")
        ghost.confirm(resp)
        ghost.state = "confirmed"
        offer = resp.body if not (leg.invite and leg.invite.body) else b""
        body = ghost.origin.stamp(sdp.with_direction(offer, "inactive")) if offer else b""
        self._ack(ghost, resp.cseq[0], body)
        leg.stray_acks[param(resp["to"], "tag") or ""] = ghost.last_ack or b""
        self._bye(ghost)

    # ending legs ---------------------------------------------------------------------------
    def _end_parties(self, call_id: str, parties: Sequence[str]) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        for party in parties:
            leg = call.legs.get(party)
            if leg is None or not leg.live:
                continue
            was = leg.state
            leg.state = "ended"
            self._forget(leg)
            if leg.role == "uas":
                self._end_inbound(leg, was)
            elif was == "calling":
                leg.cancel_wanted = True                       # sent with the first 1xx
            elif was == "early":
                self._send_cancel(leg)
            else:
                if leg.deferred_offer is not None:
                    self._ack_deferred(leg, self._inactive_answer(leg))
                if leg.invite_busy:
                    # A re-INVITE of ours is pending. Kamailio's workers may forward a BYE sent
                    # now ahead of it, and the phone would then answer the INVITE of a dialog it
                    # has ended and stay in it: the BYE follows the re-INVITE's final response.
                    leg.bye_wanted = True
                else:
                    self._bye(leg)

    def _send_cancel(self, leg: SipLeg) -> None:
        leg.cancel_sent = True
        self.runner.client(leg.cancel(), leg.destination, lambda a: None)
        run = getattr(leg, "invite_run", None)
        if run is not None:
            self.runner.note_cancel(run)

    def _bye(self, leg: SipLeg) -> None:
        self.runner.client(leg.request("BYE"), leg.next_hop(), lambda a: None)

    def _send_wanted_bye(self, leg: SipLeg) -> None:
        """The BYE held back while a re-INVITE was pending (see _end_parties), now that it is over."""
        if leg.bye_wanted:
            leg.bye_wanted = False
            self._bye(leg)

    def _remote_end(self, leg: SipLeg, kind: str, status: int | None, *, bye: bool = False) -> None:
        """The far end (or the network) ended this leg: record it, tell the domain."""
        if not leg.live:
            return
        if bye and leg.state == "confirmed":
            self._bye(leg)
        leg.state = "ended"
        self._forget(leg)
        self._emit(leg, kind, status)

    # events and records ----------------------------------------------------------------------
    def _emit(self, leg: SipLeg, kind: str, status: int | None) -> None:
        if leg.call_id:
            self._events.put_nowait(SwitchEvent(leg.call_id, leg.party, kind,  # type: ignore[arg-type]
                                                int(self.clock() * 1000), status))

    async def _deliver_events(self) -> None:
        while True:
            event = await self._events.get()
            try:
                if self.on_event is not None:
                    await self.on_event(event)
            except Exception:
                log.exception("event sink failed on %s", event)
            finally:
                self._events.task_done()

    def _save(self, leg: SipLeg) -> None:
        if leg.call_id:
            self._store.put_nowait(("save", leg.call_id, leg.party, leg.record()))

    def _forget(self, leg: SipLeg) -> None:
        if leg.call_id:
            self._store.put_nowait(("forget", leg.call_id, leg.party, None))
        # keep the ended leg a while for retransmissions, glare and crossing 2xx, then drop it
        asyncio.get_running_loop().call_later(64 * self.timers.t1 + 5, self._reap, leg)

    def _reap(self, leg: SipLeg) -> None:
        if self.legs.get(leg.sip_call_id) is leg:
            del self.legs[leg.sip_call_id]
        call = self.calls.get(leg.call_id)
        if call is not None and call.legs.get(leg.party) is leg:
            del call.legs[leg.party]
            if not call.legs:
                del self.calls[leg.call_id]

    async def _write_store(self) -> None:
        while True:
            op, call_id, party, record = await self._store.get()
            try:
                if op == "save":
                    assert record is not None
                    await self.dialogs.save(call_id, party, record)
                else:
                    await self.dialogs.forget(call_id, party)
            except Exception:
                log.exception("dialog store %s failed for %s/%s", op, call_id, party)
            finally:
                self._store.task_done()

    async def _flush(self) -> None:
        """Wait until queued events and dialog records are handed over (tests, stop)."""
        if self._tasks:
            await asyncio.wait_for(asyncio.gather(self._events.join(), self._store.join()), 2)

    # datagrams ---------------------------------------------------------------------------------
    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.send(data, addr)

    def _receive(self, msg: SipMessage, addr: tuple[str, int]) -> None:
        if msg.is_request:
            self._on_request(msg, addr)
            return
        if self.runner.on_response(msg):
            return
        leg = self.legs.get(msg.call_id)                      # a 2xx after its transaction ended
        if leg is not None and msg.status and 200 <= msg.status < 300 and msg.cseq[1] == "INVITE":
            if param(msg["to"], "tag") == leg.remote_tag and leg.last_ack:
                self._send(leg.last_ack, leg.next_hop())
            elif leg.answered_sent:
                self._ack_and_bye(leg, msg)


def _caller_id(caller_id: str | None) -> tuple[str | None, str]:
    """"Name <number>" -> ("Name", "number"); "number" -> (None, "number")."""
    if not caller_id:
        return None, "uapi"
    if "<" in caller_id:
        name, number = caller_id.split("<", 1)
        return (name.strip().strip('"') or None), number.split(">", 1)[0].strip() or "uapi"
    return None, caller_id.strip()


__all__ = ["SipEngine", "DialogStore", "MemoryDialogStore", "Accept"]
