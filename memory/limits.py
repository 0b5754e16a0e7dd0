"""Moving-window rate limits shared by every API replica: the `limits` library's moving
window kept in Redis (in the process, `memory://`, without Redis: one replica's view).

Failing open: when the storage fails or does not answer within `STORAGE_TIMEOUT_S`, a hit
or a test counts as allowed and a warning is logged, so an outage of the limiter never locks
users out nor silences a public chat. What a limit protects decides its wording (the areas
that use it raise their own 429); this module only counts and says how long to wait.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

log = logging.getLogger("numbors.limits")
STORAGE_TIMEOUT_S = 0.5

__all__ = ["STORAGE_TIMEOUT_S", "RateLimitItem", "Windows", "parse"]


class Windows:
    """Moving windows under one key prefix; `what` names them in the log."""

    def __init__(self, redis_url: str | None, prefix: str, what: str):
        storage: Storage = (
            RedisStorage(
                redis_url.replace("redis://", "async+redis://", 1),
                implementation="redispy",
                key_prefix=prefix,
            )
            if redis_url
            else MemoryStorage()
        )
        self.limiter = MovingWindowRateLimiter(storage)
        self.what = what

    async def hit(self, item: RateLimitItem, *keys: str) -> bool:
        """Count one against the window; False when it was already full."""
        return await self._guarded(self.limiter.hit(item, *keys)) is not False

    async def test(self, item: RateLimitItem, *keys: str) -> bool:
        """Whether one more would be allowed, without counting it."""
        return await self._guarded(self.limiter.test(item, *keys)) is not False

    async def clear(self, item: RateLimitItem, *keys: str) -> None:
        await self._guarded(self.limiter.clear(item, *keys))

    async def wait_s(self, item: RateLimitItem, *keys: str) -> int:
        """Whole seconds until the window lets one more through (at least 1)."""
        stats = await self._guarded(self.limiter.get_window_stats(item, *keys))
        reset = stats.reset_time if stats is not None else time.time() + item.get_expiry()
        return max(1, math.ceil(reset - time.time()))

    async def _guarded(self, call: Awaitable[Any]) -> Any:
        try:
            async with asyncio.timeout(STORAGE_TIMEOUT_S):
                return await call
        except Exception as error:  # fail open: see the module docstring
            log.warning("%s skipped: their storage failed: %r", self.what, error)
            return None
