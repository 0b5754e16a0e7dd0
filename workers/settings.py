"""The ARQ worker configuration, built from the platform settings."""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings

from memory.stores import open_store
from settings import Settings, get_settings
from workers import serialization, tasks


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    ctx["store"] = open_store(settings)


async def shutdown(ctx: dict[str, Any]) -> None:
    store = ctx.get("store")
    if store is not None:
        await store.close()


def redis_settings(settings: Settings) -> RedisSettings:
    if not settings.redis_url:
        raise RuntimeError("NUMBORS_REDIS_URL is not set; start the platform with `make run`")
    return RedisSettings.from_dsn(settings.redis_url)


def worker_options(settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or get_settings()
    return {
        "functions": [tasks.ping],
        "redis_settings": redis_settings(settings),
        "queue_name": settings.queue_name,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "job_serializer": serialization.dumps,
        "job_deserializer": serialization.loads,
        "handle_signals": True,
    }
