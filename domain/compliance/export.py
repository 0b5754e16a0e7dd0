"""The company's audit trail, exported as OCSF events, page by page with a keyset cursor.

- What a company exports: its own events (writes, member changes) and the account events
  (logins, logouts, password changes, registration) of its current members. Two keyset
  streams over indexed `_id`s, merged in `_id` order: no `$or`, no scan.
- Filters: `class_uid` (6003, 3002, 3001), a time range (`from`, `to`; turned into ObjectId
  bounds, so the range is an index range, at one-second resolution), `after` (the cursor:
  the last `metadata.uid` received; resuming with it misses and repeats nothing).
- Memory stays flat whatever the size: PAGE events at a time per stream.
- Events are written by several processes: ids of one second from two processes may land
  out of order by up to the clock skew, so a consumer that resumes while writes are under
  way should resume from a cursor a few seconds old and dedupe by `metadata.uid` (as the
  vouch export does with its lag window).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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


async def _stream(
    ctx: Ctx, filter: dict[str, Any], bounds: dict[str, str]
) -> AsyncIterator[dict[str, Any]]:
    bounds = dict(bounds)
    while True:
        query = {**filter, "_id": bounds} if bounds else filter
        page = await ctx.store.find("audit_events", query, sort=[("_id", 1)], limit=PAGE)
        for doc in page:
            yield doc
        if len(page) < PAGE:
            return
        bounds["$gt"] = page[-1]["_id"]


async def _members(ctx: Ctx) -> list[str]:
    found = await ctx.store.find("memberships", ctx.scope())
    return [m["user_id"] for m in found]


async def audit_events(ctx: Ctx, window: Window) -> AsyncIterator[dict[str, Any]]:
    """The company's stored audit events in `_id` order."""
    bounds = _id_bounds(window)
    own: dict[str, Any] = ctx.scope()
    if window.class_uid is not None:
        own["class_uid"] = window.class_uid
    streams = [_stream(ctx, own, bounds)]
    if window.class_uid is None or window.class_uid in ACCOUNT_CLASSES:
        account: dict[str, Any] = {"realm": "account", "user_id": {"$in": await _members(ctx)}}
        if window.class_uid is not None:
            account["class_uid"] = window.class_uid
        streams.append(_stream(ctx, account, bounds))
    async for doc in _merge(streams):
        yield doc


async def _merge(streams: list[AsyncIterator[dict[str, Any]]]) -> AsyncIterator[dict[str, Any]]:
    """Merge streams sorted by `_id` into one sorted stream."""
    heads: list[tuple[dict[str, Any], AsyncIterator[dict[str, Any]]]] = []
    for stream in streams:
        first = await anext(stream, None)
        if first is not None:
            heads.append((first, stream))
    while heads:
        index = min(range(len(heads)), key=lambda i: heads[i][0]["_id"])
        doc, stream = heads[index]
        yield doc
        following = await anext(stream, None)
        if following is None:
            heads.pop(index)
        else:
            heads[index] = (following, stream)


async def ocsf_events(ctx: Ctx, window: Window) -> AsyncIterator[dict[str, Any]]:
    async for doc in audit_events(ctx, window):
        yield to_ocsf(doc)


async def ocsf_page(
    ctx: Ctx, window: Window, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """At most `limit` events and the cursor to resume after them (None: nothing more)."""
    events: list[dict[str, Any]] = []
    more = False
    async for event in ocsf_events(ctx, window):
        if len(events) == limit:
            more = True
            break
        events.append(event)
    return events, events[-1]["metadata"]["uid"] if more else None
