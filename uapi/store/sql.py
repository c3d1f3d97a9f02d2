"""The SQL store: SQLAlchemy Core tables and the queries behind the store port (uapi.store.port).

SQLite (the default) and PostgreSQL (through psycopg) run the same statements, each
operation handed whole to a runner (uapi.store.runner). Each state change of a call is one conditional UPDATE on its `version`, so of
several concurrent writers exactly one wins and the others see that they lost.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ColumnElement,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    inspect,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from uapi.private_files import create_private_sqlite_file
from uapi.store.port import CallState, ListQuery, Members, Replacement, StoredCall, TokenGrant
from uapi.store.runner import SqlRunner, json_text, runner_for

metadata = MetaData()
JSON_DOC = JSON().with_variant(JSONB(), "postgresql")   # a JSON document column, binary on PostgreSQL

calls = Table(
    "calls",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("organization_id", String(64), nullable=False),
    Column("published", BigInteger, nullable=False),  # epoch milliseconds
    Column("ended", BigInteger, nullable=True),  # epoch milliseconds; NULL while live
    # The next timed event of the call (see uapi.lifecycle), kept beside the document so
    # that any server process can find calls whose deadline passed and write them down.
    Column("next_event", BigInteger, nullable=True),
    Column("version", Integer, nullable=False),
    # The PhoneCall as answered (minus links): views and parties change together with
    # `version`, so one JSON document keeps each transition a single-row UPDATE.
    Column("doc", JSON_DOC, nullable=False),
    # No index on (ended, published): lists are served from call_members, and such an index
    # lured SQLite into scanning every live call of the store.
    Index("ix_calls_next_event", "next_event"),
)
# Ended calls by when they ended, for the retention purge (uapi.retention). Partial, so that
# no query about live calls (`ended IS NULL`) can be drawn to it.
ix_calls_ended = Index("ix_calls_ended", calls.c.ended, sqlite_where=text("ended IS NOT NULL"),
                       postgresql_where=text("ended IS NOT NULL"))

# Which extensions take part in a call: every list is one query on this table's index.
# `published`, `ended` and `ends_at` repeat the call's, so a page of an extension's live
# calls is read in order from the index, without touching the calls that ended long ago.
# `ends_at` is when the call ends by itself if nobody acts: a call past it counts as ended
# at once, before a sweeper has written its end.
call_members = Table(
    "call_members",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("extension", String(40), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("published", BigInteger, nullable=False),
    Column("ended", BigInteger, nullable=True),
    Column("ends_at", BigInteger, nullable=True),
    Index("ix_call_members_live", "extension", "ended", "published", "call_id", "ends_at"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 hex; the token itself is never stored
    Column("client_id", String(255), nullable=False),
    Column("account", String(255), nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # epoch seconds
    Index("ix_tokens_expires_at", "expires_at"),
    # A client's tokens, newest first: revoking the oldest beyond the live-token bound.
    Index("ix_tokens_client_expires", "client_id", "expires_at"),
)


# The SIP engine's dialogs that must outlive its process: after a crash, the next process
# sends BYE (or CANCEL) to every leg still recorded here, so no phone stays in a call nobody
# can end. One row per leg; gone when the leg ends.
sip_dialogs = Table(
    "sip_dialogs",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("party", String(64), primary_key=True),
    Column("record", JSON_DOC, nullable=False),
    # The engine ("host:port") holding the leg, when several API processes share the
    # database: a restarted process recovers its own legs only, never a live neighbour's.
    Column("engine", String(80), nullable=True),
)


# Rows about a call kept elsewhere (the SIP engine's, in uapi.switch.sip), keyed by `call_id`
# first: they go with the call when it is purged. Named rather than imported, since the store
# knows nothing of switches, and purged only where the table exists.
PURGED_WITH_CALL = ("sip_dialogs", "sip_owners")


class DatabaseUrlError(ValueError):
    """The --database URL names no supported database."""


def driver_url(url: str) -> str:
    """The SQLAlchemy URL, with its driver, for a `sqlite:///PATH` or `postgresql://` URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise DatabaseUrlError(f"{url!r} is not a database URL; use sqlite:///PATH or postgresql://USER@HOST/DB")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+pysqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    raise DatabaseUrlError(f"unsupported database {scheme!r}; use sqlite:///PATH or postgresql://USER@HOST/DB")


