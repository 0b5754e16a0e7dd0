"""CI failures into deduplicated bugs (`POST /api/tai/e2e-fix`).

One post is one failed test in one CI run. Its fingerprint (`grouping.py`: explicit
fingerprint > in-app frames > error type and normalised message > test id) names the bug:
the first post of a fingerprint creates it (`source` e2e, status open), every later one adds
an occurrence (count, last seen, the run's commit, branch and environment). Concurrent
posts of one failure make one bug: the bug's fingerprint is unique in the company and a post
runs in one transaction (on a lost race the post is retried and counts on the winner's
bug), so 1,000 concurrent posts make one bug with 1,000 occurrences. Posts that arrive
together are written together, in one transaction (`_GroupCommit`: group commit).

Retries of the same post are counted once: a failure with a `run_id` is keyed by run, test
and attempt (CI re-sending its webhook is not a new failure); without a `run_id` every post
counts.

Flaky: a post with `passed_on_retry` (the test failed, then passed on a retry) marks the
bug flaky and counts a flaky occurrence; it is surfaced, never dropped as green
(Agenta-AI/agenta #6912).

Regression: a fixed or closed bug failing again becomes `regressed` (its `regressions`
count and `regressed_at` set; logged once) unless the failure comes from a commit already
seen failing for that bug: that is a late report of the old failure (a run that started
before the fix), counted but not a regression (getsentry/sentry #104513). A wontfix bug
only counts. A failure without a commit regresses (nothing tells it is old).
"""

from __future__ import annotations

import asyncio
import re
import weakref
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain import resources
from domain.context import Ctx
from domain.errors import Conflict
from domain.fields import Input, Name, ShortText, StrictBool, StrictInt
from domain.tai import bugs, grouping, log
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, DocumentStore, DuplicateKeyError, declare

OCCURRENCES = "tai_occurrences"
ATTEMPTS = 5
BATCH = 200
NOT_AREAS = {
    "tests", "test", "e2e", "spec", "specs", "src", "app", "cypress", "playwright",
    "integration", "__tests__", "features", "web", "frontend", "backend",
}  # fmt: skip

declare(
    CollectionSpec(
        OCCURRENCES,
        fields=("company_id", "fingerprint", "commit", "created_at"),
        indexes=(
            ("company_id", "fingerprint", "commit"),
            ("company_id", "created_at"),
        ),
        unique=(("company_id", "key"),),
    )
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)]
Stack = Annotated[str, StringConstraints(max_length=100_000)]


class FailureIn(Input):
    test_id: Name = Field(description="The test's stable id (e.g. its file and title)")
    test_name: ShortText | None = None
    file: ShortText | None = Field(None, description="The test file")
    suite: ShortText | None = None
    error_type: ShortText | None = Field(None, description="e.g. AssertionError, TimeoutError")
    message: Text | None = None
    stack: Stack | None = Field(None, description="The stack trace as the runner printed it")
    fingerprint: list[ShortText] | None = Field(
        None,
        min_length=1,
        max_length=10,
        description="Explicit grouping, as Sentry's; `{{ default }}` stands for Tai's own",
    )
    run_id: ShortText | None = Field(None, description="The CI run; retries of a post dedupe")
    commit: ShortText | None = None
    branch: ShortText | None = None
    environment: ShortText | None = None
    attempt: StrictInt = Field(1, ge=1, le=100)
    passed_on_retry: StrictBool = Field(False, description="Failed, then passed on a retry")
    domain: bugs.DomainName | None = Field(None, description="Default: from the test's path")
    severity: bugs.Severity = "medium"


class GroupingOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    components: list[str]
    version: str


class TriageOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bug: bugs.BUGS.read  # type: ignore[name-defined]
    created: bool = Field(description="This failure opened the bug")
    counted: bool = Field(description="False for a repeat of a post already counted")
    regressed: bool = Field(description="This failure moved a fixed bug to regressed")
    grouping: GroupingOut


def area(failure: FailureIn) -> str:
    """The product area of a failure: as sent, else the test path's first directory that
    names one (`tests/e2e/invoices/totals.spec.ts` -> invoices), else `general`."""
    if failure.domain:
        return failure.domain
    for source in (failure.file, failure.test_id, failure.suite):
        if not source:
            continue
        parts = re.split(r"[\\/]", source.lower())
        for part in parts[:-1] if len(parts) > 1 else parts[:0]:
            slug = re.sub(r"[^a-z0-9_-]", "", part)
            if slug and slug not in NOT_AREAS and re.match(r"^[a-z]", slug):
                return slug[:64]
    return "general"


