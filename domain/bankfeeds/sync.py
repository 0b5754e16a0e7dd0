"""Bringing lines in: a feed sync (`POST /api/banking/feeds/sync`) or a statement upload
(`POST /api/banking/feeds/import`), each a job run by a worker (`conductors/bank_sync.py`).

A sync pages through the provider from the connection's stored cursor to `has_more` false,
then writes every line and the new cursor in one transaction, the cursor by a conditional
update on the cursor it started from: a crash before the commit writes nothing (the retried
job pages again from the same cursor), and of two syncs of one connection at once the second
finds the cursor moved and pages again from the new one. A source that changes while it is
paged (`MutationDuringPagination`) restarts the loop from the stored cursor. A provider's
daily limit of calls (`daily_limit`, counted per connection and UTC day) answers
`RateLimited` with the seconds to the next day: the job is rescheduled, not failed.

Writing lines (`apply_entries`): an entry whose key the account already has writes nothing
(so importing a file again writes nothing); a posted entry that `replaces` a pending line
updates that line in place; `removed` keys delete their lines unless reconciled (kept, and
flagged `removed_at_source`). New lines are evaluated (rules, suggestions, auto-created
transactions) in the same transaction. Every key an account's lines were ever known by is
kept in `bank_feed_keys`, unique on (company, account, key): a pending line that posted
keeps its pending key there, so a statement or page that repeats it adds nothing. That
index is the last guard: a duplicate from a concurrent writer (possible on MongoDB; SQLite
serialises writers) rolls the batch back and it is written again against what is stored.

Lines are unique per account rather than per connection: the same FITID imported through
two connections of one account is one line, and one reused by another account is its own.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from domain.bankfeeds import lines as feed_lines
from domain.bankfeeds.connections import CONNECTIONS, connection
from domain.bankfeeds.providers import MutationDuringPagination, RateLimited, provider_for
from domain.bankfeeds.reconcile import COLLECTION, OPEN_STATES
from domain.bankfeeds.statements import Entry, Format, parse
from domain.context import Ctx
from domain.errors import Conflict, Invalid
from domain.fields import Input, ObjectIdStr, ShortText
from domain.money import to_minor
from domain.resources import Doc, JobOperation, PathParam, Ref
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, DuplicateKeyError, declare

KEYS = "bank_feed_keys"
FILES = "bank_feed_files"
SYNC_KIND = "bankfeeds.sync"
IMPORT_KIND = "bankfeeds.import"
MAX_RESTARTS = 5
MAX_CONTENT = 5_000_000
CHUNK = 500
Progress = Callable[[float, str], Awaitable[None]]

# Every key an account's lines were ever known by: a line's own, and a pending line's
# once it posts under another. Unique, so no two writers can both add a key.
declare(
    CollectionSpec(
        KEYS,
        fields=("company_id", "account_id", "key"),
        unique=(("company_id", "account_id", "key"),),
    )
)
# Statement files imported, by the sha256 of their text: the same file again is answered
# without reading it (its lines are all known: the keys would skip each one anyway).
declare(
    CollectionSpec(
        FILES,
        fields=("company_id", "account_id", "digest"),
        unique=(("company_id", "account_id", "digest"),),
    )
)


async def _quiet(value: float, step: str) -> None:
    return None


@dataclass
class Outcome:
    entries: int = 0
    added: int = 0
    replaced: int = 0
    skipped: int = 0
    removed: int = 0
    new: int = 0
    suggested: int = 0
    categorised: int = 0
    reconciled: int = 0


class CursorMoved(Exception):
    """Another sync of the connection stored a cursor since this one started."""


async def apply_entries(
    ctx: Ctx,
    conn: dict[str, Any],
    entries: list[Entry],
    removed: list[str] | None = None,
    *,
    cursor: tuple[str | None, str] | None = None,
    job_id: str | None = None,
    progress: Progress = _quiet,
) -> Outcome:
    for _ in range(MAX_RESTARTS):
        try:
            async with ctx.store.transaction():
                return await _write(ctx, conn, entries, removed or [], cursor, job_id, progress)
        except DuplicateKeyError:
            continue  # a concurrent writer stored some of these keys: write against them
    raise Conflict("the lines kept changing while they were written", code="sync_conflict")


async def _write(
    ctx: Ctx,
    conn: dict[str, Any],
    entries: list[Entry],
    removed: list[str],
    cursor: tuple[str | None, str] | None,
    job_id: str | None,
    progress: Progress,
) -> Outcome:
    outcome = Outcome(entries=len(entries))
    if cursor is not None:
        before, after = cursor
        moved = await ctx.store.update_one(
            "bank_feed_connections",
            ctx.scope(_id=conn["_id"], cursor=before),
            {"$set": {"cursor": after}},
        )
        if moved is None:
            raise CursorMoved()
    account = await ctx.store.find_one("accounts", ctx.scope(_id=conn["account_id"]))
    assert account is not None
    scope = {"account_id": account["_id"]}
    known = await _known(ctx, account["_id"], [e.key for e in entries])
    wanted = [e.replaces for e in entries if e.replaces]
    pending = {
        line["pending_ref"]: line
        for line in await _find(ctx, {**scope, "pending": True}, "pending_ref", wanted)
    }
    evaluator = await feed_lines.Evaluator.load(ctx)
    fresh: list[dict[str, Any]] = []
    posted: list[tuple[str, str]] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries):
        if entry.key in known or entry.key in seen:
            outcome.skipped += 1
            continue
        seen.add(entry.key)
        old = pending.pop(entry.replaces, None) if entry.replaces else None
        if old is not None:
            await _post_pending(ctx, old, entry, account, evaluator)
            posted.append((entry.key, old["_id"]))
            outcome.replaced += 1
            continue
        line = feed_lines.build(conn, account, entry, job_id)
        line.update(await evaluator.settle(ctx, line))
        setattr(outcome, line["status"], getattr(outcome, line["status"]) + 1)
        fresh.append(line)
        if n % CHUNK == CHUNK - 1:
            await progress(0.5 + 0.4 * n / len(entries), "evaluating")
    for start in range(0, len(fresh), CHUNK):
        await ctx.store.insert_many(COLLECTION, fresh[start : start + CHUNK])
    await _remember(ctx, account["_id"], [(x["source_key"], x["_id"]) for x in fresh] + posted)
    outcome.added = len(fresh)
    gone = [key for key in removed if key not in seen]
    if gone:
        open_lines = ctx.scope(**scope, source_key={"$in": gone}, status={"$in": list(OPEN_STATES)})
        outcome.removed = await ctx.store.delete_many(COLLECTION, open_lines)
        await ctx.store.update_many(
            COLLECTION,
            ctx.scope(**scope, source_key={"$in": gone}),
            {"$set": {"removed_at_source": utcnow()}},
        )
    if cursor is not None or outcome.added or outcome.replaced or outcome.removed:
        # a file imported again that brings nothing new writes nothing at all
        await ctx.store.update_one(
            "bank_feed_connections",
            ctx.scope(_id=conn["_id"]),
            {"$set": {"last_synced_at": utcnow(), "last_result": asdict(outcome)}},
        )
    return outcome


async def _find(
    ctx: Ctx, scope: dict[str, Any], field: str, values: list[str]
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        found += await ctx.store.find(COLLECTION, ctx.scope(**scope, **{field: {"$in": chunk}}))
    return found


async def _known(ctx: Ctx, account_id: str, keys: list[str]) -> set[str]:
    """The keys the account has ever seen (a pending key stays known once it posted)."""
    found: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        rows = await ctx.store.find(
            KEYS, ctx.scope(account_id=account_id, key={"$in": keys[start : start + CHUNK]})
        )
        found |= {row["key"] for row in rows}
    return found


async def _remember(ctx: Ctx, account_id: str, keys: list[tuple[str, str]]) -> None:
    rows = [
        {
            "_id": new_id(),
            "company_id": ctx.company_id,
            "account_id": account_id,
            "key": key,
            "line_id": line_id,
        }
        for key, line_id in keys
    ]
    for start in range(0, len(rows), CHUNK):
        await ctx.store.insert_many(KEYS, rows[start : start + CHUNK])


async def _post_pending(
    ctx: Ctx,
    old: dict[str, Any],
    entry: Entry,
    account: dict[str, Any],
    evaluator: feed_lines.Evaluator,
) -> None:
    """The pending line becomes the posted one: same line, the posted key and figures."""
    changes: dict[str, Any] = {
        "source_key": entry.key,
        "pending": False,
        "date": entry.date,
        "amount": to_minor(entry.amount, account["precision"]),
        "description": entry.description[:200],
        "counterparty": (entry.counterparty or "")[:200] or None,
        "reference": (entry.reference or "")[:200] or None,
        "updated_at": utcnow(),
    }
    merged = {**old, **changes}
    if old["status"] in OPEN_STATES:
        changes.update(await evaluator.settle(ctx, merged))
    await ctx.store.update_one(
        COLLECTION,
        ctx.scope(_id=old["_id"]),
        {"$set": changes, "$unset": {"pending_ref": ""}},
    )


# --- a feed sync ---------------------------------------------------------------------------


async def _count_call(ctx: Ctx, conn: dict[str, Any]) -> None:
    """Count a call to the provider against its daily limit, if it has one."""
    limit = (conn.get("sandbox") or {}).get("daily_limit")
    if not limit:
        return
    now = datetime.now(UTC)
    day = now.date().isoformat()
    calls = await ctx.store.next_value(f"{ctx.company_id}:bankfeeds:{conn['_id']}:{day}")
    if calls > limit:
        tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        raise RateLimited(
            f"the bank allows {limit} calls a day for this account; try again tomorrow",
            retry_after=max(1.0, (tomorrow - now).total_seconds()),
        )


async def sync(
    ctx: Ctx, connection_id: str, job_id: str | None = None, progress: Progress = _quiet
) -> dict[str, Any]:
    """Page the connection's provider from its cursor and write what it answered."""
    for restart in range(MAX_RESTARTS):
        conn = await ctx.store.find_one("bank_feed_connections", ctx.scope(_id=connection_id))
        if conn is None:
            raise Invalid(f"connection_id: no connection {connection_id}", code="invalid_reference")
        provider = provider_for(conn)
        start = conn.get("cursor")
        cursor = start
        added: list[Entry] = []
        removed: list[str] = []
        pages = 0
        try:
            while True:
                await _count_call(ctx, conn)
                page = await provider.sync(conn, cursor)
                pages += 1
                added += page.added + page.modified
                removed += page.removed
                cursor = page.next_cursor
                await progress(min(0.45, 0.05 * pages), f"page {pages}")
                if not page.has_more:
                    break
        except MutationDuringPagination:
            await progress(0.0, "restart: the source changed while paging")
            continue
        try:
            outcome = await apply_entries(
                ctx, conn, added, removed, cursor=(start, cursor), job_id=job_id, progress=progress
            )
        except CursorMoved:
            await progress(0.0, "restart: another sync moved the cursor")
            continue
        return {
            "connection_id": connection_id,
            "provider": provider.name,
            "notice": provider.notice,
            "pages": pages,
            "restarts": restart,
            **asdict(outcome),
        }
    raise Conflict("the source kept changing while it was paged", code="sync_conflict")