def call_row(call_id: str, organization_id: str, published: int, state: CallState, doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "organization_id": organization_id, "published": published, "version": 0,
            "doc": doc, "ended": state.ended, "next_event": state.next_event}


def member_rows(call_id: str, members: Members, published: int,
                state: CallState) -> list[dict[str, Any]]:
    return [{"call_id": call_id, "extension": ext, "user_id": user, "published": published,
             "ended": state.ended, "ends_at": state.ends_at} for ext, user in members]


def _row_to_call(row: Any) -> StoredCall:
    return StoredCall(row.id, row.version, row.published, row.ended, row.doc)


# The statements of the hottest operations, built once (an UPDATE's parameters are named b_*,
# since SQLAlchemy keeps column names for the values it sets): SQLAlchemy then only binds values
# and finds the compiled form in its cache, where building the statement anew on every
# request cost more than running it (measured with bench/bench_server.py's cpu/req).
# _FIND_CALL: see find_call_statement.
_FIND_CALL = select(calls).where(
    calls.c.id == bindparam("call_id"),
    exists(select(call_members.c.call_id).where(call_members.c.call_id == bindparam("call_id"),
                                                call_members.c.extension.in_(bindparam("extensions", expanding=True)))))
_LOAD_CALL = select(calls).where(calls.c.id == bindparam("call_id"))
_REPLACE_CALL = (update(calls)
                 .where(calls.c.id == bindparam("b_call_id"), calls.c.version == bindparam("b_version"),
                        calls.c.ended.is_(None))
                 .values(doc=bindparam("b_doc"), version=bindparam("b_next_version"), ended=bindparam("b_ended"),
                         next_event=bindparam("b_next_event")))
_MEMBERS_STATE = (update(call_members).where(call_members.c.call_id == bindparam("b_call_id"))
                  .values(ended=bindparam("b_ended"), ends_at=bindparam("b_ends_at")))
_GET_TOKEN = select(tokens.c.client_id, tokens.c.account, tokens.c.expires_at).where(tokens.c.token_hash == bindparam("token_hash"),
                                                                tokens.c.expires_at > bindparam("now"))