def _title(failure: FailureIn) -> str:
    lines = (failure.message or "").strip().splitlines()
    first = grouping.normalise(lines[0]) if lines else ""
    if failure.error_type or first:
        head = ": ".join(p for p in (failure.error_type, first) if p)
        return f"{head} ({failure.test_name or failure.test_id})"[:200]
    return f"E2E failure: {failure.test_name or failure.test_id}"[:200]


def _description(failure: FailureIn) -> str:
    where = " ".join(
        p
        for p in (
            f"in {failure.file}" if failure.file else "",
            f"on {failure.branch}" if failure.branch else "",
            f"at {failure.commit}" if failure.commit else "",
            f"({failure.environment})" if failure.environment else "",
        )
        if p
    )
    text = f"Test {failure.test_id} failed {where}".strip() + "."
    if failure.message:
        text += f"\n\n{failure.message}"
    if failure.stack:
        text += f"\n\n{failure.stack}"
    return text[:5000]


def _environment(failure: FailureIn) -> str:
    return re.sub(r"[^a-z0-9_-]", "_", (failure.environment or "unknown").lower())[:64]


def _key(failure: FailureIn) -> str:
    if failure.run_id is None:
        return new_id()
    return "\x1f".join((failure.run_id, failure.test_id, str(failure.attempt)))


async def triage(ctx: Ctx, failure: FailureIn) -> dict[str, Any]:
    group = grouping.group(
        fingerprint=failure.fingerprint,
        stack=failure.stack,
        error_type=failure.error_type,
        message=failure.message,
        test_id=failure.test_id,
    )
    post = _Post(ctx, failure, group, _key(failure), asyncio.get_running_loop().create_future())
    outcome = await _writer(ctx.store).submit(post)
    return {
        **outcome,
        "bug": await resources.view(ctx, bugs.BUGS, outcome["bug"]),
        "grouping": {
            "kind": group.kind,
            "components": list(group.components),
            "version": grouping.VERSION,
        },
    }


@dataclass
class _Post:
    ctx: Ctx
    failure: FailureIn
    group: grouping.Grouping
    key: str
    done: asyncio.Future[dict[str, Any]]


class _GroupCommit:
    """The posts waiting for the store's writer, written together: one transaction holds
    every post that arrived while the previous one was being written (at most `BATCH`).
    A transaction per post spends most of its time beginning and committing, and SQLite
    writes one transaction at a time anyway. A batch that fails (a race lost to another
    process on MongoDB) is written again post by post, each with its own retries; no
    post is answered before its transaction has committed."""

    def __init__(self) -> None:
        self.waiting: list[_Post] = []
        self.writer: asyncio.Task[None] | None = None

    async def submit(self, post: _Post) -> dict[str, Any]:
        self.waiting.append(post)
        if self.writer is None:
            self.writer = asyncio.create_task(self._write())
        return await post.done

    async def _write(self) -> None:
        batch: list[_Post] = []
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:BATCH], self.waiting[BATCH:]
                await self._commit(batch)
        except BaseException as error:
            for post in [*batch, *self.waiting]:
                if not post.done.done():
                    post.done.set_exception(error)
            self.waiting = []
            raise
        finally:
            self.writer = None

    async def _commit(self, batch: list[_Post]) -> None:
        store = batch[0].ctx.store
        try:
            async with store.transaction():
                outcomes = [await _ingest(p.ctx, p.failure, p.group, p.key) for p in batch]
        except Exception:
            for post in batch:
                try:
                    outcome = await _alone(post)
                except Exception as error:
                    if not post.done.done():
                        post.done.set_exception(error)
                    continue
                if not post.done.done():
                    post.done.set_result(outcome)
            return
        for post, outcome in zip(batch, outcomes, strict=True):
            if not post.done.done():
                post.done.set_result(outcome)


_WRITERS: weakref.WeakKeyDictionary[DocumentStore, _GroupCommit] = weakref.WeakKeyDictionary()


def _writer(store: DocumentStore) -> _GroupCommit:
    writer = _WRITERS.get(store)
    if writer is None:
        writer = _WRITERS[store] = _GroupCommit()
    return writer


