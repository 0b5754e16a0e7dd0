"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api import PREFIX
from api.deps import services_of
from api.responses import Envelope, EnvelopeResponse, errors, fail, ok
from api.routing import LeanRoute

router = APIRouter(prefix=PREFIX, tags=["Health"], route_class=LeanRoute)
CHECK_TIMEOUT_S = 2.0


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/health", summary="The process is alive", response_model=Envelope[Health])
async def health() -> EnvelopeResponse:
    return ok({"status": "ok"})


@router.get(
    "/ready",
    summary="The store and Redis are reachable",
    response_model=Envelope[Readiness],
    responses=errors(503, codes={503: ("not_ready",)}),
)
async def ready(request: Request) -> EnvelopeResponse:
    services = services_of(request)
    redis = services.redis
    checks = {
        "store": await _check(services.store.ping()),
        "redis": await _check(redis.ping()) if redis is not None else "not configured",
    }
    if all(v == "ok" for v in checks.values()):
        return ok({"status": "ready", "checks": checks})
    failing = ", ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok")
    return fail(503, "not_ready", f"not ready: {failing}", [checks])


async def _check(probe: object) -> str:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_S)  # type: ignore[arg-type]
    except Exception as error:
        return f"{type(error).__name__}: {error}"[:200]
    return "ok"
