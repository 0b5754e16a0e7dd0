"""The Compliance endpoints: the posture snapshot and the OCSF export of the audit trail.

Both need the owner or admin role. The export answers JSON pages (`format=json`, a keyset
`next_cursor`) or streams every matching event as NDJSON (`format=ndjson`), page by page
from the store, so memory stays flat whatever the size. What the API measures of its own
deployment for the snapshot (Redis's persistence, SQLite's journal mode, the JWT key's age)
is measured here; the rules are `domain/compliance/posture.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from datetime import UTC, date, datetime
from datetime import time as day_time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api import PREFIX
from api.deps import CompanyCtx, module_gate, services_of
from api.responses import Envelope, EnvelopeResponse, errors, ok
from api.routing import LeanRoute
from domain.compliance import export, posture
from domain.compliance.ocsf import CLASS_NAMES
from domain.errors import Invalid
from domain.fields import Day, QueryInt
from domain.resources.operations import authorize

router = APIRouter(
    prefix=f"{PREFIX}/compliance",
    tags=["Compliance"],
    route_class=LeanRoute,
    dependencies=module_gate("compliance"),
)
MAX_PAGE = 10_000


class Control(BaseModel):
    id: str
    title: str
    scope: Literal["deployment", "company"]
    status: Literal["pass", "fail", "manual"]
    evidence: dict[str, Any]


class Snapshot(BaseModel):
    generated_at: str
    company_id: str
    summary: dict[str, int] = Field(description="How many controls pass, fail, are manual")
    controls: list[Control]


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["json", "ndjson"] = Field("json", description="json pages or NDJSON stream")
    class_name: Literal["api_activity", "authentication", "account_change"] | None = Field(
        None, alias="class", description="Only this OCSF class (6003, 3002, 3001)"
    )
    from_: Day | None = Field(None, alias="from", description="From this day (UTC)")
    to: Day | None = Field(None, description="Up to this day, inclusive (UTC)")
    after: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{24}$",
        description="Resume after this event (the last metadata.uid received)",
    )
    limit: QueryInt = Field(1000, ge=1, le=MAX_PAGE, description="Events per JSON page")


class ExportPage(BaseModel):
    events: list[dict[str, Any]] = Field(description="OCSF 1.3.0 events, oldest first")
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null: done")


def _instant(day: date | None, end: bool) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, day_time.max if end else day_time.min, UTC)


def window_of(query: ExportQuery) -> export.Window:
    start, end = _instant(query.from_, end=False), _instant(query.to, end=True)
    if start and end and start > end:
        raise Invalid("from must not be after to", details=[{"field": "from"}])
    return export.Window(
        class_uid=CLASS_NAMES[query.class_name] if query.class_name else None,
        start=start,
        end=end,
        after=query.after,
    )


@router.get(
    "/export",
    summary="Export OCSF audit data",
    description="The audit trail as OCSF 1.3.0 events: API Activity (6003) for every write, "
    "Authentication (3002) for logins and logouts, Account Change (3001) for registrations, "
    "password and member changes. `format=ndjson` streams every matching event (one JSON "
    "object a line); `format=json` answers a page and `next_cursor`. Owner or admin.",
    response_model=Envelope[ExportPage],
    responses={
        **errors(400, 401, 403),
        200: {"content": {"application/x-ndjson": {}}, "description": "The events"},
    },
)
async def export_audit(ctx: CompanyCtx, query: Annotated[ExportQuery, Query()]) -> Response:
    authorize(ctx, "admin")
    window = window_of(query)
    if query.format == "ndjson":
        pages = export.ndjson_pages(ctx, window)
        return StreamingResponse(pages, media_type="application/x-ndjson")
    events, cursor = await export.ocsf_page(ctx, window, query.limit)
    return ok({"events": events, "next_cursor": cursor})


@router.get(
    "/snapshot",
    summary="Get full compliance posture snapshot",
    description="Every control of the deployment and of this company, `pass`, `fail` or "
    "`manual`, with its evidence. Owner or admin.",
    response_model=Envelope[Snapshot],
    responses=errors(401, 403),
)
async def snapshot(ctx: CompanyCtx, request: Request) -> EnvelopeResponse:
    authorize(ctx, "admin")
    return ok(await posture.snapshot(ctx, await measure(request)))


async def measure(request: Request) -> posture.Deployment:
    services = services_of(request)
    settings = services.settings
    key: str = request.app.state.tokens.key
    return posture.Deployment(
        env=settings.env,
        jwt_secret_bytes=len(key.encode()),
        jwt_secret_age_days=_generated_secret_age(settings.var_dir / "jwt_secret", key),
        token_ttl_s=settings.jwt_ttl_s,
        password_min_length=10,
        password_hash="argon2id",
        login_limits={
            "per_account": settings.login_limit_per_account,
            "per_address": settings.login_limit_per_address,
        },
        throttle_shared=bool(settings.redis_url),
        redis_persistence=await _redis_persistence(services.redis),
        store="mongodb" if settings.mongodb_url else "sqlite",
        store_journal=None if settings.mongodb_url else _journal_mode(settings.sqlite_file),
        retention_days=settings.audit_retention_days,
        hsts=settings.hsts,
    )


def _generated_secret_age(path: Any, key: str) -> float | None:
    """The age of var/jwt_secret when it is the key in use (development); else unknown."""
    with contextlib.suppress(OSError):
        if path.read_text().strip() == key:
            return (time.time() - path.stat().st_mtime) / 86400
    return None


async def _redis_persistence(redis: Any) -> dict[str, Any] | None:
    if redis is None:
        return None
    try:
        async with asyncio.timeout(1.0):
            found = await redis.config_get("appendonly")
            fsync = await redis.config_get("appendfsync")
    except Exception:  # CONFIG may be disabled (managed Redis) or Redis down: not measured
        return None

    def text(value: Any) -> Any:
        return value.decode() if isinstance(value, bytes) else value

    values = {text(k): text(v) for k, v in {**found, **fsync}.items()}
    return {"appendonly": values.get("appendonly"), "appendfsync": values.get("appendfsync")}


def _journal_mode(path: Any) -> str | None:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return str(db.execute("PRAGMA journal_mode").fetchone()[0])
    except sqlite3.Error:
        return None