async def _alone(post: _Post) -> dict[str, Any]:
    """One post in its own transaction, retried when another process created the bug
    between our read and our insert (the unique fingerprint refused ours)."""
    ctx = post.ctx
    for _ in range(ATTEMPTS):
        try:
            async with ctx.store.transaction():
                return await _ingest(ctx, post.failure, post.group, post.key)
        except DuplicateKeyError as error:
            if error.collection == OCCURRENCES:
                return await _replay(ctx, post.group)
    raise Conflict("the failure could not be recorded; send it again", code="busy")


async def _replay(ctx: Ctx, group: grouping.Grouping) -> dict[str, Any]:
    bug = await ctx.store.find_one(bugs.COLLECTION, ctx.scope(fingerprint=group.hash))
    assert bug is not None  # an occurrence is written with its bug, in one transaction
    return {"bug": bug, "created": False, "counted": False, "regressed": False}


async def _ingest(
    ctx: Ctx, failure: FailureIn, group: grouping.Grouping, key: str
) -> dict[str, Any]:
    if await ctx.store.find_one(OCCURRENCES, ctx.scope(key=key)) is not None:
        return await _replay(ctx, group)
    now = utcnow()
    existing = await ctx.store.find_one(bugs.COLLECTION, ctx.scope(fingerprint=group.hash))
    known_commit = (
        existing is not None
        and existing["status"] in ("fixed", "closed")
        and failure.commit is not None
        and await ctx.store.count(
            OCCURRENCES, ctx.scope(fingerprint=group.hash, commit=failure.commit)
        )
        > 0
    )
    await ctx.store.insert_one(
        OCCURRENCES,
        {
            "_id": new_id(),
            "company_id": ctx.company_id,
            "key": key,
            "fingerprint": group.hash,
            "test_id": failure.test_id,
            "run_id": failure.run_id,
            "commit": failure.commit,
            "branch": failure.branch,
            "environment": failure.environment,
            "attempt": failure.attempt,
            "passed_on_retry": failure.passed_on_retry,
            "created_at": now,
        },
    )
    env = _environment(failure)
    last = {
        "last_seen_at": now,
        "last_commit": failure.commit,
        "last_branch": failure.branch,
        "last_environment": failure.environment,
        "last_run_id": failure.run_id,
    }
    if existing is None:
        doc = await resources.insert(
            ctx,
            bugs.BUGS,
            {
                "title": _title(failure),
                "description": _description(failure),
                "domain": area(failure),
                "severity": failure.severity,
                "source": "e2e",
                "fingerprint": group.hash,
                "grouping": {"kind": group.kind, "components": list(group.components)},
                "occurrences": 1,
                "first_seen_at": now,
                "flaky": failure.passed_on_retry,
                "flaky_occurrences": int(failure.passed_on_retry),
                "regressions": 0,
                "test_id": failure.test_id,
                "test_name": failure.test_name,
                "test_file": failure.file,
                "suite": failure.suite,
                "environments": {env: 1},
                **last,
            },
        )
        return {"bug": doc, "created": True, "counted": True, "regressed": False}
    regresses = existing["status"] in ("fixed", "closed") and not known_commit
    update: dict[str, Any] = {
        "$inc": {
            "occurrences": 1,
            f"environments.{env}": 1,
            "flaky_occurrences": int(failure.passed_on_retry),
            "regressions": int(regresses),
        },
        "$set": {**last, "updated_at": now},
    }
    if failure.passed_on_retry:
        update["$set"]["flaky"] = True
    if regresses:
        update["$set"].update(status="regressed", regressed=True, regressed_at=now)
    doc = await ctx.store.update_one(bugs.COLLECTION, ctx.scope(_id=existing["_id"]), update)
    assert doc is not None
    if regresses:
        await log.record(
            ctx,
            "bug.regressed",
            f"Bug {doc['title']!r} regressed: {failure.test_id} failed again"
            + (f" at {failure.commit}" if failure.commit else ""),
            bug_id=doc["_id"],
            previous=existing["status"],
            commit=failure.commit,
        )
    if failure.passed_on_retry and not existing.get("flaky"):
        await log.record(
            ctx,
            "bug.flaky",
            f"Bug {doc['title']!r} is flaky: {failure.test_id} passed on retry",
            bug_id=doc["_id"],
        )
    return {"bug": doc, "created": False, "counted": True, "regressed": regresses}
