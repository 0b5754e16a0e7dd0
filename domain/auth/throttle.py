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
- When Redis fails or does not answer in time, throttling fails open (the login goes on, a
  warning is logged): a Redis outage must not lock every user out (`memory/limits.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import RateLimited
from memory.limits import RateLimitItem, Windows, parse


@dataclass(frozen=True)
class Policy:
    per_account: str = "5/15minutes"
    per_address: str = "50/15minutes"
    registrations_per_address: str = "20/hour"


class Throttle:
    def __init__(self, redis_url: str | None, policy: Policy, prefix: str = "numbors:throttle"):
        self.windows = Windows(redis_url, prefix, "login throttling")
        self.per_account = parse(policy.per_account)
        self.per_address = parse(policy.per_address)
        self.registrations = parse(policy.registrations_per_address)

    async def check_login(self, email: str, address: str | None) -> None:
        """429 when the account or the address has used up its failures."""
        for item, kind, key in (
            (self.per_account, "login:account", email),
            (self.per_address, "login:ip", address),
        ):
            if key and not await self.windows.test(item, kind, key):
                raise await self._refusal(item, kind, key, "failed logins")

    async def login_failed(self, email: str, address: str | None) -> None:
        await self.windows.hit(self.per_account, "login:account", email)
        if address:
            await self.windows.hit(self.per_address, "login:ip", address)

    async def login_succeeded(self, email: str) -> None:
        await self.windows.clear(self.per_account, "login:account", email)

    async def registration(self, address: str | None) -> None:
        """Count a registration attempt from `address`; 429 past the limit."""
        if address and not await self.windows.hit(self.registrations, "register", address):
            raise await self._refusal(self.registrations, "register", address, "registrations")

    async def _refusal(self, item: RateLimitItem, kind: str, key: str, what: str) -> RateLimited:
        wait = await self.windows.wait_s(item, kind, key)
        return RateLimited(
            f"too many {what}; try again in {wait} s", code="too_many_attempts", retry_after=wait
        )
