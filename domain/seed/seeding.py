"""Applying a seed: each seeder creates its objects through the domain, idempotently.

Every object a seeder makes has a key, `<tag>:<seeder>:<name>` with the tag
`<profile>:<seed>`, stored in `tai_seed_keys` (unique per company) in the same transaction
as the object itself (and whatever its creation posts to the ledger). Making a key that
exists answers the object made before, so a retried job, a seeder resumed half-way or a
profile applied twice creates nothing twice. Objects are created with `resources.insert`
after their resource's own Create model has validated the payload: every rule of the area
runs (numbering, totals, posting, payments' limits), so the books balance afterwards.

Content is deterministic for a given profile, seed and as-of date: each seeder draws from
its own `random.Random("<tag>:<seeder>")` and dates are days before `as_of` (fixed in the
job's input, so a retry computes the same objects).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from domain.context import Ctx
from domain.resources import Resource, insert
from domain.resources.registry import registry
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

KEYS = "tai_seed_keys"
RUNS = "tai_seed_runs"

declare(
    CollectionSpec(
        KEYS,
        fields=("company_id", "key", "tag", "seeder", "group", "position", "resource"),
        indexes=(("company_id", "tag", "seeder", "group", "position"), ("company_id", "seeder")),
        unique=(("company_id", "key"),),
    )
)
declare(
    CollectionSpec(
        RUNS,
        fields=("company_id", "kind", "status", "created_at"),
        indexes=(("company_id", "kind", "created_at"), ("company_id", "created_at")),
    )
)

After = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Seeding:
    """What one seeder sees: the company, its counts, randomness and what came before."""

    ctx: Ctx
    tag: str
    seeder: str
    as_of: date
    counts: dict[str, int]
    made: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.tag}:{self.seeder}")

    def count(self, what: str) -> int:
        return self.counts.get(what, 0)

    def day(self, days_ago: int) -> str:
        return (self.as_of - timedelta(days=days_ago)).isoformat()

    def suffix(self) -> str:
        """Short and stable per tag: keeps seeded names and emails apart between seeds."""
        return self.tag.replace(":", "-")

    async def make(
        self, name: str, resource: str | Resource, data: dict[str, Any], after: After | None = None
    ) -> str:
        """The object keyed `name` (`<group>-<position>`, e.g. `customer-3`) of this seeder:
        found, or created (with `after`, e.g. a state change, in the same transaction)."""
        ctx = self.ctx
        key = f"{self.tag}:{self.seeder}:{name}"
        declared = resource if isinstance(resource, Resource) else registry().resource(resource)
        async with ctx.store.transaction():
            found = await ctx.store.find_one(KEYS, ctx.scope(key=key))
            if found is not None:
                return found["object_id"]
            payload = declared.create.model_validate(data).model_dump(
                mode="json", exclude_none=True
            )
            doc = await insert(ctx, declared, payload)
            if after is not None:
                await after(doc)
            await ctx.store.insert_one(
                KEYS,
                {
                    "_id": new_id(),
                    "company_id": ctx.company_id,
                    "key": key,
                    "tag": self.tag,
                    "seeder": self.seeder,
                    "resource": declared.path,
                    **_group(name),
                    "object_id": doc["_id"],
                    "created_at": utcnow(),
                },
            )
        self.made += 1
        return doc["_id"]

    async def has(self, name: str) -> bool:
        key = f"{self.tag}:{self.seeder}:{name}"
        return await self.ctx.store.find_one(KEYS, self.ctx.scope(key=key)) is not None

    async def ids(self, seeder: str, group: str) -> list[str]:
        """The objects of `group` an earlier seeder of this tag made, by position."""
        rows = await self.ctx.store.find(
            KEYS,
            self.ctx.scope(tag=self.tag, seeder=seeder, group=group),
            sort=[("position", 1)],
        )
        return [row["object_id"] for row in rows]


def _group(name: str) -> dict[str, Any]:
    group, _, position = name.rpartition("-")
    if group and position.isdigit():
        return {"group": group, "position": int(position)}
    return {"group": name, "position": 0}


async def state(ctx: Ctx) -> dict[str, Any]:
    """What was seeded in the company: objects per seeder and resource, and the runs."""
    groups = await ctx.store.sum_by(KEYS, ctx.scope(), ["seeder", "resource", "tag"], [])
    per: dict[tuple[str, str], int] = {}
    tags: dict[str, int] = {}
    for row in groups:
        what = (row["seeder"], row["resource"])
        per[what] = per.get(what, 0) + row["count"]
        tags[row["tag"]] = tags.get(row["tag"], 0) + row["count"]
    runs = await ctx.store.find(RUNS, ctx.scope(), sort=[("created_at", -1)], limit=20)
    last = next((r for r in runs if r["kind"] == "apply"), None)
    return {
        "seeded": bool(groups),
        "objects": sum(tags.values()),
        "by_seeder": [
            {"seeder": s, "resource": r, "count": n} for (s, r), n in sorted(per.items())
        ],
        "seeds": [{"tag": t, "objects": n} for t, n in sorted(tags.items())],
        "last_run": _run_view(last) if last else None,
        "runs": [_run_view(r) for r in runs],
    }


def _run_view(run: dict[str, Any]) -> dict[str, Any]:
    keys = ("kind", "status", "profile", "size", "seed", "created", "created_at", "finished_at")
    return {"job_id": run["_id"], **{k: run.get(k) for k in keys}}


async def record_run(ctx: Ctx, job_id: str, fields: dict[str, Any]) -> None:
    """The run's row, once per job (a retry replaces what a failed attempt wrote)."""
    now = utcnow()
    async with ctx.store.transaction():
        existing = await ctx.store.find_one(RUNS, ctx.scope(_id=job_id))
        if existing is None:
            await ctx.store.insert_one(
                RUNS,
                {
                    "_id": job_id,
                    "company_id": ctx.company_id,
                    "created_by": ctx.user_id,
                    "created_at": now,
                    **fields,
                },
            )
        else:
            await ctx.store.update_one(RUNS, ctx.scope(_id=job_id), {"$set": fields})
