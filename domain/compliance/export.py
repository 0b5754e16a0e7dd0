"""The company's audit trail, exported as OCSF events, page by page with a keyset cursor.

- What a company exports: its own events (writes, member changes) and the account events
  (logins, logouts, password changes, registration) of its current members. One keyset
  stream over an index range per source (the company, each member), merged in `_id`
  order: no `$or`, no `$in`, no sort of the matches.
- Filters: `class_uid` (6003, 3002, 3001), a time range (`from`, `to`; turned into ObjectId
  bounds, so the range is an index range, at one-second resolution), `after` (the cursor:
  the last `metadata.uid` received; resuming with it misses and repeats nothing).
- Memory stays flat whatever the size: PAGE events at a time per stream, handled a batch at
  a time (per-event async iteration cost more than the store's read: bench/audit.py).
- Events are written by several processes: ids of one second from two processes may land
  out of order by up to the clock skew, so a consumer that resumes while writes are under
  way should resume from a cursor a few seconds old and dedupe by `metadata.uid` (as the
  vouch export does with its lag window).
"""

from __future__ import annotations

import asyncio
import heapq
from bisect import bisect_right
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from bson import ObjectId

from domain.compliance.audit import ACCOUNT_CHANGE, AUTHENTICATION
from domain.compliance.ocsf import to_ocsf
from domain.context import Ctx

PAGE = 1000
ACCOUNT_CLASSES = {AUTHENTICATION, ACCOUNT_CHANGE}


@dataclass(frozen=True)
class Window:
    class_uid: int | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # inclusive, to the second
    after: str | None = None


def _id_bounds(window: Window) -> dict[str, str]:
    bounds: dict[str, str] = {}
    lower = []
    if window.after:
        lower.append(window.after)
    if window.start:
        # the smallest id of that second, minus one: `$gt` keeps the second's first id
        first = str(ObjectId.from_datetime(window.start))
        lower.append(f"{int(first, 16) - 1:024x}")
    if lower:
        bounds["$gt"] = max(lower)
    if window.end:
        bounds["$lt"] = str(ObjectId.from_datetime(window.end + timedelta(seconds=1)))
    return bounds


async def _pages(
    ctx: Ctx, filter: dict[str, Any], bounds: dict[str, str]
) -> AsyncIterator[list[dict[str, Any]]]:
    """Pages of `filter`'s events in `_id` order (keyset: each page starts after the last).

    The next page is read while the caller handles this one (the store reads a scan on its
    own threads, or the database does), so reading and projecting overlap; at most two
    pages are held, and a caller that stops early cancels the read under way."""

    def read(after: dict[str, str]) -> asyncio.Future[list[dict[str, Any]]]:
        query = {**filter, "_id": after} if after else filter
        return asyncio.ensure_future(
            ctx.store.find("audit_events", query, sort=[("_id", 1)], limit=PAGE)
        )

    pending = read(bounds)
    try:
        while True:
            page = await pending
            if len(page) < PAGE:
                if page:
                    yield page
                return
            pending = read({**bounds, "$gt": page[-1]["_id"]})
            yield page
    finally:
        pending.cancel()


async def _members(ctx: Ctx) -> list[str]:
    found = await ctx.store.find("memberships", ctx.scope())
    return [m["user_id"] for m in found]


async def audit_pages(ctx: Ctx, window: Window) -> AsyncIterator[list[dict[str, Any]]]:
    """The company's stored audit events in `_id` order, a batch at a time."""
    bounds = _id_bounds(window)
    own: dict[str, Any] = ctx.scope()
    if window.class_uid is not None:
        own["class_uid"] = window.class_uid
    streams = [_pages(ctx, own, bounds)]
    if window.class_uid is None or window.class_uid in ACCOUNT_CLASSES:
        # one stream per member: an equality on user_id keeps each an index range in _id
        # order (an `$in` makes the store sort every match for each page)
        for user_id in await _members(ctx):
            account: dict[str, Any] = {"realm": "account", "user_id": user_id}
            if window.class_uid is not None:
                account["class_uid"] = window.class_uid
            streams.append(_pages(ctx, account, bounds))
    async for batch in _merge_all(streams):
        yield batch


def _merge_all(
    streams: list[AsyncIterator[list[dict[str, Any]]]],
) -> AsyncIterator[list[dict[str, Any]]]:
    """A balanced tree of two-way merges."""
    if len(streams) == 1:
        return streams[0]
    half = len(streams) // 2
    return _merge(_merge_all(streams[:half]), _merge_all(streams[half:]))


def _id(doc: dict[str, Any]) -> str:
    return doc["_id"]


async def _merge(
    first: AsyncIterator[list[dict[str, Any]]], second: AsyncIterator[list[dict[str, Any]]]
) -> AsyncIterator[list[dict[str, Any]]]:
    """Merge two page streams sorted by `_id` into sorted batches: whatever both buffers
    hold up to the smaller of their last ids is settled (nothing later can come before it)."""
    streams = [first, second]
    buffers: list[list[dict[str, Any]]] = [[], []]
    done = [False, False]
    while True:
        for i in (0, 1):
            if not buffers[i] and not done[i]:
                page = await anext(streams[i], None)
                if page is None:
                    done[i] = True
                else:
                    buffers[i] = page
        if not buffers[0] or not buffers[1]:
            rest = buffers[0] or buffers[1]
            if rest:
                yield rest
            buffers = [[], []]
            live = [streams[i] for i in (0, 1) if not done[i]]
            if not live:
                return
            async for page in live[0]:
                yield page
            return
        bound = min(buffers[0][-1]["_id"], buffers[1][-1]["_id"])
        settled: list[list[dict[str, Any]]] = []
        for i in (0, 1):
            cut = bisect_right(buffers[i], bound, key=_id)
            settled.append(buffers[i][:cut])
            buffers[i] = buffers[i][cut:]
        yield list(heapq.merge(*settled, key=_id))


async def ndjson_pages(ctx: Ctx, window: Window) -> AsyncIterator[bytes]:
    """The company's audit trail as NDJSON (one OCSF event a line), a page of bytes at a
    time: what `GET /api/compliance/export?format=ndjson` streams.

    Each event is projected and serialised at once, so its OCSF containers die before the
    next is built and never reach the cyclic GC (a page of live OCSF dicts made the GC's
    collections most of the export's cost)."""
    dumps, option, project = orjson.dumps, orjson.OPT_APPEND_NEWLINE, to_ocsf
    async for batch in audit_pages(ctx, window):
        yield b"".join([dumps(project(doc), option=option) for doc in batch])


async def ocsf_page(
    ctx: Ctx, window: Window, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """At most `limit` events and the cursor to resume after them (None: nothing more)."""
    events: list[dict[str, Any]] = []
    async for batch in audit_pages(ctx, window):
        events += batch[: limit + 1 - len(events)]
        if len(events) > limit:
            break
    more = len(events) > limit
    page = [to_ocsf(doc) for doc in events[:limit]]
    return page, page[-1]["metadata"]["uid"] if more else None
