"""Abuse limits of the public chat: moving windows (the `limits` library, as the login
throttle) kept in Redis so every API replica shares them (in the process without Redis).

Every chat message counts against its client address and, once it has one, its session
(defaults: 30 a minute per address, 10 a minute per session, 300 a day per session); past
one, the message is refused with 429 `rate_limited` and Retry-After before anything is
stored or enqueued. A history read counts against the address only (120 a minute). When
Redis fails, the limits fail open (logged): an outage of the limiter must not silence
every company's support.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from domain.errors import RateLimited

log = logging.getLogger("numbors.support")
STORAGE_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class Policy:
    per_address: str = "30/minute"
    per_session: str = "10/minute"
    per_session_daily: str = "300/day"
    reads_per_address: str = "120/minute"


class ChatLimits:
    def __init__(self, redis_url: str | None, policy: Policy, prefix: str = "numbors:support"):
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
        self.per_address = parse(policy.per_address)
        self.per_session = [parse(policy.per_session), parse(policy.per_session_daily)]
        self.reads = parse(policy.reads_per_address)

    async def message(self, address: str | None, session_id: str | None) -> None:
        """Count a chat message; 429 when its address or session is over a limit."""
        checks: list[tuple[RateLimitItem, str, str]] = []
        if address:
            checks.append((self.per_address, "chat:ip", address))
        if session_id:
            checks += [(item, "chat:session", session_id) for item in self.per_session]
        for item, kind, key in checks:
            if await self._guarded(self.limiter.hit(item, kind, key)) is False:
                raise await self._refusal(item, kind, key)

    async def opened(self, session_id: str) -> None:
        """Count a session's first message (sent before it had an id) against it."""
        for item in self.per_session:
            await self._guarded(self.limiter.hit(item, "chat:session", session_id))

    async def read(self, address: str | None) -> None:
        if (
            address
            and await self._guarded(self.limiter.hit(self.reads, "read:ip", address)) is False
        ):
            raise await self._refusal(self.reads, "read:ip", address)

    async def _refusal(self, item: RateLimitItem, kind: str, key: str) -> RateLimited:
        stats = await self._guarded(self.limiter.get_window_stats(item, kind, key))
        reset = stats.reset_time if stats is not None else time.time() + item.get_expiry()
        wait = max(1, math.ceil(reset - time.time()))
        who = "this address" if kind.endswith(":ip") else "this chat"
        return RateLimited(f"too many messages from {who}; try again in {wait} s", retry_after=wait)

    async def _guarded(self, call: Any) -> Any:
        try:
            async with asyncio.timeout(STORAGE_TIMEOUT_S):
                return await call
        except Exception as error:  # fail open: see the module docstring
            log.warning("support chat limits skipped: their storage failed: %r", error)
            return None