class SqlStore:
    """The call store and the token store (uapi.store.port) in one SQL database.

    Every method is one unit of work, a plain function of a connection, handed whole to the
    runner (uapi.store.runner): one step per operation instead of one per statement.
    """

    def __init__(self, url: str) -> None:
        self.url = driver_url(url)
        self.db: SqlRunner = runner_for(self.url)

    async def start(self) -> None:
        create_private_sqlite_file(self.url)

        def create(conn: Connection) -> None:
            metadata.create_all(conn)
            # create_all makes the indexes of new tables only; a database from before an index
            # was added (the retention purge's, the tokens' by client) gets it here.
            ix_calls_ended.create(conn, checkfirst=True)
            _create_indexes(conn, tokens)

        await self.db.write(create)

    async def close(self) -> None:
        await self.db.close()

    # -- calls ---------------------------------------------------------------------

    async def insert_call(self, call_id: str, organization_id: str, published: int, state: CallState,
                          doc: dict[str, Any], members: Members) -> None:
        def insert(conn: Connection) -> None:
            conn.execute(calls.insert().values(call_row(call_id, organization_id, published, state, doc)))
            conn.execute(call_members.insert(), member_rows(call_id, members, published, state))

        await self.db.write(insert)

    async def find_call(self, call_id: str, extensions: Sequence[str]) -> StoredCall | None:
        """The call, live or ended, when one of `extensions` takes part in it."""
        params = {"call_id": call_id, "extensions": list(extensions)}
        return await self.db.read(lambda conn: _first_call(conn, _FIND_CALL, params))

    async def load_call(self, call_id: str) -> StoredCall | None:
        return await self.db.read(lambda conn: _first_call(conn, _LOAD_CALL, {"call_id": call_id}))

    async def live_calls_page(self, extensions: Sequence[str], now: int,
                              query: ListQuery) -> tuple[int, list[StoredCall]]:
        """One page of the live calls of `extensions` that match `query`, and the total."""
        params: dict[str, Any] = {}
        if query.filter_by is None or query.op == "present":   # no filter: the statements built once
            count, page = _unfiltered_page(query.descending, len(extensions) > 1)
            params = {"extensions": list(extensions), "now": now, "start": query.start, "count": query.count}
        else:
            count, page = live_page_statements(extensions, now, query)

        def read(conn: Connection) -> tuple[int, list[StoredCall]]:
            total = conn.execute(count, params).scalar_one()
            return total, _load(conn, conn.execute(page, params).scalars().all())

        return await self.db.read(read)

    async def live_calls_after(self, extensions: Sequence[str], now: int, after: tuple[int, str] | None,
                               limit: int) -> list[StoredCall]:
        # Keyset paging on (published, call_id), the order of ix_call_members_live, so each batch
        # starts where the last ended however many came before; a join, not the ids and then
        # `IN`, so no batch size meets SQLite's limit on bound parameters.
        after_published, after_id = (-1, "") if after is None else after
        params = {"extensions": list(extensions), "now": now, "limit": limit,
                  "after_published": after_published, "after_id": after_id}
        query = _live_after(len(extensions) > 1)
        return await self.db.read(lambda conn: [_row_to_call(row) for row in conn.execute(query, params).all()])

    async def due_calls(self, now: int, limit: int) -> list[StoredCall]:
        """Live calls with a deadline that has passed, for the sweeper."""
        query = (select(calls).where(calls.c.ended.is_(None), calls.c.next_event <= now)
                 .order_by(calls.c.next_event).limit(limit))
        return await self.db.read(lambda conn: [_row_to_call(row) for row in conn.execute(query).all()])

    async def replace_call(self, call: StoredCall, doc: dict[str, Any], state: CallState,
                           new_members: Members = ()) -> bool:
        """Write the next state of a live call; False when another writer changed it first."""
        values = {"b_call_id": call.id, "b_version": call.version, "b_doc": doc, "b_next_version": call.version + 1,
                  "b_ended": state.ended, "b_next_event": state.next_event}

        def replace(conn: Connection) -> bool:
            if conn.execute(_REPLACE_CALL, values).rowcount != 1:
                return False
            if new_members:
                conn.execute(call_members.insert(), member_rows(call.id, new_members, call.published, state))
            conn.execute(_MEMBERS_STATE, {"b_call_id": call.id, "b_ended": state.ended, "b_ends_at": state.ends_at})
            return True

        return await self.db.write(replace)

    async def replace_calls(self, changes: Sequence[Replacement]) -> set[str]:
        """Many conditional replaces as one UPDATE joined to the new states, which answers the
        rows it changed (per-row UPDATEs cost a statement each; executemany cannot tell which
        rows matched), then the member rows of the winners, one UPDATE per distinct state.
        The documents are written as the `doc` column's JSON type writes them (runner.json_text)."""
        if not changes:
            return set()
        if len({call.id for call, _doc, _state in changes}) != len(changes):
            raise ValueError("replace_calls takes each call once")
        ids = sorted(call.id for call, _doc, _state in changes)

        def replace(conn: Connection) -> set[str]:
            if conn.dialect.name != "sqlite":
                # Row locks in id order first: the UPDATE locks rows in its plan's order, and two
                # bulk writers sharing calls could otherwise each wait for the other (a deadlock).
                # SQLite has one writer at a time and nothing to order.
                conn.execute(select(calls.c.id).where(calls.c.id.in_(ids)).order_by(calls.c.id).with_for_update())
            won = set(conn.execute(*replace_calls_statement(conn.dialect.name, changes)).scalars())
            for (ended, ends_at), group in _members_by_state(changes, won).items():
                conn.execute(update(call_members).where(call_members.c.call_id.in_(group))
                             .values(ended=ended, ends_at=ends_at))
            return won

        return await self.db.write(replace)

    async def purge_ended(self, ended_before: int, limit: int) -> int:
        """Delete up to `limit` calls that ended before `ended_before` (epoch ms), oldest first,
        with their member rows and the SIP engine's rows about them; answers how many.

        An ended call is never written again (every transition requires `ended IS NULL`), so
        deleting it races with nothing but readers, who then find no call, as after the purge.
        """
        def purge(conn: Connection) -> int:
            ids = conn.execute(purge_statement(ended_before, limit)).scalars().all()
            if not ids:
                return 0
            conn.execute(delete(call_members).where(call_members.c.call_id.in_(ids)))
            for name in _existing_tables(conn, PURGED_WITH_CALL):
                table = Table(name, MetaData(), Column("call_id", String(64)))
                conn.execute(delete(table).where(table.c.call_id.in_(ids)))
            conn.execute(delete(calls).where(calls.c.id.in_(ids), calls.c.ended.is_not(None)))
            return len(ids)

        return await self.db.write(purge)

    # -- tokens --------------------------------------------------------------------

    async def put_token(self, token_hash: str, client_id: str, account: str, expires_at: int,
                        keep: int | None = None) -> None:
        """Store a token; with `keep`, revoke the client's oldest tokens beyond the newest `keep`."""
        def put(conn: Connection) -> None:
            conn.execute(tokens.insert().values(token_hash=token_hash, client_id=client_id,
                                                account=account, expires_at=expires_at))
            if keep is not None:
                newest = (select(tokens.c.token_hash).where(tokens.c.client_id == client_id)
                          .order_by(tokens.c.expires_at.desc(), tokens.c.token_hash.desc()).limit(keep))
                # Wrapped in a derived table: MySQL-style dialects refuse LIMIT in IN, and
                # PostgreSQL and SQLite take it either way.
                conn.execute(tokens.delete().where(tokens.c.client_id == client_id,
                                                   tokens.c.token_hash.not_in(select(newest.subquery().c.token_hash))))

        await self.db.write(put)

    async def get_token(self, token_hash: str, now: int) -> TokenGrant | None:
        params = {"token_hash": token_hash, "now": now}
        row = await self.db.read(lambda conn: conn.execute(_GET_TOKEN, params).first())
        return TokenGrant(row.client_id, row.account, row.expires_at) if row else None

    async def purge_tokens(self, now: int) -> None:
        await self.db.write(lambda conn: conn.execute(tokens.delete().where(tokens.c.expires_at <= now)))


