"""A company's licence: plan, enabled modules, seats, validity; and the module gate."""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.context import Ctx
from domain.errors import Forbidden, Invalid, NotFound
from domain.modules.catalogue import BY_ALIAS, CATALOGUE, CORE
from memory.ids import utcnow
from memory.store import CollectionSpec, DocumentStore, declare

LICENCES = declare(CollectionSpec("licences", unique=(("company_id",),)))

DEFAULT_PLAN = "standard"
DEFAULT_SEATS = 5
DEFAULT_TERM = timedelta(days=365)


def new_licence(company_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "company_id": company_id,
        "plan": DEFAULT_PLAN,
        "modules": [m.alias for m in CATALOGUE],
        "seats": DEFAULT_SEATS,
        "valid_until": (now + DEFAULT_TERM).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }


async def load(store: DocumentStore, company_id: str) -> dict[str, Any]:
    licence = await store.find_one("licences", {"company_id": company_id})
    if licence is None:
        raise NotFound("this company has no licence", code="licence_missing")
    return licence


GATE_CACHE_S = 2.0
"""How long the module gate reuses a company's licence read (per store, per process).
`set_modules` drops the entry at once in this process; another process (an API replica)
sees a change within this many seconds. Expiry (`valid_until`) is checked on every request."""

_gate_cache: weakref.WeakKeyDictionary[DocumentStore, dict[str, tuple[float, dict[str, Any]]]] = (
    weakref.WeakKeyDictionary()
)


async def gate_licence(store: DocumentStore, company_id: str) -> dict[str, Any]:
    """The licence as `load` answers it, reused for `GATE_CACHE_S` by the module gate: a
    licence-gated request paid a store read for it every time (`bench/api_crud.py`, GATED)."""
    cached = _gate_cache.setdefault(store, {})
    hit = cached.get(company_id)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    licence = await load(store, company_id)
    cached[company_id] = (now + GATE_CACHE_S, licence)
    return licence


def forget(store: DocumentStore, company_id: str) -> None:
    """Drop the gate's copy of a company's licence (after it changed)."""
    cached = _gate_cache.get(store)
    if cached is not None:
        cached.pop(company_id, None)


@dataclass(frozen=True)
class Access:
    alias: str
    enabled: bool
    reason: str | None


def access(licence: dict[str, Any], alias: str) -> Access:
    if alias in CORE:
        return Access(alias, True, None)
    if licence["valid_until"] < utcnow():
        return Access(alias, False, f"the licence expired on {licence['valid_until']}")
    if alias not in licence["modules"]:
        return Access(alias, False, f"the {licence['plan']} licence does not enable {alias}")
    return Access(alias, True, None)


def check(licence: dict[str, Any], alias: str) -> None:
    """Raise 403 `module_disabled` unless the licence enables the module."""
    result = access(licence, alias)
    if not result.enabled:
        raise Forbidden(f"module {alias} is disabled: {result.reason}", code="module_disabled")


def describe(licence: dict[str, Any]) -> dict[str, Any]:
    modules = [
        {"alias": m.alias, "name": m.name, "core": m.core, **_access_fields(licence, m.alias)}
        for m in CATALOGUE
    ]
    return {
        "plan": licence["plan"],
        "seats": licence["seats"],
        "valid_until": licence["valid_until"],
        "expired": licence["valid_until"] < utcnow(),
        "modules": modules,
        "updated_at": licence["updated_at"],
    }


def _access_fields(licence: dict[str, Any], alias: str) -> dict[str, Any]:
    result = access(licence, alias)
    return {"enabled": result.enabled, "reason": result.reason}


async def set_modules(ctx: Ctx, enable: list[str], disable: list[str]) -> dict[str, Any]:
    if ctx.role != "owner":
        raise Forbidden("only the company owner can change its modules", code="owner_required")
    unknown = [a for a in (*enable, *disable) if a not in BY_ALIAS]
    if unknown:
        raise Invalid(f"unknown module alias: {', '.join(unknown)}", code="unknown_module")
    both = set(enable) & set(disable)
    if both:
        raise Invalid(f"cannot enable and disable {', '.join(sorted(both))} at once")
    core = [a for a in disable if a in CORE]
    if core:
        raise Invalid(f"core modules cannot be disabled: {', '.join(core)}", code="core_module")
    async with ctx.store.transaction():
        licence = await load(ctx.store, ctx.company_id)
        modules = [a for a in licence["modules"] if a not in disable]
        modules += [a for a in enable if a not in modules]
        updated = await ctx.store.update_one(
            "licences",
            ctx.scope(),
            {"$set": {"modules": modules, "updated_at": utcnow()}},
        )
    forget(ctx.store, ctx.company_id)
    assert updated is not None
    return describe(updated)
