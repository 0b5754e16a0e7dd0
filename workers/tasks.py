"""Task functions: thin (load, call a conductor, publish, persist)."""

from __future__ import annotations

from typing import Any


async def ping(ctx: dict[str, Any]) -> str:
    """A no-op round trip: proves a worker is consuming the queue."""
    await ctx["store"].ping()
    return "pong"