class SqlDialogStore:
    """The SIP engine's DialogStore (see uapi.switch.sip.dialogs) in the call store's database."""

    def __init__(self, store: SqlStore, engine: str | None = None) -> None:
        self.db = store.db
        self.engine = engine   # None: the only engine on this database (recover every leg)

    async def save(self, call_id: str, party: str, record: dict[str, Any]) -> None:
        def save(conn: Connection) -> None:
            changed = conn.execute(update(sip_dialogs).where(sip_dialogs.c.call_id == call_id,
                                                             sip_dialogs.c.party == party).values(record=record))
            if changed.rowcount == 0:
                conn.execute(sip_dialogs.insert().values(call_id=call_id, party=party, record=record,
                                                         engine=self.engine))

        await self.db.write(save)

    async def forget(self, call_id: str, party: str) -> None:
        await self.db.write(lambda conn: conn.execute(
            sip_dialogs.delete().where(sip_dialogs.c.call_id == call_id, sip_dialogs.c.party == party)))

    async def all(self) -> list[tuple[str, str, dict[str, Any]]]:
        query = select(sip_dialogs)
        if self.engine is not None:
            query = query.where(sip_dialogs.c.engine == self.engine)
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [(row.call_id, row.party, row.record) for row in rows]


def find_call_statement(call_id: str, extensions: Sequence[str]) -> Any:
    """The call `call_id` when one of `extensions` takes part in it: two primary-key lookups,
    whatever the size of the extensions' history. (`id IN (calls of the extensions)` made
    SQLite read every member row of the extensions, ended calls included.)"""
    return _FIND_CALL.params(call_id=call_id, extensions=list(extensions))


