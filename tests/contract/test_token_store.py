"""The TokenStore contract (uapi.store.port), run against every implementation (see conftest.py)."""
from __future__ import annotations

from uapi.store.port import TokenStore

T = 1_800_000_000   # epoch seconds


async def owner(tokens: TokenStore, token_hash: str, now: int) -> tuple[str, str] | None:
    grant = await tokens.get_token(token_hash, now)
    return None if grant is None else (grant.client_id, grant.account)


async def test_a_token_is_valid_until_its_expiry(tokens: TokenStore):
    await tokens.put_token("h1", "john", "acct-3", T + 100)
    assert await owner(tokens, "h1", T) == ("john", "acct-3")
    assert await owner(tokens, "h1", T + 99) == ("john", "acct-3")
    assert await owner(tokens, "h1", T + 100) is None
    assert await owner(tokens, "h2", T) is None
    grant = await tokens.get_token("h1", T)
    assert grant is not None and grant.expires_at == T + 100


async def test_purge_deletes_the_expired_tokens_only(tokens: TokenStore):
    await tokens.put_token("old", "john", "acct-3", T + 10)
    await tokens.put_token("edge", "john", "acct-3", T + 20)
    await tokens.put_token("new", "jane", "acct-4", T + 30)
    await tokens.purge_tokens(T + 20)
    # Asked about an earlier instant, a purged token is gone rather than merely expired.
    assert await owner(tokens, "old", T) is None
    assert await owner(tokens, "edge", T) is None
    assert await owner(tokens, "new", T) == ("jane", "acct-4")


async def test_keep_revokes_the_clients_oldest_tokens_beyond_the_bound(tokens: TokenStore):
    await tokens.put_token("jane1", "jane", "acct-4", T + 1, keep=2)
    for n in (1, 2, 3):
        await tokens.put_token(f"john{n}", "john", "acct-3", T + n, keep=2)
    assert await owner(tokens, "john1", T) is None
    assert await owner(tokens, "john2", T) == ("john", "acct-3")
    assert await owner(tokens, "john3", T) == ("john", "acct-3")
    assert await owner(tokens, "jane1", T) == ("jane", "acct-4")   # another client's tokens stay
    await tokens.put_token("john4", "john", "acct-3", T + 4, keep=1)
    assert [await owner(tokens, f"john{n}", T) is not None for n in (2, 3, 4)] == [False, False, True]


async def test_without_keep_no_token_is_revoked(tokens: TokenStore):
    for n in range(5):
        await tokens.put_token(f"john{n}", "john", "acct-3", T + 1 + n)
    assert [await owner(tokens, f"john{n}", T) for n in range(5)] == [("john", "acct-3")] * 5
