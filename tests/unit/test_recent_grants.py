"""Token grants trusted for a short while without a store read (uapi.tokens.RecentGrants)."""
from __future__ import annotations

from uapi.store.port import TokenGrant
from uapi.tokens import RecentGrants

GRANT = TokenGrant("john", "acct-3", expires_at=1_000)


def test_a_grant_is_trusted_within_the_recheck_window_only():
    grants = RecentGrants(recheck_seconds=2.0)
    grants.put("h", GRANT, now=500.0)
    assert grants.get("h", 501.9) == GRANT
    assert grants.get("h", 502.0) is None
    assert grants.get("h", 501.0) is None   # forgotten once stale: the store is asked again


def test_expiry_stays_exact():
    grants = RecentGrants(recheck_seconds=2.0)
    grants.put("h", GRANT, now=999.0)
    assert grants.get("h", 999.9) == GRANT
    assert grants.get("h", 1_000.0) is None


def test_a_clock_that_went_back_reads_the_store_again():
    grants = RecentGrants()
    grants.put("h", GRANT, now=500.0)
    assert grants.get("h", 499.0) is None


def test_the_least_recently_used_grant_is_forgotten_first():
    grants = RecentGrants(size=2)
    grants.put("a", GRANT, now=1.0)
    grants.put("b", GRANT, now=1.0)
    assert grants.get("a", 1.5) == GRANT      # a is now the most recently used
    grants.put("c", GRANT, now=1.5)
    assert [grants.get(key, 1.6) is not None for key in "abc"] == [True, False, True]
