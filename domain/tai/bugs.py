"""Bugs: what the dev team tracks, reported by hand (`POST /api/tai/bug`) or triaged from CI
failures (`POST /api/tai/e2e-fix`, `triage.py`).

Fields (collection `tai_bugs`):
- `title`, `description`, `domain` (the product area, lower-case: `invoices`, `inventory`;
  `general` when not known), `severity` (critical, high, medium, low), `assignee` (a person
  or an expert's name), `feature_id` (the feature it belongs to, in the company),
  `sprint_id` (the sprint it is planned in, not closed);
- `status`, the lifecycle below;
- server-owned: `source` (`manual` or `e2e`), `fingerprint` (the grouping hash of its CI
  failures; none for a bug reported by hand) and `grouping` (what the hash is made of:
  kind and components, so a user can see why two failures are one bug), `occurrences`
  (how many failures it stands for; 1 for a bug reported by hand), `first_seen_at`,
  `last_seen_at`, `flaky` and `flaky_occurrences` (failed, then passed on retry),
  `regressions`, `regressed` (has regressed at least once) and `regressed_at`,
  `fixed_at`, the test it fails (`test_id`, `test_name`, `test_file`, `suite`), the last
  CI run that reported it (`last_commit`, `last_branch`, `last_environment`,
  `last_run_id`), `environments` (occurrences per environment) and `status_note` (the
  note of the last status change made through `set_status`).

Lifecycle: `open` -> `triaged` -> `in_progress` -> `fixed` -> `closed`, with `wontfix`
(ignored) and `regressed`. A fixed or closed bug whose failure comes back is `regressed`
(set by triage only, never by hand); `reopen` brings a fixed, closed or wontfix bug back to
open. Open work is open, triaged, in_progress and regressed (`OPEN`). The issue's "new" is
`open`, "ignored" is `wontfix`, and "verified" is `closed` (a fix someone checked).

For other areas (the bug-fix conductor): `open_bugs(ctx, domain)` lists the open work of a
domain, most severe first; `set_status(ctx, bug_id, status, note)` moves a bug through the
lifecycle with the same rules as the HTTP actions (409 for a move the lifecycle refuses) and
logs the note. Every status change is in Tai's log (`log.py`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from domain import resources
from domain.context import Ctx
from domain.errors import Invalid
from domain.fields import LongText, Name, ObjectIdStr, ShortText
from domain.resources import Action, Alias, Declared, Hooks, Lifecycle, Resource, Server
from domain.tai import log, scope
from memory.ids import utcnow
from memory.store import CollectionSpec, declare

COLLECTION = scope.BUGS
Severity = Literal["critical", "high", "medium", "low"]
Status = Literal["open", "triaged", "in_progress", "fixed", "regressed", "closed", "wontfix"]
STATES: tuple[str, ...] = Status.__args__  # type: ignore[attr-defined]
OPEN: tuple[str, ...] = ("open", "triaged", "in_progress", "regressed")
DONE: tuple[str, ...] = ("fixed", "closed", "wontfix")
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
DomainName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z][a-z0-9_-]{0,63}$"),
]

declare(
    CollectionSpec(
        COLLECTION,
        fields=("company_id", "status", "domain", "severity", "created_at"),
        indexes=(
            ("company_id", "status", "domain"),
            ("company_id", "domain", "status"),
            ("company_id", "severity"),
            ("company_id", "source"),
            ("company_id", "flaky"),
            ("company_id", "feature_id"),
            ("company_id", "sprint_id"),
            ("company_id", "test_id"),
            ("company_id", "title"),
            ("company_id", "occurrences"),
            ("company_id", "last_seen_at"),
            ("company_id", "regressions"),
            ("company_id", "regressed"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("company_id", "fingerprint"),),
    )
)


class BugFields(Declared):
    title: Name
    description: LongText | None = None
    domain: DomainName = Field("general", description="The product area, e.g. invoices")
    severity: Severity = "medium"
    status: Status = Field("open", description="Created open; then through the actions")
    assignee: ShortText | None = Field(None, description="A person or an expert's name")
    feature_id: ObjectIdStr | None = Field(None, description="The feature it belongs to")
    sprint_id: ObjectIdStr | None = Field(None, description="The sprint it is planned in")
    source: Server[Literal["manual", "e2e"]] = "manual"
    fingerprint: Server[str | None] = None
    grouping: Server[dict[str, Any] | None] = None
    occurrences: Server[int] = 1
    first_seen_at: Server[str]
    last_seen_at: Server[str]
    flaky: Server[bool] = False
    flaky_occurrences: Server[int] = 0
    regressions: Server[int] = 0
    regressed: Server[bool] = Field(False, description="It has regressed at least once")
    regressed_at: Server[str | None] = None
    fixed_at: Server[str | None] = None
    test_id: Server[str | None] = None
    test_name: Server[str | None] = None
    test_file: Server[str | None] = None
    suite: Server[str | None] = None
    last_commit: Server[str | None] = None
    last_branch: Server[str | None] = None
    last_environment: Server[str | None] = None
    last_run_id: Server[str | None] = None
    environments: Server[dict[str, int]] = Field(default_factory=dict)
    status_note: Server[str | None] = None


OPTIONAL = tuple(name for name, info in BugFields.model_fields.items() if not info.is_required())


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    await scope.check_feature(ctx, data.get("feature_id"))
    await scope.check_sprint(ctx, data.get("sprint_id"))
    now = utcnow()
    return {
        "source": "manual",
        "occurrences": 1,
        "first_seen_at": now,
        "last_seen_at": now,
        "flaky": False,
        "flaky_occurrences": 0,
        "regressions": 0,
        "regressed": False,
        "environments": {},
        **data,
    }


async def _after_create(ctx: Ctx, doc: dict[str, Any]) -> None:
    how = "from CI" if doc.get("source") == "e2e" else "by hand"
    await log.record(
        ctx,
        "bug.created",
        f"Bug {doc['title']!r} ({doc['severity']}, {doc['domain']}) reported {how}",
        bug_id=doc["_id"],
        source=doc.get("source", "manual"),
    )
    await scope.moved(ctx, "bug", doc["_id"], None, doc.get("sprint_id"))


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    if "feature_id" in changes:
        await scope.check_feature(ctx, changes["feature_id"])
    if "sprint_id" in changes:
        await scope.check_sprint(ctx, changes["sprint_id"])
        await scope.moved(
            ctx, "bug", existing["_id"], existing.get("sprint_id"), changes["sprint_id"]
        )
    return changes


async def _entered(ctx: Ctx, doc: dict[str, Any], previous: str) -> None:
    state = doc["status"]
    if state == "fixed":
        await ctx.store.update_one(
            COLLECTION, ctx.scope(_id=doc["_id"]), {"$set": {"fixed_at": utcnow()}}
        )
    await log.record(
        ctx,
        f"bug.{state}",
        f"Bug {doc['title']!r}: {previous} -> {state}",
        bug_id=doc["_id"],
        previous=previous,
    )


def present(doc: dict[str, Any]) -> dict[str, Any]:
    return {**dict.fromkeys(OPTIONAL), "environments": {}, **doc}


BUGS = Resource(
    name="tai/bugs",
    aliases=(Alias("create", "tai/bug", summary="Report a bug"),),
    label="bug",
    collection=COLLECTION,
    module="tai",
    tag="Tai Dev Lifecycle",
    fields=BugFields,
    search=("title", "test_name"),
    filters={
        "status": "eq",
        "domain": "eq",
        "severity": "eq",
        "source": "eq",
        "flaky": "eq",
        "regressed": "eq",
        "feature_id": "eq",
        "sprint_id": "eq",
        "test_id": "eq",
    },
    sort=("created_at", "updated_at", "last_seen_at", "occurrences", "regressions", "title"),
    default_sort="-last_seen_at",
    date_field="last_seen_at",
    hooks=Hooks(
        before_create=_before_create, after_create=_after_create, before_update=_before_update
    ),
    lifecycle=Lifecycle(states=STATES, initial=("open",), on_enter=dict.fromkeys(STATES, _entered)),
    actions=(
        Action("triage", "Triage a bug", from_states=("open", "regressed"), to="triaged"),
        Action(
            "start",
            "Start work on a bug",
            from_states=("open", "triaged", "regressed"),
            to="in_progress",
        ),
        Action("fix", "Mark a bug fixed", from_states=OPEN, to="fixed"),
        Action("close", "Close a fixed bug (verified)", from_states=("fixed",), to="closed"),
        Action("wontfix", "Decide not to fix a bug", from_states=OPEN, to="wontfix"),
        Action("reopen", "Reopen a bug", from_states=DONE, to="open"),
    ),
    present=present,
    example={
        "title": "Invoice total ignores line discounts",
        "description": "A 10% line discount is not applied to the invoice total.",
        "domain": "invoices",
        "severity": "high",
    },
    description="Bugs reported by hand or triaged from CI failures (deduplicated by "
    "fingerprint). Filter by status, domain, severity, source, flaky; "
    "`regressed=true` is `status=regressed`.",
)


async def open_bugs(ctx: Ctx, domain: str | None = None) -> list[dict[str, Any]]:
    """The open work (open, triaged, in progress, regressed) of `domain` (all when None),
    most severe first, then most frequent: presented as the API answers them (`id`)."""
    filter: dict[str, Any] = {"status": {"$in": list(OPEN)}}
    if domain is not None:
        filter["domain"] = domain.strip().lower()
    docs = await ctx.store.find(COLLECTION, ctx.scope(**filter))
    docs.sort(key=lambda d: (SEVERITY_RANK[d["severity"]], -d.get("occurrences", 1), d["_id"]))
    return await resources.view_many(ctx, BUGS, docs)


async def set_status(ctx: Ctx, bug_id: str, status: str, note: str | None = None) -> dict[str, Any]:
    """Move a bug to `status` through the lifecycle (400 unknown status, 404 not in the
    company, 409 a move the lifecycle refuses); the same status again only records the note.
    Answers the bug as the API presents it."""
    if status not in STATES:
        raise Invalid(
            f"status: {status!r} is not a bug status; one of {', '.join(STATES)}",
            details=[{"field": "status", "message": f"one of {', '.join(STATES)}"}],
        )
    async with ctx.store.transaction():
        doc = await resources.fetch(ctx, BUGS, bug_id)
        if status != doc["status"]:
            doc = await resources.transition(ctx, BUGS, doc, status)
        if note:
            doc = (
                await ctx.store.update_one(
                    COLLECTION,
                    ctx.scope(_id=bug_id),
                    {"$set": {"status_note": note, "updated_at": utcnow()}},
                )
                or doc
            )
            await log.record(ctx, "bug.note", f"Bug {doc['title']!r}: {note}", bug_id=bug_id)
    return await resources.view(ctx, BUGS, doc)
