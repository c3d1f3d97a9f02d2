"""OAuth 2.0 client-credentials tokens: issued to apps, stored hashed, valid until expiry.

Only the SHA-256 of a token is stored, so a copy of the database grants nothing; tokens
live in the database, so they stay valid across restarts and across server processes. A
client keeps at most `max_live` unexpired tokens: issuing one more revokes its oldest, so a
client minting tokens in a loop cannot grow the table without bound.
"""
from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Callable

from uapi.accounts import App, Directory, Principal
from uapi.client_secrets import secret_matches
from uapi.store.port import TokenGrant, TokenStore

# Argon2 verifications running at once (64 MiB each); more wait their turn.
CONCURRENT_VERIFICATIONS = 4


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# How long a grant read from the store is trusted without reading it again. Verifying a token
# was one store read per request (a tenth of a hang-up's CPU); within this window a token the
# store has since revoked (its client went past `max_live`, in this process or another) still
# passes. Expiry stays exact: a grant is never trusted past its `expires_at`.
RECHECK_SECONDS = 2.0
RECENT_GRANTS = 10_000   # tokens remembered at most, least recently used forgotten first


class RecentGrants:
    """Grants read from the store in the last RECHECK_SECONDS, by token hash."""

    def __init__(self, recheck_seconds: float = RECHECK_SECONDS, size: int = RECENT_GRANTS) -> None:
        self.recheck_seconds = recheck_seconds
        self.size = size
        self._grants: OrderedDict[str, tuple[float, TokenGrant]] = OrderedDict()

    def get(self, key: str, now: float) -> TokenGrant | None:
        entry = self._grants.get(key)
        if entry is None:
            return None
        read_at, grant = entry
        # A clock that went back (tests move theirs) also means "read it again".
        if not 0 <= now - read_at < self.recheck_seconds or now >= grant.expires_at:
            del self._grants[key]
            return None
        self._grants.move_to_end(key)
        return grant

    def put(self, key: str, grant: TokenGrant, now: float) -> None:
        self._grants[key] = (now, grant)
        self._grants.move_to_end(key)
        if len(self._grants) > self.size:
            self._grants.popitem(last=False)


class TokenService:
    def __init__(self, directory: Directory, store: TokenStore, clock: Callable[[], float], ttl_seconds: int,
                 max_live: int = 100) -> None:
        self.directory = directory
        self.store = store
        self.clock = clock
        self.ttl_seconds = ttl_seconds
        self.max_live = max_live
        self._verifying = asyncio.Semaphore(CONCURRENT_VERIFICATIONS)
        self._recent = RecentGrants()

    async def authenticate(self, client_id: str, client_secret: str) -> App | None:
        app = self.directory.apps.get(client_id)
        if app is None:
            return None
        async with self._verifying:
            return app if await secret_matches(app.client_secret, client_secret) else None

    async def issue(self, app: App) -> str:
        # token_urlsafe uses [A-Za-z0-9_-] only, a subset of what the original clients accept.
        token = secrets.token_urlsafe(32)
        now = int(self.clock())
        await self.store.put_token(token_hash(token), app.client_id, app.principal.account, now + self.ttl_seconds,
                                   keep=self.max_live)
        return token

    async def verify(self, token: str) -> Principal | None:
        """The principal a live token acts for, or None for unknown or expired tokens."""
        key, now = token_hash(token), self.clock()
        grant = self._recent.get(key, now)
        if grant is None:
            grant = await self.store.get_token(key, int(now))
            if grant is None:
                return None
            self._recent.put(key, grant, now)
        app = self.directory.apps.get(grant.client_id)
        # An app removed from the directory since the token was issued loses its tokens.
        if app is None or app.principal.account != grant.account:
            return None
        return app.principal