def live_page_statements(extensions: Sequence[str], now: int, query: ListQuery) -> tuple[Any, Any]:
    """(count of the matching live calls, ids of the page's calls in order), both read from
    the index ix_call_members_live, where ended calls sort apart from live ones."""
    return _page_statements(_live_ids(list(extensions), now, query, len(extensions) > 1), query.descending,
                            query.start, query.count)


@functools.cache
def _unfiltered_page(descending: bool, several: bool) -> tuple[Any, Any]:
    """live_page_statements for a list without a filter, built once with parameters bound at each run
    (extensions, now, start, count)."""
    live = _live_ids(bindparam("extensions", expanding=True), bindparam("now"), ListQuery(), several)
    return _page_statements(live, descending, bindparam("start"), bindparam("count"))


@functools.cache
def _live_after(several: bool) -> Any:
    """live_calls_after's statement, built once with parameters bound at each run (extensions,
    now, after_published, after_id, limit)."""
    live = _live_ids(bindparam("extensions", expanding=True), bindparam("now"), ListQuery(), several)
    after = tuple_(live.c.published, live.c.call_id) > tuple_(bindparam("after_published"), bindparam("after_id"))
    return (select(calls).join(live, calls.c.id == live.c.call_id).where(after, live.c.published <= bindparam("now"))
            .order_by(live.c.published, live.c.call_id).limit(bindparam("limit")))


def _page_statements(live: Any, descending: bool, start: Any, count: Any) -> tuple[Any, Any]:
    order = (live.c.published.desc(), live.c.call_id.desc()) if descending else (live.c.published, live.c.call_id)
    page = select(live.c.call_id).order_by(*order).offset(start).limit(count)
    return select(func.count()).select_from(live), page


# replace_calls' UPDATE: the calls' new states arrive as one JSON array parameter, so the
# statement is the same text whatever the batch and is compiled once. (A VALUES list of
# bound parameters is compiled afresh for every batch, uncached: 45 ms of 60 for 1000 calls.)
# Each row is conditional on its version and on being live, as in replace_call; RETURNING
# names the rows written (SQLite 3.35+ for RETURNING, 3.33+ for UPDATE FROM).
_NEW_STATES = {
    "sqlite": """WITH new AS (
        SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.version') AS version,
               json_extract(value, '$.doc') AS doc, json_extract(value, '$.ended') AS ended,
               json_extract(value, '$.next_event') AS next_event
        FROM json_each(:changes))""",
    "postgresql": """WITH new AS (
        SELECT * FROM jsonb_to_recordset(CAST(:changes AS jsonb))
        AS new(id text, version integer, doc jsonb, ended bigint, next_event bigint))""",
}
_REPLACE_CALLS = {dialect: text(f"""{states}
    UPDATE calls SET doc = new.doc, version = calls.version + 1, ended = new.ended, next_event = new.next_event
    FROM new WHERE calls.id = new.id AND calls.version = new.version AND calls.ended IS NULL
    RETURNING calls.id""") for dialect, states in _NEW_STATES.items()}


def replace_calls_statement(dialect: str, changes: Sequence[Replacement]) -> tuple[Any, dict[str, str]]:
    """(statement, parameters) of the UPDATE that writes `changes` and answers the ids written."""
    rows = [{"id": call.id, "version": call.version, "doc": doc, "ended": state.ended, "next_event": state.next_event}
            for call, doc, state in changes]
    return _REPLACE_CALLS[dialect], {"changes": json_text(rows)}


