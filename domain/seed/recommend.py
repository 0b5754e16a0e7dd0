"""Which seed profile suits a company: scored by plain code, explained by the model.

`snapshot(ctx)` reads what decides it: the modules the licence enables and how many objects
the books already hold per area (contacts, items, invoices, bills, projects, deals,
employees, and what an earlier seed made). `rank(snapshot, description)` scores every
profile out of 100, deterministically:

- module fit, up to 50: the share of the profile's modules the company has enabled;
- the description, up to 30: 10 per keyword of the profile found in it (whole words, or
  the word with an s);
- the books, up to 20: 10 per area the profile seeds that the books already use (a company
  with projects leans to the consulting firm, one with many bills to the wholesaler).

Ties go to the profile listed first. The size follows the books: an empty company gets
medium, one that already holds data small (a demo should not drown real records), and a
company seeded before with the same profile is told so. Every reason names its figures,
which are facts the explanation may quote (and only those: the shared validator checks it).
"""

from __future__ import annotations

import re
from typing import Any

from domain.context import Ctx
from domain.modules import licences
from domain.seed.profiles import PROFILES, Profile
from domain.seed.seeding import KEYS, RUNS
from memory.ids import utcnow

MODULE_POINTS = 50
KEYWORD_POINTS = 10
KEYWORD_MAX = 30
BOOKS_POINTS = 10
BOOKS_MAX = 20
RECOMMENDATIONS = "tai_seed_recommendations"
# What the books hold, per area: (collection, filter) counted in the company.
AREAS: dict[str, tuple[str, dict[str, Any]]] = {
    "customers": ("contacts", {"type": "customer"}),
    "suppliers": ("contacts", {"type": "supplier"}),
    "items": ("items", {}),
    "invoices": ("documents", {"type": "invoice"}),
    "bills": ("documents", {"type": "bill"}),
    "projects": ("projects", {}),
    "deals": ("crm_deals", {}),
    "employees": ("payroll_employees", {}),
}
# Which areas in use point to which profile.
LEANS: dict[str, tuple[str, ...]] = {
    "consulting": ("projects", "employees"),
    "retail": ("invoices", "items"),
    "wholesale": ("bills", "suppliers"),
    "saas": ("deals", "employees"),
}


async def snapshot(ctx: Ctx) -> dict[str, Any]:
    licence = await licences.load(ctx.store, ctx.company_id)
    enabled = sorted(
        alias
        for alias in {m for p in PROFILES for m in p.modules}
        if licences.access(licence, alias).enabled
    )
    counts = {
        area: await ctx.store.count(collection, ctx.scope(**where))
        for area, (collection, where) in AREAS.items()
    }
    seeded = await ctx.store.sum_by(KEYS, ctx.scope(), ["tag"], [])
    return {
        "modules": enabled,
        "counts": counts,
        "seeded_tags": sorted(row["tag"] for row in seeded),
    }


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z][a-z-]*", text.lower()))


def score(profile: Profile, snap: dict[str, Any], description: str | None) -> dict[str, Any]:
    enabled = [m for m in profile.modules if m in snap["modules"]]
    module_points = round(MODULE_POINTS * len(enabled) / len(profile.modules))
    words = _words(description or "")
    matched = [k for k in profile.keywords if k in words or f"{k}s" in words]
    keyword_points = min(KEYWORD_MAX, KEYWORD_POINTS * len(matched))
    used = [a for a in LEANS[profile.key] if snap["counts"].get(a, 0) > 0]
    books_points = min(BOOKS_MAX, BOOKS_POINTS * len(used))
    total = module_points + keyword_points + books_points
    key = profile.key
    facts = [
        _fact(f"{key}_score", f"{profile.name} score", total),
        _fact(f"{key}_modules_enabled", f"{profile.name} modules enabled", len(enabled)),
        _fact(f"{key}_modules", f"{profile.name} modules", len(profile.modules)),
        _fact(f"{key}_keywords", f"{profile.name} keywords matched", len(matched)),
        _fact(f"{key}_module_points", f"{profile.name} points for modules", module_points),
        _fact(
            f"{key}_keyword_points", f"{profile.name} points for the description", keyword_points
        ),
        _fact(f"{key}_books_points", f"{profile.name} points for the books", books_points),
    ]
    reasons = [
        f"{len(enabled)} of its {len(profile.modules)} modules are enabled "
        f"({', '.join(enabled) or 'none'}): {module_points} points"
    ]
    if description:
        reasons.append(
            f"the description names {', '.join(matched)}: {keyword_points} points"
            if matched
            else "the description names none of its keywords: 0 points"
        )
    for area in used:
        count = snap["counts"][area]
        facts.append(_fact(f"{key}_{area}", f"{area} in the books", count))
        reasons.append(f"the books already hold {count} {area}")
    if used:
        reasons.append(f"areas in use: {books_points} points")
    return {
        "profile_id": profile.id,
        "profile": profile.key,
        "name": profile.name,
        "score": total,
        "points": {"modules": module_points, "description": keyword_points, "books": books_points},
        "reasons": reasons,
        "facts": facts,
    }


def _fact(key: str, label: str, value: int) -> dict[str, Any]:
    return {"key": key, "label": label, "value": value, "unit": "count"}


def rank(snap: dict[str, Any], description: str | None) -> dict[str, Any]:
    """Every profile scored, best first, and the size to seed at."""
    scored = [score(p, snap, description) for p in PROFILES]
    order = {p.key: i for i, p in enumerate(PROFILES)}
    ranked = sorted(scored, key=lambda s: (-s["score"], order[s["profile"]]))
    best = ranked[0]
    held = sum(snap["counts"].values())
    size = "medium" if held == 0 else "small"
    size_reason = (
        "the books are empty: medium"
        if held == 0
        else f"the books already hold {held} objects: small, so the demo does not drown them"
    )
    again = [t for t in snap["seeded_tags"] if t.startswith(f"{best['profile']}:")]
    facts = [f for s in ranked for f in s["facts"]] + [
        _fact("max_score", "out of", 100),
        _fact("objects_held", "objects in the books", held),
    ]
    return {
        "recommended": {
            "profile_id": best["profile_id"],
            "profile": best["profile"],
            "name": best["name"],
            "size": size,
        },
        "size_reason": size_reason,
        "seeded_before": again,
        "ranking": [{k: v for k, v in s.items() if k != "facts"} for s in ranked],
        "facts": facts,
    }


async def save(ctx: Ctx, recommendation: dict[str, Any]) -> dict[str, Any]:
    """Once per job: the recommendation keyed by the job's id, and the run row."""
    existing = await ctx.store.find_one(RECOMMENDATIONS, ctx.scope(_id=recommendation["_id"]))
    if existing is not None:
        return _view(existing)
    doc = {
        **recommendation,
        "company_id": ctx.company_id,
        "created_by": ctx.user_id,
        "created_at": utcnow(),
    }
    async with ctx.store.transaction():
        await ctx.store.insert_one(RECOMMENDATIONS, doc)
        await ctx.store.delete_many(RUNS, ctx.scope(_id=doc["_id"]))
        await ctx.store.insert_one(
            RUNS,
            {
                "_id": doc["_id"],
                "company_id": ctx.company_id,
                "kind": "recommend",
                "status": "succeeded",
                "profile": doc["recommended"]["profile"],
                "size": doc["recommended"]["size"],
                "created_by": ctx.user_id,
                "created_at": doc["created_at"],
                "finished_at": doc["created_at"],
            },
        )
    return _view(doc)


def _view(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("_id", "company_id")}
    return {"id": doc["_id"], **out}
