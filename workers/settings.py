"""The ARQ worker configuration, built from the platform settings."""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings

from domain.accounting import periods
from memory import serialization
from memory.events import EventPublisher
from memory.redis import open_redis
from memory.stores import open_store
from settings import Settings, get_settings
from workers import runtime, tasks

POLL_FALLBACK_S = 0.25  # the wake-up signal starts jobs; this bounds deferred retries
TIMEOUT_GRACE_S = 10  # ARQ's own deadline comes after the runtime's (which fails the job)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    ctx["store"] = open_store(settings)
    await periods.backfill(ctx["store"])
    ctx["events_redis"] = open_redis(settings.redis_url or "")
    ctx["events"] = EventPublisher(ctx["events_redis"], settings.job_events_ttl_s)
    ctx["max_tries"] = settings.job_max_tries
    ctx["job_timeout_s"] = settings.job_timeout_s


async def shutdown(ctx: dict[str, Any]) -> None:
    if ctx.get("store") is not None:
        await ctx["store"].close()
    if ctx.get("events_redis") is not None:
        await ctx["events_redis"].aclose()


def redis_settings(settings: Settings) -> RedisSettings:
    if not settings.redis_url:
        raise RuntimeError("NUMBORS_REDIS_URL is not set; start the platform with `make run`")
    return RedisSettings.from_dsn(settings.redis_url)


def worker_options(settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or get_settings()
    return {
        "functions": [tasks.ping, runtime.run_job],
        "redis_settings": redis_settings(settings),
        "queue_name": settings.queue_name,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "job_serializer": serialization.dumps,
        "job_deserializer": serialization.loads,
        "handle_signals": True,
        "poll_delay": POLL_FALLBACK_S,
        "max_jobs": 64,
        "queue_read_limit": 64,
        "job_timeout": settings.job_timeout_s + TIMEOUT_GRACE_S,
        "max_tries": settings.job_max_tries + 1,
        "allow_abort_jobs": True,
        "keep_result": 60,
    }
