"""The store port: what the domain asks of the place calls and tokens are kept.

The domain (uapi.calls, uapi.tokens, uapi.retention, ...) sees only these Protocols and value
types; uapi.store.sql implements them on SQLite and PostgreSQL, and only the composition
roots (uapi.app, uapi.workers, the SIP switch sharing the database) name it. Nothing here
may import SQLAlchemy. tests/contract holds the one suite every implementation must pass.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class CallState:
    """What a store indexes about a call, derived from its document (uapi.call_document)."""

    ended: int | None      # epoch ms; None while live
    next_event: int | None  # the call's next deadline (epoch ms), for due_calls
    ends_at: int | None    # when the call ends by itself; past it the call is no longer live


@dataclass(frozen=True)
class ListQuery:
    """Which live calls a list asks for: a filter on one column, an order, a page."""

    filter_by: str | None = None  # "id" or "published"
    op: str = "equals"
    values: tuple[Any, ...] = ()
    descending: bool = False
    start: int = 0
    count: int = 20


@dataclass(frozen=True)
class StoredCall:
    """A call as kept: its document and the version a conditional replace must name."""

    id: str
    version: int
    published: int
    ended: int | None
    doc: dict[str, Any]

    @property
    def live(self) -> bool:
        return self.ended is None


Members = Sequence[tuple[str, str]]   # (extended extension number, owning user id) of a call's parties
Replacement = tuple[StoredCall, dict[str, Any], CallState]   # (the call as read, its next document, its next state)


class CallStore(Protocol):
    """Calls as JSON documents, listed by the extensions that take part in them."""

    async def insert_call(self, call_id: str, organization_id: str, published: int, state: CallState,
                          doc: dict[str, Any], members: Members) -> None: ...

    async def find_call(self, call_id: str, extensions: Sequence[str]) -> StoredCall | None:
        """The call, live or ended, when one of `extensions` takes part in it."""
        ...

    async def load_call(self, call_id: str) -> StoredCall | None:
        """The call, whoever takes part in it."""
        ...

    async def live_calls_page(self, extensions: Sequence[str], now: int,
                              query: ListQuery) -> tuple[int, list[StoredCall]]:
        """(how many live calls of `extensions` match `query`, the page `query` asks for),
        ordered by (published, id); a call past its `ends_at` is not live."""
        ...

    async def live_calls_after(self, extensions: Sequence[str], now: int, after: tuple[int, str] | None,
                               limit: int) -> list[StoredCall]:
        """Up to `limit` calls of `extensions` live at `now` and published by then, oldest first
        (by publication, then id), from the one that follows the key `after` = (published, id)
        in that order (None: from the oldest). A caller going through them all reads one batch
        while it works on the one before; calls placed after `now` are never among them."""
        ...

    async def due_calls(self, now: int, limit: int) -> list[StoredCall]:
        """Up to `limit` live calls whose next event is at or before `now`, earliest first."""
        ...

    async def replace_call(self, call: StoredCall, doc: dict[str, Any], state: CallState,
                           new_members: Members = ()) -> bool:
        """Write the next state of a live call, adding `new_members`; False, writing nothing,
        when the call ended or another writer replaced `call.version` first."""
        ...

    async def replace_calls(self, changes: Sequence[Replacement]) -> set[str]:
        """`replace_call` (without new members) for many distinct calls in one transaction:
        answers the ids of the calls written. A call that ended, or whose version another
        writer replaced first, is left as it was and its id is not in the answer."""
        ...

    async def purge_ended(self, ended_before: int, limit: int) -> int:
        """Delete up to `limit` calls that ended before `ended_before`, oldest first; how many."""
        ...


@dataclass(frozen=True)
class TokenGrant:
    client_id: str
    account: str
    expires_at: int   # epoch seconds


class TokenStore(Protocol):
    """Access tokens by their hash, each valid until its expiry (epoch seconds)."""

    async def put_token(self, token_hash: str, client_id: str, account: str, expires_at: int,
                        keep: int | None = None) -> None:
        """Store a token; with `keep`, revoke the client's tokens beyond its `keep` newest."""
        ...

    async def get_token(self, token_hash: str, now: int) -> TokenGrant | None:
        """Whom a token not yet expired at `now` was issued to, and until when."""
        ...

    async def purge_tokens(self, now: int) -> None:
        """Delete the tokens expired at `now`."""
        ...


class Store(CallStore, TokenStore, Protocol):
    """Both stores in one database, opened and closed with the server (uapi.app's lifespan)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...
