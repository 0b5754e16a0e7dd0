"""Tokens die with their user: what makes a validly signed, unexpired token refused (401).

- its user does not exist (never did, or was deleted): `user_unknown`;
- its user is disabled: `user_disabled`;
- it was issued before the user's last password change or "log out everywhere": each bumps
  the user's `token_version`, and a token carries the version it was issued at (`ver`):
  `token_revoked`;
- it was logged out (`POST /api/auth/logout`): its `jti` is in `revoked_tokens` until it
  would have expired anyway: `token_revoked`.

Cheap on every request: each process keeps, per user, the user's state (exists, disabled,
token version, revoked jtis) for CACHE_TTL_S; a request costs a dict lookup, and the store
is read (two indexed reads) once per user per CACHE_TTL_S. So a revocation reaches every
replica within CACHE_TTL_S, and the replica that revoked forgets its copy at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from domain.errors import Unauthenticated
from memory.store import CollectionSpec, DocumentStore, declare

REVOKED_TOKENS = declare(CollectionSpec("revoked_tokens", indexes=(("user_id", "expires_at"),)))
CACHE_TTL_S = 2.0
CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class UserState:
    exists: bool
    disabled: bool
    version: int
    revoked: frozenset[str]
    loaded_at: float


class Sessions:
    def __init__(self, ttl_s: float = CACHE_TTL_S, max_users: int = CACHE_MAX) -> None:
        self.ttl_s = ttl_s
        self.max_users = max_users
        self._states: dict[str, UserState] = {}

    async def check(self, store: DocumentStore, user_id: str, jti: str, version: int) -> None:
        state = self._states.get(user_id)
        if state is None or time.monotonic() - state.loaded_at > self.ttl_s:
            state = await self._load(store, user_id)
        if not state.exists:
            raise Unauthenticated("the token's user no longer exists", code="user_unknown")
        if state.disabled:
            raise Unauthenticated("this account is disabled", code="user_disabled")
        if version < state.version or jti in state.revoked:
            raise Unauthenticated("this token was revoked; log in again", code="token_revoked")

    def forget(self, user_id: str) -> None:
        """Drop this process's copy (after a revocation here, the next request reloads)."""
        self._states.pop(user_id, None)

    async def _load(self, store: DocumentStore, user_id: str) -> UserState:
        user = await store.find_one("users", {"_id": user_id})
        revoked: frozenset[str] = frozenset()
        if user is not None:
            now = int(time.time())
            found = await store.find(
                "revoked_tokens", {"user_id": user_id, "expires_at": {"$gt": now}}
            )
            revoked = frozenset(doc["_id"] for doc in found)
        state = UserState(
            exists=user is not None,
            disabled=bool(user and user.get("disabled")),
            version=int(user.get("token_version", 0)) if user else 0,
            revoked=revoked,
            loaded_at=time.monotonic(),
        )
        if len(self._states) >= self.max_users and user_id not in self._states:
            del self._states[next(iter(self._states))]  # the oldest
        self._states[user_id] = state
        return state


async def revoke(store: DocumentStore, user_id: str, jti: str, expires_at: int) -> None:
    """Deny this one token until it expires (idempotent)."""
    if await store.find_one("revoked_tokens", {"_id": jti}) is None:
        await store.insert_one(
            "revoked_tokens", {"_id": jti, "user_id": user_id, "expires_at": expires_at}
        )


async def revoke_all(store: DocumentStore, user_id: str) -> int:
    """Every token issued so far dies: the user's token version moves on. The new version."""
    user = await store.update_one("users", {"_id": user_id}, {"$inc": {"token_version": 1}})
    if user is None:
        raise Unauthenticated("the token's user no longer exists", code="user_unknown")
    return int(user["token_version"])
