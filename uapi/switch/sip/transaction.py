"""Sans-IO SIP transactions over UDP (RFC 3261 section 17, RFC 6026 Accepted state).

No I/O and no clock inside: each method takes `now` and returns actions (`Send`, `Deliver`,
`TimedOut`); `deadline` says when `on_timer(now)` is due next. The engine maps that to
`loop.call_later`; unit tests step a fake clock, so retransmission schedules are exact.
"""
from __future__ import annotations

from dataclasses import dataclass

from .message import SipMessage


@dataclass(frozen=True)
class Send:
    data: bytes


@dataclass(frozen=True)
class Deliver:
    response: SipMessage


@dataclass(frozen=True)
class TimedOut:
    cancelled: bool = False     # 64*T1 after our CANCEL with no final: treat as cancelled


Action = Send | Deliver | TimedOut


@dataclass
class Timers:
    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    timer_d: float = 32.0


class InviteClient:
    """INVITE client transaction: Calling -> Proceeding -> Accepted | Completed -> Terminated.

    Timer A retransmits only in Calling (doubling, no T2 cap); Timer B (64*T1) too: once a
    provisional arrived, how long a leg rings is the controller's business (CANCEL).
    A non-2xx final is ACKed here (same branch); a 2xx goes to the TU, which ACKs it.
    """

    def __init__(self, request: SipMessage, timers: Timers, now: float) -> None:
        self.request = request
        self.data = request.to_bytes()
        self.timers = timers
        self.state = "calling"
        self.interval = timers.t1
        self.retransmit_at: float | None = now + timers.t1
        self.end_at: float | None = now + 64 * timers.t1     # Timer B
        self.cancel_end_at: float | None = None
        self.ack: bytes | None = None

    def start(self) -> list[Action]:
        return [Send(self.data)]

    @property
    def deadline(self) -> float | None:
        times = [t for t in (self.retransmit_at, self.end_at, self.cancel_end_at) if t is not None]
        return min(times) if times else None

    @property
    def done(self) -> bool:
        return self.state == "terminated"

    def cancel_sent(self, now: float) -> None:
        """Our CANCEL left: without a final within 64*T1 the INVITE counts as cancelled."""
        if self.state in ("calling", "proceeding"):
            self.cancel_end_at = now + 64 * self.timers.t1

    def on_response(self, resp: SipMessage, now: float) -> list[Action]:
        status = resp.status or 0
        if self.state in ("calling", "proceeding"):
            if status < 200:
                self.state = "proceeding"
                self.retransmit_at = self.end_at = None
                return [Deliver(resp)]
            self.retransmit_at = None
            self.cancel_end_at = None
            if status < 300:
                self.state = "accepted"
                self.end_at = now + 64 * self.timers.t1          # Timer M
                return [Deliver(resp)]
            self.state = "completed"
            self.end_at = now + self.timers.timer_d
            self.ack = self._non2xx_ack(resp)
            return [Send(self.ack), Deliver(resp)]
        if self.state == "accepted" and 200 <= status < 300:
            return [Deliver(resp)]                                # TU re-sends its ACK
        if self.state == "completed" and status >= 300 and self.ack:
            return [Send(self.ack)]
        return []

    def on_timer(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if self.cancel_end_at is not None and now >= self.cancel_end_at:
            self._terminate()
            return [TimedOut(cancelled=True)]
        if self.end_at is not None and now >= self.end_at:
            timed_out = self.state == "calling"
            self._terminate()
            return [TimedOut()] if timed_out else []
        if self.retransmit_at is not None and now >= self.retransmit_at:
            self.interval *= 2
            self.retransmit_at = now + self.interval
            actions.append(Send(self.data))
        return actions

    def _terminate(self) -> None:
        self.state = "terminated"
        self.retransmit_at = self.end_at = self.cancel_end_at = None

    def _non2xx_ack(self, resp: SipMessage) -> bytes:
        req = self.request
        headers = [("via", req.all("via")[0]), ("max-forwards", "70"), ("from", req["from"]),
                   ("to", resp["to"]), ("call-id", req.call_id), ("cseq", f"{req.cseq[0]} ACK")]
        headers += [("route", r) for r in req.all("route")]
        return SipMessage(method="ACK", uri=req.uri, headers=headers).to_bytes()


class NonInviteClient:
    """Non-INVITE client transaction (BYE, CANCEL, OPTIONS): Timers E, F, K."""

    def __init__(self, request: SipMessage, timers: Timers, now: float) -> None:
        self.request = request
        self.data = request.to_bytes()
        self.timers = timers
        self.state = "trying"
        self.interval = timers.t1
        self.retransmit_at: float | None = now + timers.t1
        self.end_at: float | None = now + 64 * timers.t1     # Timer F

    def start(self) -> list[Action]:
        return [Send(self.data)]

    @property
    def deadline(self) -> float | None:
        times = [t for t in (self.retransmit_at, self.end_at) if t is not None]
        return min(times) if times else None

    @property
    def done(self) -> bool:
        return self.state == "terminated"

    def on_response(self, resp: SipMessage, now: float) -> list[Action]:
        status = resp.status or 0
        if self.state not in ("trying", "proceeding"):
            return []
        if status < 200:
            self.state = "proceeding"
            self.interval = self.timers.t2
            return []
        self.state = "completed"
        self.retransmit_at = None
        self.end_at = now + self.timers.t4                     # Timer K
        return [Deliver(resp)]

    def on_timer(self, now: float) -> list[Action]:
        if self.end_at is not None and now >= self.end_at:
            timed_out = self.state in ("trying", "proceeding")
            self.state = "terminated"
            self.retransmit_at = self.end_at = None
            return [TimedOut()] if timed_out else []
        if self.retransmit_at is not None and now >= self.retransmit_at:
            if self.state == "trying":
                self.interval = min(self.interval * 2, self.timers.t2)
            self.retransmit_at = now + self.interval
            return [Send(self.data)]
        return []


class ResponseRetransmitter:
    """Our final response to an INVITE, re-sent until the ACK comes (Timer G, capped at T2);
    after 64*T1 without an ACK, `TimedOut` (Timer H; for a 2xx, RFC 3261 13.3.1.4: BYE)."""

    def __init__(self, data: bytes, timers: Timers, now: float) -> None:
        self.data = data
        self.timers = timers
        self.interval = timers.t1
        self.retransmit_at: float | None = now + timers.t1
        self.end_at: float | None = now + 64 * timers.t1
        self.acked = False

    def start(self) -> list[Action]:
        return [Send(self.data)]

    @property
    def deadline(self) -> float | None:
        times = [t for t in (self.retransmit_at, self.end_at) if t is not None]
        return min(times) if times else None

    @property
    def done(self) -> bool:
        return self.acked or self.end_at is None

    def on_ack(self) -> None:
        self.acked = True
        self.retransmit_at = self.end_at = None

    def on_timer(self, now: float) -> list[Action]:
        if self.end_at is not None and now >= self.end_at:
            self.retransmit_at = self.end_at = None
            return [TimedOut()]
        if self.retransmit_at is not None and now >= self.retransmit_at:
            self.interval = min(self.interval * 2, self.timers.t2)
            self.retransmit_at = now + self.interval
            return [Send(self.data)]
        return []
