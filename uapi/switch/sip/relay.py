"""Several API processes, one Kamailio: switch commands travel to the engine that holds the call.

Each API process runs its own engine (its own `--sip-engine` address). A call's legs live in
the engine that placed it (an API create) or received it (a phone dialled); that engine is the
call's owner, written once in `sip_owners`. A hang-up or an action may land on any process:
when its engine does not hold the call, the commands are written to `switch_commands` for the
owner, which polls for them every `interval` seconds and carries them out. Events need no
relay: every engine applies its own to the shared database.

Why a table and a poll rather than a message bus: the database is already shared and
transactional, a command survives its sender dying, and the delay (one poll interval) is far
below what a person hanging up notices. PostgreSQL's LISTEN/NOTIFY could shorten it later.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, delete, insert, select
from sqlalchemy.exc import IntegrityError

from uapi.store.sql import JSON_DOC, SqlStore, metadata
from uapi.switch import Leg

log = logging.getLogger("uapi.sip")
STALE_AFTER_MS = 10_000

sip_owners = Table(
    "sip_owners",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("engine", String(80), nullable=False),
)

switch_commands = Table(
    "switch_commands",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("engine", String(80), nullable=False),
    Column("call_id", String(64), nullable=False),
    Column("command", JSON_DOC, nullable=False),
    Column("created", BigInteger, nullable=False),
    Index("ix_switch_commands_engine", "engine", "id"),
)


class CommandRelay:
    def __init__(self, store: SqlStore, me: str, interval: float = 0.05) -> None:
        self.store = store
        self.me = me
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def claim(self, call_id: str) -> str:
        """The call's owner; this engine when nobody owned it yet."""
        try:
            await self.store.db.write(lambda conn: conn.execute(insert(sip_owners).values(call_id=call_id,
                                                                                          engine=self.me)))
            return self.me
        except IntegrityError:
            return await self.owner(call_id) or self.me

    async def owner(self, call_id: str) -> str | None:
        query = select(sip_owners.c.engine).where(sip_owners.c.call_id == call_id)
        owner: str | None = await self.store.db.read(lambda conn: conn.execute(query).scalar())
        return owner

    async def send(self, engine: str, call_id: str, command: dict[str, Any], now_ms: int) -> None:
        row = insert(switch_commands).values(engine=engine, call_id=call_id, command=command, created=now_ms)
        await self.store.db.write(lambda conn: conn.execute(row))

    async def _forget(self, command_id: int) -> None:
        done = delete(switch_commands).where(switch_commands.c.id == command_id)
        await self.store.db.write(lambda conn: conn.execute(done))

    def start(self, execute: Any) -> None:
        self._task = asyncio.create_task(self._poll(execute), name="sip-command-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self, execute: Any) -> None:
        mine = (select(switch_commands).where(switch_commands.c.engine == self.me)
                .order_by(switch_commands.c.id).limit(100))
        while True:
            try:
                rows = await self.store.db.read(lambda conn: conn.execute(mine).all())
                for row in rows:
                    # A command older than the relay's patience belongs to a call that has moved
                    # on (or to this engine's previous life, whose legs were recovered): drop it.
                    if row.created >= int(time.time() * 1000) - STALE_AFTER_MS:
                        try:
                            await execute(row.call_id, row.command)
                        except Exception:   # one bad command must not hold up the others
                            log.exception("relayed command %s for call %s failed", row.command, row.call_id)
                    await self._forget(row.id)   # deleted only once carried out
            except Exception:   # a database hiccup must not stop the relay; the next round retries
                log.exception("relaying switch commands failed")
            await asyncio.sleep(self.interval)


def leg_command(leg: Leg) -> dict[str, Any]:
    return {"op": "originate", "leg": {"party": leg.party, "target": leg.target, "caller_id": leg.caller_id,
                                       "auto_answer": leg.auto_answer}}
