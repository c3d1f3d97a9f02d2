"""Phone calls: placing them, selecting them, and writing each change exactly once.

A call is one JSON document (built by `uapi.call_document`). `uapi.lifecycle` moves a document through time and `uapi.actions` applies the update
actions, both as pure functions; :class:`CallService` reads, applies and writes with the
store's conditional update, retrying on a lost race, so of concurrent writers one wins.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any

from uapi import actions
from uapi.accounts import EXTENDED_NUMBER, Directory, Extension, Principal, User, in_scope
from uapi.call_alarms import DeadlineAlarms
from uapi.call_document import (  # noqa: F401  (CallOptions: part of this module's interface)
    KINDS,
    CallOptions,
    Party,
    call_state,
    listify,
    members_of,
    new_document,
    parse_party,
)
from uapi.call_types import CallDoc, CallKind, Role, from_json, to_json
from uapi.errors import UapiError, bad_request
from uapi.lifecycle import advance, apply_event, close_legs, digits, end_after_restart, next_event
from uapi.store.port import CallStore, ListQuery, StoredCall
from uapi.switch import BRIDGE, LIVE, OFF_HOOK_SOURCE, Accept, IncomingCall, Leg, Reject, Switch, SwitchEvent
from uapi.switch_commands import commands_between
from uapi.turns import Turns

log = logging.getLogger("uapi")
MAX_RACE_RETRIES = 100
SWEEP_BATCH = 200
# Calls a bulk hang-up writes per transaction: one write of 1000 takes the SQLite writer for
# tens of milliseconds, short enough that other requests' writes barely notice it.
BULK_BATCH = 1000
# Batches of one bulk hang-up under way at once (see CallService._hang_up_all).
BULK_BATCHES_IN_FLIGHT = 2


class CallService:
    def __init__(self, directory: Directory, store: CallStore, switch: Switch,
                 clock: Callable[[], float], new_id: Callable[[], str]) -> None:
        self.directory = directory
        self.store = store
        self.switch = switch
        self.clock = clock
        self.new_id = new_id
        # The sweeper writes passed deadlines down within a second, which is plenty when
        # only the database has to learn of them; a real phone must hear its CANCEL or BYE at
        # the deadline itself, so with a real switch each call also gets an in-process alarm.
        self.alarms = DeadlineAlarms(clock, self._write_due) if LIVE in switch.capabilities else None
        self.turns = Turns()   # see uapi.turns
        self._unfinished: set[asyncio.Task[None]] = set()   # bulk hang-up batches under way

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- create --------------------------------------------------------------------

    async def create(self, kind: CallKind, user: User, charged: Extension, body: dict[str, Any],
                     options: CallOptions, principal: Principal) -> CallDoc:
        """Place a call for `user` on `charged`, on behalf of the app `principal` (whose scope
        limits the phones the call may start from)."""
        ext_type = KINDS[kind][0]
        if charged.type != ext_type:
            raise bad_request("extension_invalid", f"Extension {charged.extended} is a {charged.type} extension; "
                                                   f"this call needs a {ext_type} extension.")
        view_in = body["phoneCallView"][0]
        parties = self._parties(kind, user, charged, view_in, principal)
        if BRIDGE not in self.switch.capabilities and (kind == CallKind.CONFERENCE_INVITE or len(parties) > 2):
            raise bad_request("pc_bridge_unavailable", "This switch has no conference bridge: it connects two "
                                                       "parties, and conference invites need a bridge.")
        now = self.now_ms()
        call_id = self.new_id()
        sequential = OFF_HOOK_SOURCE not in self.switch.capabilities
        doc = new_document(kind, call_id, charged, parties, view_in, body.get("nonce"), options, now, sequential,
                           LIVE in self.switch.capabilities)
        async with self.turns.of([call_id]):
            await self._insert(doc, charged, now)
            known = await self._tell_switch(None, doc)
        if not known:
            return doc
        # None when nothing changed: a hang-up of the whole extension may have ended the new call
        # between its insert and these events. The call as stored is then the answer.
        applied = await self._apply_events(call_id, known)
        if applied is not None:
            return applied
        stored = await self.store.load_call(call_id)
        return from_json(stored.doc) if stored is not None else doc

    async def _insert(self, doc: CallDoc, charged: Extension, now: int) -> None:
        members = members_of(doc, self.directory) | {(charged.extended, charged.user.id)}
        await self.store.insert_call(doc["call"]["id"], charged.organization.id, now, call_state(doc), to_json(doc),
                                     sorted(members))

    def _parties(self, kind: CallKind, user: User, charged: Extension, view_in: dict[str, Any],
                 principal: Principal) -> list[Party]:
        sources = listify(view_in.get("source"))
        if not sources:
            if kind == CallKind.CALLBACK:
                raise bad_request("pc_source_invalid", "A callback call needs the source number to call back.")
            sources = [charged.number]
        parties = [self._source(raw, user, principal) for raw in sources]
        parties += [parse_party(raw, Role.DESTINATION, self.directory, user, "pc_destination_invalid")
                    for raw in listify(view_in.get("destination"))]
        seen: set[str] = set()
        for party in parties:
            key = party.number if party.extension else digits(party.number)
            if key in seen:
                code = "pc_destination_invalid" if party.role == Role.DESTINATION else "pc_source_invalid"
                raise bad_request(code, f"{party.number} appears more than once on the call.")
            seen.add(key)
        if not any(p.role == Role.DESTINATION for p in parties):
            raise bad_request("pc_destination_invalid", "At least one destination is needed.")
        return parties

    def _source(self, raw: str, user: User, principal: Principal) -> Party:
        """A source the app may start a call from: a public number, or an extension of the
        user's organization that the app acts for (a user app: its user's own phones; an
        organization or admin app: any of the organization's). An extension the app may not
        use answers like one that does not exist, so the answer tells nothing about others."""
        number = raw.strip()
        if EXTENDED_NUMBER.match(number):
            ext = self.directory.extensions.get(number)
        else:
            party = parse_party(raw, Role.SOURCE, self.directory, user, "pc_source_invalid")  # malformed: 400
            if party.extension is None:
                return party  # a public number (a callback rings it first)
            ext = party.extension
        if ext is None or ext.organization != user.organization or not in_scope(principal, ext.user):
            raise bad_request("pc_source_invalid", f"{number} is not a phone this app may place calls from.")
        return Party(ext.extended, ext, Role.SOURCE)

    # -- what phones dial ------------------------------------------------------------

    async def incoming(self, dialled: IncomingCall) -> Accept | Reject:
        """A registered phone dialled a number: the call becomes a call of its extension.

        The engine already holds the caller's leg and rings the callee itself (it bridges the
        two), so the document starts with the caller off hook and the callee dialled.
        """
        caller = self.directory.extensions.get(dialled.caller)
        if caller is None or caller.type != "phone_terminal":
            return Reject(403, "Not a phone of this service")
        number = dialled.dialled.strip()
        try:
            callee = parse_party(number, Role.DESTINATION, self.directory, caller.user, "pc_destination_invalid")
        except UapiError:
            return Reject(404, "No such number")
        if callee.extension is not None and (callee.extension.type != "phone_terminal" or callee.extension == caller):
            return Reject(404 if callee.extension != caller else 403, "Not a phone that can be called")
        source = Party(caller.extended, caller, Role.SOURCE)
        view_in = {"source": [caller.number], "destination": [number]}
        now = self.now_ms()
        doc = new_document(CallKind.SIMPLE, self.new_id(), caller, [source, callee], view_in, None, CallOptions(), now,
                           sequential=False, live=LIVE in self.switch.capabilities)
        doc["options"]["placedBy"] = "phone"
        party = doc["parties"][1]
        party["bridged"] = True   # the engine connects the callee to the caller itself
        await self._insert(doc, caller, now)
        self._arm(doc)
        return Accept(doc["call"]["id"], Leg(party["number"], party["number"], caller.caller_id))

    async def on_switch_event(self, event: SwitchEvent) -> None:
        """Apply what the switch reported; a call that ended meanwhile ignores it."""
        await self._apply_events(event.call_id, [event])

    async def end_switch_calls(self, call_ids: Iterable[str]) -> int:
        """End calls the switch can no longer carry: its engine is stopping, or a previous
        engine process that held their legs crashed (`system` / `switch_restart`)."""
        ended = 0
        for call_id in dict.fromkeys(call_ids):
            stored = await self.store.load_call(call_id)
            if stored is not None and await self._transition(stored, end_after_restart) is not None:
                ended += 1
        return ended

    # -- read ----------------------------------------------------------------------

    async def list_live(self, extensions: Iterable[Extension], query: ListQuery) -> tuple[int, list[CallDoc]]:
        now = self.now_ms()
        total, page = await self.store.live_calls_page([e.extended for e in extensions], now, query)
        return total, [advance(from_json(stored.doc), now) for stored in page]

    async def get(self, extensions: Iterable[Extension], call_id: str) -> CallDoc:
        return advance(from_json((await self._find(extensions, call_id)).doc), self.now_ms())

    async def _find(self, extensions: Iterable[Extension], call_id: str) -> StoredCall:
        stored = await self.store.find_call(call_id, [e.extended for e in extensions])
        if stored is None:
            raise bad_request("pc_phonecall_invalid", f"No phone call {call_id} exists for this user and extension.")
        return stored

    # -- change --------------------------------------------------------------------

    async def hang_up(self, extensions: Sequence[Extension], call_id: str | None,
                      phone_number: str | None) -> list[CallDoc]:
        """Close legs of the selected live calls; answer each call that lost at least one."""
        wanted = None if phone_number is None else digits(phone_number)
        if call_id is not None:
            stored = await self._find(extensions, call_id)
            doc = await self._transition(stored, lambda doc, now: close_legs(doc, wanted, now))
            return [] if doc is None else [doc]
        return await self._hang_up_all([e.extended for e in extensions], wanted)

    async def _hang_up_all(self, extensions: list[str], wanted: str | None) -> list[CallDoc]:
        """Every call of the extensions live when the request came, a batch at a time (see
        _hang_up_batch), oldest first; calls placed since are left alone.

        While the database writes one batch (SQLite's writer thread, or PostgreSQL) the event
        loop reads and plans the next: at most BULK_BATCHES_IN_FLIGHT batches are under way,
        and the next batch is read only once one of them has finished. A failed batch fails the
        request, and no batch starts after it; but every batch started runs to its end, even
        when another fails or the request is cancelled (`close` waits for them too): a batch
        stopped between its write and the switch would leave calls ended in the store and live
        on the phones."""
        now = self.now_ms()
        slots = asyncio.Semaphore(BULK_BATCHES_IN_FLIGHT)
        read: list[StoredCall] = []
        hung_up: dict[str, CallDoc] = {}
        failures: list[BaseException] = []
        tasks: list[asyncio.Task[None]] = []

        async def run(batch: list[StoredCall]) -> None:
            try:
                # Results are kept here, not by the task: a finished task's result outlived the
                # request's pause of collections (uapi.heap), and a collection then walked it.
                hung_up.update(await self._hang_up_batch(batch, wanted))
            except BaseException as failure:
                failures.append(failure)
            finally:
                slots.release()

        try:
            while not failures:
                await slots.acquire()
                after = (read[-1].published, read[-1].id) if read else None   # the key read up to
                batch = [] if failures else await self.store.live_calls_after(extensions, now, after, BULK_BATCH)
                if not batch:
                    slots.release()
                    break
                read += batch
                tasks.append(self._keep_until_done(run(batch)))
        finally:
            await asyncio.shield(asyncio.gather(*tasks))
        if failures:
            for other in failures[1:]:
                log.warning("bulk hang-up: another batch failed too: %s: %s", type(other).__name__,
                            str(other).partition("\n")[0])
            raise failures[0]
        return [hung_up[stored.id] for stored in read if stored.id in hung_up]

    def _keep_until_done(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A task `close` waits for (see _hang_up_all)."""
        task = asyncio.create_task(work)
        self._unfinished.add(task)
        task.add_done_callback(self._unfinished.discard)
        return task

    async def _hang_up_batch(self, batch: Sequence[StoredCall], wanted: str | None) -> dict[str, CallDoc]:
        """Hang up a batch of calls with one conditional write of them all; the calls it lost
        (another writer changed them since they were read) and the ones that need more than a
        plain write go through `_transition` one by one, as every call did before.

        The batch holds the turns of all its calls (uapi.turns) from before its write until
        the switch was told: a writer that wrote a call before us and has not yet sent its
        INVITE keeps the turn, so our BYE waits for it."""
        async with self.turns.of([stored.id for stored in batch]):
            planned, alone = self._plan_hang_ups(batch, wanted, self.now_ms())
            won = await self.store.replace_calls([(stored, to_json(new), call_state(new))
                                                  for stored, _before, new in planned])
            written = {stored.id: (before, new) for stored, before, new in planned if stored.id in won}
            known = await self._tell_switch_many(list(written.values()))
        hung_up = {call_id: new for call_id, (_before, new) in written.items()}
        for call_id, events in known.items():   # as in _transition: the simulator's outcomes, applied after the turn
            hung_up[call_id] = await self._apply_events(call_id, events) or hung_up[call_id]
        losers = [stored.id for stored, _before, _new in planned if stored.id not in won] + alone
        for call_id in losers:
            current = await self.store.load_call(call_id)
            doc = None if current is None else await self._transition(
                current, lambda doc, now: close_legs(doc, wanted, now))
            if doc is not None:
                hung_up[call_id] = doc
        return hung_up

    def _plan_hang_ups(self, batch: Sequence[StoredCall], wanted: str | None,
                       now: int) -> tuple[list[tuple[StoredCall, CallDoc, CallDoc]], list[str]]:
        """([(call as read, its document, the document hung up)] for the batch write, [ids of
        calls left to `_transition`]): a call a deadline ended writes that end instead, and
        one that gains a member needs its member rows inserted; `replace_calls` does neither.
        Calls with nothing to hang up (the wanted number is not on them) are in neither list."""
        planned, alone = [], []
        for stored in batch:
            before = from_json(stored.doc)
            doc = advance(before, now)
            if "ended" in doc["call"]:
                alone.append(stored.id)
                continue
            new = close_legs(doc, wanted, now)
            if new is None:
                continue
            if len(new["parties"]) != len(before["parties"]) and (   # parties are only ever added
                    members_of(new, self.directory) - members_of(before, self.directory)):
                alone.append(stored.id)
            else:
                planned.append((stored, before, new))
        return planned, alone

    async def update(self, extensions: Sequence[Extension], call_id: str, body: dict[str, Any]) -> CallDoc:
        needed = actions.CAPABILITY.get(str(body.get("action")))
        if needed is not None and needed not in self.switch.capabilities:
            raise bad_request("pc_action_unsupported", f"{body['action']} needs {needed} support, which this "
                                                        "switch does not have.")
        stored = await self._find(extensions, call_id)
        changed = await self._transition(stored, lambda doc, now: actions.apply(doc, body, self.directory, now),
                                         decline_error=True)
        assert changed is not None, "actions.apply answers a document or raises"
        return changed

    async def sweep(self) -> int:
        """Write the state of calls whose deadlines passed; answers how many were due.

        Readers already see such calls as they are now (`advance`); the sweep makes the
        database say so too, for queries and for other server processes, and tells the switch
        (a party that rang too long is cancelled, a call past its duration hung up). Several
        sweepers may race on a call: the conditional update lets one of them write it.
        """
        due = await self.store.due_calls(self.now_ms(), SWEEP_BATCH)
        for stored in due:
            await self._transition(stored, lambda doc, _now: doc)
        return len(due)

    async def _transition(self, stored: StoredCall, step: Callable[[CallDoc, int], CallDoc | None],
                          decline_error: bool = False) -> CallDoc | None:
        """Advance a call to now, apply `step`, and write the result if this writer wins.

        Answers the written document (after the switch was told), or None when the call was
        no longer live or `step` found nothing to do. With `decline_error`, an ended call is
        an error instead.
        """
        async with self.turns.of([stored.id]):
            written, known = await self._write(stored, step, decline_error)
        if known:   # the simulator's outcomes, known the moment it dialled: a transition of their own
            return await self._apply_events(stored.id, known) or written
        return written

    async def _write(self, stored: StoredCall, step: Callable[[CallDoc, int], CallDoc | None],
                     decline_error: bool) -> tuple[CallDoc | None, list[SwitchEvent]]:
        current: StoredCall | None = stored
        for _ in range(MAX_RACE_RETRIES):
            if current is None or not current.live:
                break
            now = self.now_ms()
            before = from_json(current.doc)
            doc = advance(before, now)
            if "ended" in doc["call"]:  # a deadline ended it: persist that, and tell the switch
                if await self.store.replace_call(current, to_json(doc), call_state(doc)):
                    await self._tell_switch(before, doc)
                    break
                current = await self.store.load_call(current.id)
                continue
            new = step(doc, now)
            if new is None:
                return None, []
            members = members_of(new, self.directory) - members_of(before, self.directory)
            if await self.store.replace_call(current, to_json(new), call_state(new), sorted(members)):
                return new, await self._tell_switch(before, new)
            current = await self.store.load_call(current.id)
        else:
            raise UapiError(503, "service_busy", "The call is changing too fast; try again.", {"Retry-After": "1"})
        if decline_error:
            raise bad_request("pc_call_ended", "The phone call has ended; it can no longer be changed.")
        return None, []

    async def _tell_switch(self, before: CallDoc | None, after: CallDoc) -> list[SwitchEvent]:
        """Tell the switch what changed between two written states of a call; answers the
        events it knew at once (the simulator's), for the caller to apply."""
        self._arm(after)
        commands = commands_between(before, after)
        if not commands:
            return []
        call_id = after["call"]["id"]
        if commands.end:
            await self.switch.end(call_id, commands.end)
        for party, direction in commands.directions:
            await self.switch.set_direction(call_id, party, direction)
        known: list[SwitchEvent] = []
        for leg in commands.originate:   # before connecting: a party joins and is connected at once (PickUp)
            known += await self.switch.originate(call_id, leg, self.now_ms())
        for a, b in commands.connect:
            await self.switch.connect(call_id, a, b)
        return known

    async def _tell_switch_many(self, changes: Sequence[tuple[CallDoc, CallDoc]]) -> dict[str, list[SwitchEvent]]:
        """`_tell_switch` for many written calls, (before, after) each: the calls whose only
        commands are releases (a hang-up's) are released in one batch; any other goes alone.
        Answers the events the switch knew at once, by call id."""
        releases: list[tuple[str, Sequence[str]]] = []
        known: dict[str, list[SwitchEvent]] = {}
        for before, after in changes:
            call_id = after["call"]["id"]
            commands = commands_between(before, after)
            if commands.originate or commands.connect or commands.directions:
                known[call_id] = await self._tell_switch(before, after)
                continue
            self._arm(after)
            if commands.end:
                releases.append((call_id, commands.end))
        if releases:
            await self.switch.end_many(releases)
        return {call_id: events for call_id, events in known.items() if events}

    async def _apply_events(self, call_id: str, events: Sequence[SwitchEvent]) -> CallDoc | None:
        stored = await self.store.load_call(call_id)
        if stored is None:
            return None

        def step(doc: CallDoc, now: int) -> CallDoc | None:
            changed = False
            for event in events:
                new = apply_event(doc, event.kind, event.party, event.at_ms, now, event.status)
                if new is not None:
                    doc, changed = new, True
            return doc if changed else None

        return await self._transition(stored, step)

    # -- deadlines on time --------------------------------------------------------------

    def _arm(self, doc: CallDoc) -> None:
        if self.alarms is not None:
            self.alarms.arm(doc["call"]["id"], next_event(doc))

    async def _write_due(self, call_id: str) -> None:
        try:
            stored = await self.store.load_call(call_id)
            if stored is not None and stored.live:
                await self._transition(stored, lambda doc, _now: doc)
        except Exception:   # the sweeper writes it down within a second anyway
            log.exception("writing the deadline of call %s failed", call_id)

    async def close(self) -> None:
        """Let the bulk hang-ups' batches under way finish, and stop the deadline alarms (the
        server is stopping; the sweeper of the next one takes over)."""
        if self._unfinished:
            await asyncio.gather(*self._unfinished, return_exceptions=True)
        if self.alarms is not None:
            await self.alarms.close()
