"""Drives the sans-IO transactions on the event loop: sends their datagrams, arms their
timers with `loop.call_later`, matches responses to client transactions (top Via branch +
CSeq method, RFC 3261 17.1.3) and keeps our final responses for retransmitted requests
(Timer J = 64*T1)."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .message import SipMessage
from .transaction import Action, Deliver, InviteClient, NonInviteClient, ResponseRetransmitter, Send, TimedOut, Timers

Address = tuple[str, int]
Handler = Callable[[Deliver | TimedOut], None]
Transaction = InviteClient | NonInviteClient | ResponseRetransmitter


class Running:
    __slots__ = ("tx", "dest", "handler", "handle", "key")

    def __init__(self, tx: Transaction, dest: Address, handler: Handler, key: object) -> None:
        self.tx, self.dest, self.handler, self.key = tx, dest, handler, key
        self.handle: asyncio.TimerHandle | None = None


class Runner:
    def __init__(self, send: Callable[[bytes, Address], None], clock: Callable[[], float],
                 timers: Timers) -> None:
        self.send = send
        self.clock = clock
        self.timers = timers
        self.clients: dict[tuple[str, str], Running] = {}
        self.finals: dict[object, Running] = {}          # our INVITE finals awaiting ACK
        self.cache: dict[tuple[str, str], tuple[bytes, Address]] = {}

    # client transactions -------------------------------------------------------------
    def client(self, request: SipMessage, dest: Address, handler: Handler) -> Running:
        now = self.clock()
        tx: Transaction = (InviteClient if request.method == "INVITE" else NonInviteClient)(
            request, self.timers, now)
        key = (request.branch, request.method or "")
        run = Running(tx, dest, handler, key)
        self.clients[key] = run
        self._apply(run, tx.start())
        return run

    def on_response(self, resp: SipMessage) -> bool:
        """Feed a response to its client transaction; False when none matches."""
        try:
            key = (resp.branch, resp.cseq[1])
        except (KeyError, ValueError, IndexError):
            return False
        run = self.clients.get(key)
        if run is None:
            return False
        assert not isinstance(run.tx, ResponseRetransmitter)
        self._apply(run, run.tx.on_response(resp, self.clock()))
        return True

    def note_cancel(self, run: Running) -> None:
        if isinstance(run.tx, InviteClient):
            run.tx.cancel_sent(self.clock())
            self._schedule(run)

    # our final responses to INVITEs --------------------------------------------------
    def final(self, key: object, data: bytes, dest: Address, handler: Handler) -> None:
        old = self.finals.pop(key, None)
        if old and old.handle:
            old.handle.cancel()
        tx = ResponseRetransmitter(data, self.timers, self.clock())
        run = Running(tx, dest, handler, key)
        self.finals[key] = run
        self._apply(run, tx.start())

    def acked(self, key: object) -> bool:
        run = self.finals.pop(key, None)
        if run is None:
            return False
        assert isinstance(run.tx, ResponseRetransmitter)
        run.tx.on_ack()
        if run.handle:
            run.handle.cancel()
        return True

    # response cache for retransmitted requests (Timer J) ------------------------------
    def remember(self, request: SipMessage, data: bytes, dest: Address) -> None:
        key = (request.branch, request.method or "")
        fresh = key not in self.cache
        self.cache[key] = (data, dest)
        if fresh:
            asyncio.get_running_loop().call_later(64 * self.timers.t1, self.cache.pop, key, None)

    def replay(self, request: SipMessage) -> bool:
        hit = self.cache.get((request.branch, request.method or ""))
        if hit is None:
            return False
        self.send(*hit)
        return True

    # plumbing --------------------------------------------------------------------------
    def _apply(self, run: Running, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self.send(action.data, run.dest)
            else:
                run.handler(action)
        self._schedule(run)

    def _schedule(self, run: Running) -> None:
        if run.handle:
            run.handle.cancel()
            run.handle = None
        if run.tx.done:
            table: dict[Any, Running] = self.finals if isinstance(run.tx, ResponseRetransmitter) else self.clients
            if table.get(run.key) is run:
                del table[run.key]
            return
        deadline = run.tx.deadline
        if deadline is not None:
            delay = max(0.0, deadline - self.clock())
            run.handle = asyncio.get_running_loop().call_later(delay, self._fire, run)

    def _fire(self, run: Running) -> None:
        run.handle = None
        self._apply(run, run.tx.on_timer(self.clock()))

    def close(self) -> None:
        for run in [*self.clients.values(), *self.finals.values()]:
            if run.handle:
                run.handle.cancel()
        self.clients.clear()
        self.finals.clear()
