"""`--switch sip`: our SIP engine behind a Kamailio this process starts and supervises.

Kamailio registers the phones (digest authentication against the directory's
`sipPassword`s), routes what they dial to the engine and what the engine dials to phones or
the trunk, and tracks every dialog. The engine places the API's calls and bridges the calls
phones dial. With `proxy` set, Kamailio runs apart (`uapi kamailio-config` renders its
configuration) and this process only runs the engine.
"""
from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from uapi.accounts import Directory
from uapi.settings import SipSettings
from uapi.store.sql import SqlDialogStore, SqlStore
from uapi.switch import (
    HOLD,
    LIVE,
    PARK,
    TRANSFER,
    Accept,
    Direction,
    EventSink,
    IncomingCall,
    IncomingHandler,
    Leg,
    Reject,
    SwitchEvent,
)
from uapi.switch.sip.engine import SipEngine
from uapi.switch.sip.kamailio import Kamailio
from uapi.switch.sip.relay import CommandRelay, leg_command

log = logging.getLogger("uapi.sip")
RELAY_CONCURRENCY = 8


class SipSwitch:
    # Park: the parked party is held and the parker's leg ends; the parker's phone is rung back
    # after maxInParking (or UnPark rings sendCallTo) and connected again (3pcc, no parking lot).
    capabilities = frozenset({HOLD, TRANSFER, PARK, LIVE})

    def __init__(self, directory: Directory, settings: SipSettings, store: SqlStore) -> None:
        shared = settings.proxy is not None   # Kamailio runs apart, maybe for several API processes
        self._own_workdir = settings.workdir is None and not shared
        # self.proxy: where phones register and where the engine sends (our Kamailio, or the one run apart).
        self.kamailio: Kamailio | None = None
        if settings.proxy is None:
            workdir = settings.workdir or Path(tempfile.mkdtemp(prefix="uapi-kamailio-"))
            # The engine's address is known only once it is bound; start() fills it in.
            kamailio = Kamailio(directory, listen=settings.listen, engine=settings.engine,
                                trunk=settings.trunk, workdir=workdir)
            self.kamailio, self.proxy = kamailio, kamailio.listen
        else:
            self.proxy = settings.proxy
        if shared and settings.engine[1] == 0:
            raise ValueError("--sip-proxy needs a fixed --sip-engine port")
        # Behind a shared Kamailio the engine's fixed address names its legs in the database, so
        # a restart recovers (hangs up) this process's legs and no other's; and the other
        # processes' commands for calls this engine holds (and ours for theirs) go through the relay.
        me = "%s:%d" % settings.engine
        self.engine = SipEngine(host=settings.engine[0], port=settings.engine[1], proxy=self.proxy,
                                domain=self.proxy[0], dialogs=SqlDialogStore(store, me if shared else None))
        self.relay = CommandRelay(store, me) if shared else None

    async def start(self, on_event: EventSink, on_incoming: IncomingHandler) -> Sequence[tuple[str, str]]:
        await self.engine.bind()
        if self.kamailio is not None:
            self.kamailio.engine = self.engine.address
            await self.kamailio.start()
        if self.relay is not None:
            on_incoming = self._claiming(on_incoming)
        await self.engine.start(on_event, on_incoming)
        print(self.describe(), flush=True)   # beside the banner: where phones, the engine and the RPC are
        abandoned = await self.engine.recover()
        if self.relay is not None:   # after recovery: nothing relayed to our previous life is replayed
            self.relay.start(self._execute)
        if abandoned:
            log.warning("ended %d SIP legs a previous process left on calls", len(abandoned))
        return abandoned

    def live_calls(self) -> Sequence[str]:
        return list(dict.fromkeys(call_id for call_id, _party, _state in self.engine.live_legs()))

    def describe(self) -> str:
        engine = "%s:%d" % self.engine.address
        if self.kamailio is None:
            return f"  sip         engine {engine}, Kamailio run apart at %s:%d" % self.proxy
        kam = self.kamailio
        return (f"  sip         Kamailio pid {kam.pid} on udp:%s:%d, JSON-RPC {kam.rpc.url}, engine {engine}"
                % kam.listen)

    async def stop(self) -> None:
        try:
            if self.relay is not None:
                await self.relay.stop()
            await self.engine.stop()
        finally:
            if self.kamailio is not None:
                await self.kamailio.stop()
                if self._own_workdir:
                    shutil.rmtree(self.kamailio.workdir, ignore_errors=True)

    async def originate(self, call_id: str, leg: Leg, now_ms: int) -> Sequence[SwitchEvent]:
        owner = await self.relay.claim(call_id) if self.relay is not None else None
        if owner is not None and owner != self.relay.me:  # type: ignore[union-attr]
            await self.relay.send(owner, call_id, leg_command(leg), now_ms)  # type: ignore[union-attr]
            return []
        return await self.engine.originate(call_id, leg, now_ms)

    async def connect(self, call_id: str, a: str, b: str) -> None:
        if await self._here(call_id, {"op": "connect", "a": a, "b": b}):
            await self.engine.connect(call_id, a, b)

    async def set_direction(self, call_id: str, party: str, direction: Direction) -> None:
        if await self._here(call_id, {"op": "direction", "party": party, "direction": direction}):
            await self.engine.set_direction(call_id, party, direction)

    async def end(self, call_id: str, parties: Sequence[str]) -> None:
        if await self._here(call_id, {"op": "end", "parties": list(parties)}):
            await self.engine.end(call_id, parties)

    async def end_many(self, ends: Sequence[tuple[str, Sequence[str]]]) -> None:
        """The legs this engine holds end at once (their BYEs and CANCELs are queued, never
        awaited); a call held by another process costs a lookup and a relayed command, so
        those go RELAY_CONCURRENCY at a time, enough to overlap the database's round trips
        without crowding out the pool the API requests use."""
        relayed = []
        for call_id, parties in ends:
            if self.relay is None or call_id in self.engine.calls:
                try:
                    await self.engine.end(call_id, parties)
                except Exception:
                    log.exception("ending call %s failed", call_id)
            else:
                relayed.append((call_id, parties))
        gate = asyncio.Semaphore(RELAY_CONCURRENCY)

        async def end(call_id: str, parties: Sequence[str]) -> None:
            async with gate:
                await self.end(call_id, parties)

        # Every call is ended whatever happens to another: one relay that fails (a database
        # hiccup) must not leave the rest of the batch's phones in calls already written ended.
        results = await asyncio.gather(*(end(call_id, parties) for call_id, parties in relayed), return_exceptions=True)
        for (call_id, _parties), result in zip(relayed, results, strict=True):
            if isinstance(result, BaseException):
                log.error("ending call %s through its owner failed: %r", call_id, result)

    async def _here(self, call_id: str, command: dict[str, Any]) -> bool:
        """True when this engine carries out `command`; otherwise it is relayed to the owner."""
        if self.relay is None or call_id in self.engine.calls:
            return True
        owner = await self.relay.owner(call_id)
        if owner is None or owner == self.relay.me:
            return True
        await self.relay.send(owner, call_id, command, int(time.time() * 1000))
        return False

    async def _execute(self, call_id: str, command: dict[str, Any]) -> None:
        """A command another API process relayed for a call this engine holds."""
        op = command["op"]
        if op == "originate":
            await self.engine.originate(call_id, Leg(**command["leg"]), int(time.time() * 1000))
        elif op == "connect":
            await self.engine.connect(call_id, command["a"], command["b"])
        elif op == "direction":
            await self.engine.set_direction(call_id, command["party"], command["direction"])
        elif op == "end":
            await self.engine.end(call_id, command["parties"])

    def _claiming(self, on_incoming: IncomingHandler) -> IncomingHandler:
        """A call a phone dialled belongs to the engine it reached."""
        async def claim(call: IncomingCall) -> Accept | Reject:
            decision = await on_incoming(call)
            if isinstance(decision, Accept):
                await self.relay.claim(decision.call_id)  # type: ignore[union-attr]
            return decision
        return claim
