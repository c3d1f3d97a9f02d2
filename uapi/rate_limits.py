"""Rate limits of the token endpoint: per client_id and per client address, moving windows.

The `limits` library keeps the windows (in memory, asyncio flavour): a moving window counts
every attempt of the last minute exactly, so a guessing client cannot burst at a window's
edge as it could with fixed windows. Limits are per server process; several processes each
keep their own, which multiplies the allowance by the number of processes but never lets a
client go unlimited.

Every attempt counts, right or wrong: a client that guesses and one that mints tokens in a
loop are both slowed, and a well-behaved client needs one token an hour.
"""
from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


def parse_rate(text: str) -> RateLimitItem:
    """`30/minute`, `5/second`, `1000/hour`; ValueError when it is not one."""
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a rate such as 30/minute") from None


class TokenRateLimiter:
    def __init__(self, per_client: str, per_address: str) -> None:
        self.per_client = parse_rate(per_client)
        self.per_address = parse_rate(per_address)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def retry_after(self, address: str | None, client_id: str | None) -> int | None:
        """Count one attempt; None when it is allowed, else whole seconds to wait before the next.

        The address is counted first, and a refused attempt does not count against the
        client: a flood of made-up client_ids from one address fills one window, not many.
        """
        checks = [(self.per_address, "address", address), (self.per_client, "client", client_id)]
        for item, kind, key in checks:
            if key is None:
                continue
            if not await self._limiter.hit(item, kind, key):
                stats = await self._limiter.get_window_stats(item, kind, key)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None
