"""Argon2id hashing (pwdlib). Hashing is CPU-bound for tens of ms, so it runs off the loop."""

from __future__ import annotations

import asyncio

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_hasher = PasswordHash((Argon2Hasher(),))
# Verified when the email is unknown, so both failures cost one Argon2 verification.
_DUMMY_HASH = _hasher.hash("numbors-timing-equaliser")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, hashed: str | None) -> bool:
    return await asyncio.to_thread(_hasher.verify, password, hashed or _DUMMY_HASH) and bool(hashed)