def _members_by_state(changes: Sequence[Replacement], won: set[str]) -> dict[tuple[int | None, int | None], list[str]]:
    """The calls written, grouped by the (ended, ends_at) their member rows take: a bulk
    hang-up ends a whole batch at one instant, so this is mostly one group."""
    groups: dict[tuple[int | None, int | None], list[str]] = {}
    for call, _doc, state in changes:
        if call.id in won:
            groups.setdefault((state.ended, state.ends_at), []).append(call.id)
    return groups


def purge_statement(ended_before: int, limit: int) -> Any:
    """Ids of the calls that ended first, before `ended_before`, from the partial index ix_calls_ended."""
    return (select(calls.c.id).where(calls.c.ended.is_not(None), calls.c.ended < ended_before)
            .order_by(calls.c.ended).limit(limit))


_LOAD_CALLS = select(calls).where(calls.c.id.in_(bindparam("ids", expanding=True)))


def load_statement(ids: Sequence[str]) -> Any:
    return _LOAD_CALLS.params(ids=list(ids))


def _existing_tables(sync_conn: Any, names: Sequence[str]) -> list[str]:
    inspector = inspect(sync_conn)
    return [name for name in names if inspector.has_table(name)]


def _live_ids(extensions: Any, now: Any, query: ListQuery, several: bool) -> Any:
    """(call_id, published) of the live calls of `extensions` that match `query`, once each.
    `extensions` and `now` are values, or parameters bound when the statement runs."""
    m = call_members.c
    ids = select(m.call_id, m.published).where(
        m.extension.in_(extensions), m.ended.is_(None), or_(m.ends_at.is_(None), m.ends_at > now),
        *_filter(query, m.call_id, m.published))
    # A call on two of the user's extensions (@self) has two rows; one extension has one each.
    return (ids.distinct() if several else ids).subquery()


def _first_call(conn: Connection, statement: Any, params: dict[str, Any] | None = None) -> StoredCall | None:
    row = conn.execute(statement, params).first()
    return _row_to_call(row) if row else None


def _load(conn: Connection, ids: Sequence[str]) -> list[StoredCall]:
    """The calls `ids`, in that order."""
    if not ids:
        return []
    rows = {row.id: _row_to_call(row) for row in conn.execute(_LOAD_CALLS, {"ids": list(ids)}).all()}
    return [rows[call_id] for call_id in ids if call_id in rows]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _create_indexes(sync: Connection, table: Table) -> None:
    for index in table.indexes:
        index.create(sync, checkfirst=True)


def _filter(query: ListQuery, id_column: Any, published_column: Any) -> tuple[Any, ...]:
    """SQL for filterBy/filterOp/filterValue; values arrive parsed (published in epoch ms)."""
    if query.filter_by is None or query.op == "present":
        return ()
    if query.filter_by == "id":
        column, value = id_column, query.values[0] if query.values else None
        match query.op:
            case "equals":
                return (column == value,)
            case "contains":
                assert value is not None   # list_query requires a filterValue for every op but present
                return (column.like(f"%{_like_escape(value)}%", escape="\\"),)
            case "startsWith":
                assert value is not None
                return (column.like(f"{_like_escape(value)}%", escape="\\"),)
            case "greaterThan":
                return (column > value,)
            case "lessThan":
                return (column < value,)
            case "inArray":
                return (column.in_(list(query.values)),)
    else:
        # Published times are answered to the second, so a filter value names a whole second.
        column = published_column

        def second(ms: int) -> ColumnElement[bool]:
            return and_(column >= ms, column < ms + 1000)

        match query.op:
            case "equals":
                return (second(query.values[0]),)
            case "greaterThan":
                return (column >= query.values[0] + 1000,)
            case "lessThan":
                return (column < query.values[0],)
            case "inArray":
                return (or_(*(second(ms) for ms in query.values)),)
    raise ValueError(f"no SQL for filterBy={query.filter_by} filterOp={query.op}")
