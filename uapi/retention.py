"""How long ended calls are kept, and their purge in small batches.

An ended call stays readable by id (`getPhoneCall`) for the retention period, then goes with
its member rows and whatever the SIP engine kept about it. The purge runs beside the deadline
sweeper in every server process; batches are small so that, on SQLite, writers waiting for
the database never wait behind a long delete, and several processes purging at once only
delete the same rows twice (a no-op), never anything else.
"""
from __future__ import annotations

from uapi.store.port import CallStore

PURGE_BATCH = 200
DAY_MS = 86_400_000


def purge_cutoff_ms(now: float, retention_days: float) -> int | None:
    """Calls that ended before this instant (epoch ms) are purged; None keeps them forever."""
    if retention_days <= 0:
        return None
    return int(now * 1000) - int(retention_days * DAY_MS)


async def purge_ended_calls(store: CallStore, now: float, retention_days: float, batch: int = PURGE_BATCH) -> int:
    """Purge one batch of calls that ended more than `retention_days` ago; answers how many.

    A full batch means more may be waiting: the caller runs another round soon after.
    """
    cutoff = purge_cutoff_ms(now, retention_days)
    if cutoff is None:
        return 0
    return await store.purge_ended(cutoff, batch)
