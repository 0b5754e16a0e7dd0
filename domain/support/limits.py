"""Abuse limits of the public chat: moving windows (`memory/limits.py`, as the login
throttle) kept in Redis so every API replica shares them (in the process without Redis).

Every chat message counts against its client address and, once it has one, its session
(defaults: 30 a minute per address, 10 a minute per session, 300 a day per session); past
one, the message is refused with 429 `rate_limited` and Retry-After before anything is
stored or enqueued. A history read counts against the address only (120 a minute). When
Redis fails, the limits fail open (logged): an outage of the limiter must not silence
every company's support.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import RateLimited
from memory.limits import RateLimitItem, Windows, parse


@dataclass(frozen=True)
class Policy:
    per_address: str = "30/minute"
    per_session: str = "10/minute"
    per_session_daily: str = "300/day"
    reads_per_address: str = "120/minute"


class ChatLimits:
    def __init__(self, redis_url: str | None, policy: Policy, prefix: str = "numbors:support"):
        self.windows = Windows(redis_url, prefix, "support chat limits")
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
            if not await self.windows.hit(item, kind, key):
                raise await self._refusal(item, kind, key)

    async def opened(self, session_id: str) -> None:
        """Count a session's first message (sent before it had an id) against it."""
        for item in self.per_session:
            await self.windows.hit(item, "chat:session", session_id)

    async def read(self, address: str | None) -> None:
        if address and not await self.windows.hit(self.reads, "read:ip", address):
            raise await self._refusal(self.reads, "read:ip", address)

    async def _refusal(self, item: RateLimitItem, kind: str, key: str) -> RateLimited:
        wait = await self.windows.wait_s(item, kind, key)
        who = "this address" if kind.endswith(":ip") else "this chat"
        return RateLimited(f"too many messages from {who}; try again in {wait} s", retry_after=wait)
