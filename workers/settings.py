"""The ARQ worker configuration, built from the platform settings.

`worker_options(settings)` are `NumborsWorker`'s keyword arguments: ARQ's options, and
`settings` itself, from which the worker builds its services at start-up (no `on_startup`
hook filling ARQ's ctx key by key).
"""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings

from memory import serialization
from settings import Settings, get_settings
from workers import runtime, tasks

POLL_FALLBACK_S = 0.25  # the wake-up signal starts jobs; this bounds deferred retries
TIMEOUT_GRACE_S = 10  # ARQ's own deadline comes after the runtime's (which fails the job)


def redis_settings(settings: Settings) -> RedisSettings:
    if not settings.redis_url:
        raise RuntimeError("NUMBORS_REDIS_URL is not set; start the platform with `make run`")
    return RedisSettings.from_dsn(settings.redis_url)


def worker_options(settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or get_settings()
    return {
        "settings": settings,
        "functions": [tasks.ping, runtime.run_job],
        "redis_settings": redis_settings(settings),
        "queue_name": settings.queue_name,
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
