"""Login and registration throttling: moving windows (the `limits` library) kept in Redis,
so every API replica shares them.

Rules and decisions:
- Failed logins count per account (the normalised email, whether or not it exists, so the
  answer is the same for unknown and known accounts) and per client address. Past either
  limit a login answers 429 `too_many_attempts` with Retry-After, before the password is
  even checked (an attacker learns nothing more from a throttled guess), until the window
  moves on. Defaults: 5 failures in 15 minutes per account, 50 per address.
- A successful login clears its account's failures (not its address's).
- Registrations count per client address (default 20 an hour), every attempt.
- Without Redis the windows live in the process (`memory://`: one replica's view).
- When Redis fails or does not answer within STORAGE_TIMEOUT_S, throttling fails open (the
  login goes on, a warning is logged): a Redis outage must not lock every user out.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from domain.errors import RateLimited

log = logging.getLogger("numbors.auth")
STORAGE_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class Policy:
    per_account: str = "5/15minutes"
    per_address: str = "50/15minutes"
    registrations_per_address: str = "20/hour"


class Throttle:
    def __init__(self, redis_url: str | None, policy: Policy, prefix: str = "numbors:throttle"):
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
        self.per_account = parse(policy.per_account)
        self.per_address = parse(policy.per_address)
        self.registrations = parse(policy.registrations_per_address)

    async def check_login(self, email: str, address: str | None) -> None:
        """429 when the account or the address has used up its failures."""
        await self._refuse_if_spent(
            (self.per_account, "login:account", email), (self.per_address, "login:ip", address)
        )

    async def login_failed(self, email: str, address: str | None) -> None:
        await self._guarded(self.limiter.hit(self.per_account, "login:account", email))
        if address:
            await self._guarded(self.limiter.hit(self.per_address, "login:ip", address))

    async def login_succeeded(self, email: str) -> None:
        await self._guarded(self.limiter.clear(self.per_account, "login:account", email))

    async def registration(self, address: str | None) -> None:
        """Count a registration attempt from `address`; 429 past the limit."""
        if not address:
            return
        allowed = await self._guarded(self.limiter.hit(self.registrations, "register", address))
        if allowed is False:
            raise await self._refusal(self.registrations, "register", address, "registrations")

    async def _refuse_if_spent(self, *checks: tuple[RateLimitItem, str, str | None]) -> None:
        for item, kind, key in checks:
            if key and await self._guarded(self.limiter.test(item, kind, key)) is False:
                raise await self._refusal(item, kind, key, "failed logins")

    async def _refusal(self, item: RateLimitItem, kind: str, key: str, what: str) -> RateLimited:
        stats = await self._guarded(self.limiter.get_window_stats(item, kind, key))
        reset = stats.reset_time if stats is not None else time.time() + item.get_expiry()
        wait = max(1, math.ceil(reset - time.time()))
        return RateLimited(
            f"too many {what}; try again in {wait} s",
            code="too_many_attempts",
            retry_after=wait,
        )

    async def _guarded(self, call: Awaitable[Any]) -> Any:
        try:
            async with asyncio.timeout(STORAGE_TIMEOUT_S):
                return await call
        except Exception as error:  # fail open: see the module docstring
            log.warning("login throttling skipped: its storage failed: %r", error)
            return None