async def import_statement(
    ctx: Ctx,
    connection_id: str,
    format: Format,
    content: str,
    job_id: str | None = None,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    conn = await ctx.store.find_one("bank_feed_connections", ctx.scope(_id=connection_id))
    if conn is None:
        raise Invalid(f"connection_id: no connection {connection_id}", code="invalid_reference")
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    done = await ctx.store.find_one(FILES, ctx.scope(account_id=conn["account_id"], digest=digest))
    if done is not None:
        # the very same file again: every line of it is known; nothing to read or write
        await progress(0.9, "this file was imported before")
        outcome = Outcome(entries=done["entries"], skipped=done["entries"])
        return {
            "connection_id": connection_id,
            "format": format,
            **asdict(outcome),
            "same_file": True,
        }
    account = await ctx.store.find_one("accounts", ctx.scope(_id=conn["account_id"]))
    number = (account or {}).get("number")
    entries = parse(format, content, conn["currency"], conn.get("csv_mapping"), number)
    await progress(0.4, f"parsed {len(entries)} lines")
    outcome = await apply_entries(ctx, conn, entries, job_id=job_id, progress=progress)
    record = {
        "_id": new_id(),
        "company_id": ctx.company_id,
        "account_id": conn["account_id"],
        "digest": digest,
        "entries": len(entries),
        "job_id": job_id,
        "created_at": utcnow(),
    }
    with contextlib.suppress(DuplicateKeyError):  # two uploads of one file at once
        await ctx.store.insert_one(FILES, record)
    return {"connection_id": connection_id, "format": format, **asdict(outcome), "same_file": False}


# --- the job operations ----------------------------------------------------------------------


class SyncIn(Input):
    connection_id: ObjectIdStr


class SyncConnectionIn(Input):
    """Nothing to send: the connection is the path's."""


class ImportIn(Input):
    connection_id: ObjectIdStr
    format: Literal["ofx", "qfx", "camt053", "csv"] = Field(
        description="ofx and qfx are read alike"
    )
    content: str = Field(
        min_length=1,
        max_length=MAX_CONTENT,
        description="The file's text. The whole request is bounded by NUMBORS_MAX_BODY_BYTES "
        "(1 MB by default, about 7,000 OFX lines): raise it for larger statements.",
    )
    filename: ShortText | None = None


async def _prepare_sync(ctx: Ctx, body: SyncIn) -> dict[str, Any]:
    conn = await connection(ctx, body.connection_id)
    if conn["provider"] == "file":
        raise Conflict(
            "this connection imports files: upload a statement (POST /api/banking/feeds/import)",
            code="not_a_feed",
        )
    return {"connection_id": conn["_id"]}


async def _prepare_connection_sync(ctx: Ctx, body: SyncConnectionIn, id: Doc) -> dict[str, Any]:
    return await _prepare_sync(ctx, SyncIn(connection_id=id["_id"]))


async def _prepare_import(ctx: Ctx, body: ImportIn) -> dict[str, Any]:
    conn = await connection(ctx, body.connection_id)
    if conn["provider"] != "file":
        raise Conflict(
            f"this connection syncs from {conn['provider']}: "
            "sync it (POST /api/banking/feeds/sync)",
            code="not_a_file_connection",
        )
    fmt = "ofx" if body.format == "qfx" else body.format
    if fmt == "csv" and not conn.get("csv_mapping"):
        raise Invalid(
            "format: a CSV import needs the connection's csv_mapping; set it first",
            code="csv_mapping_missing",
            details=[{"field": "format", "message": "no csv_mapping on the connection"}],
        )
    return {
        "connection_id": conn["_id"],
        "format": fmt,
        "content": body.content,
        "filename": body.filename,
    }


SYNC = JobOperation(
    path="banking/feeds/sync",
    summary="Sync a bank feed connection (a job)",
    module="banking",
    tag="Banking",
    kind=SYNC_KIND,
    input=SyncIn,
    prepare=_prepare_sync,
    example={"connection_id": Ref("banking/feeds/connections")},
    description="Pages the connection's provider from its cursor and imports each line once; "
    "progress over SSE.",
    codes={409: ("not_a_feed",)},
)
SYNC_CONNECTION = JobOperation(
    path="banking/feeds/connections/{id}/sync",
    summary="Sync this bank feed connection (a job)",
    module="banking",
    tag="Banking",
    kind=SYNC_KIND,
    input=SyncConnectionIn,
    prepare=_prepare_connection_sync,
    params=(PathParam("id", "The bank feed connection's id", resource=CONNECTIONS),),
    description="The same as `POST /api/banking/feeds/sync` for the connection in the path: "
    "pages its provider from its cursor and imports each line once; progress over SSE.",
    codes={409: ("not_a_feed",)},
)
IMPORT = JobOperation(
    path="banking/feeds/import",
    summary="Import a bank statement file (OFX/QFX, CAMT.053, CSV) (a job)",
    module="banking",
    tag="Banking",
    kind=IMPORT_KIND,
    input=ImportIn,
    prepare=_prepare_import,
    example={
        "connection_id": Ref("banking/feeds/connections"),
        "format": "csv",
        "content": "date,description,amount\n2026-11-20,Coffee,-4.50\n",
    },
    description="Parses the file in a worker and imports each line once: importing the same "
    "file again writes nothing.",
)
