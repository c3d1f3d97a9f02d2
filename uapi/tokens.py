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
from collections.abc import Callable

from uapi.accounts import App, Directory, Principal
from uapi.client_secrets import secret_matches
from uapi.store.port import TokenStore

# Argon2 verifications running at once (64 MiB each); more wait their turn.
CONCURRENT_VERIFICATIONS = 4


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    def __init__(self, directory: Directory, store: TokenStore, clock: Callable[[], float], ttl_seconds: int,
                 max_live: int = 100) -> None:
        self.directory = directory
        self.store = store
        self.clock = clock
        self.ttl_seconds = ttl_seconds
        self.max_live = max_live
        self._verifying = asyncio.Semaphore(CONCURRENT_VERIFICATIONS)

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
        found = await self.store.get_token(token_hash(token), int(self.clock()))
        if found is None:
            return None
        client_id, account = found
        app = self.directory.apps.get(client_id)
        # An app removed from the directory since the token was issued loses its tokens.
        if app is None or app.principal.account != account:
            return None
        return app.principal
