"""The services a process runs on, built once with their settings at start-up: one typed
container (`Services`) for the API (`api/app.py`'s lifespan) and for each worker
(`workers/runtime.py`'s `NumborsWorker`), closed at shutdown.

Why here, at the top beside `settings.py`: it is the composition root. Building the
container needs every lower layer (the store adapters and Redis from `memory/`, the ledger
backfill and the AI availability rules from `domain/`, the model client from `agents/`), and
nothing below may depend on that wiring: `memory/`, `domain/` and `agents/` never import this
module (`tests/test_layers.py`). `api/`, `conductors/` and `workers/` read the container and
build nothing of their own.

How each side reaches it:
- the API: `app.state.services` (the one entry; `api.deps.services_of` and the `AppServices`
  dependency read it);
- a worker: the container is ARQ's `ctx["services"]` (the one key our tasks read, through
  `workers.runtime.services_of`), and a handler gets it as `JobRun.services`.

World memory is built here and only here, with `NUMBORS_FACTS_HOT_TTL_S`,
`NUMBORS_FACTS_HOT_MAX` and `NUMBORS_FACT_MAX_BYTES`, so the API and the workers apply the
same limits.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from arq import ArqRedis
from redis.asyncio import Redis

from agents.models import ModelClient, model_client
from domain.accounting import corrections, periods
from domain.insights import Reachability
from memory.events import EventHub, EventPublisher
from memory.queue import JobQueue
from memory.redis import open_redis
from memory.store import DocumentStore
from memory.stores import open_store
from memory.world import WorldMemory
from settings import Settings

log = logging.getLogger("numbors.services")
Closer = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Services:
    """What a process runs on. `redis`, `queue` and `events` are None only in an API started
    without `NUMBORS_REDIS_URL` (its job routes then answer 503); a worker always has them.
    `hub` (the SSE fan-out) is the API's; `worker_id` names a worker process in job records."""

    settings: Settings
    store: DocumentStore
    redis: Redis | None
    queue: JobQueue | None
    events: EventPublisher | None
    hub: EventHub | None
    world: WorldMemory
    model: ModelClient
    reachability: Reachability
    worker_id: str | None = None
    # What this container opened and so must close, last opened first (a store handed in by
    # a test is not in it).
    owned: tuple[Closer, ...] = field(default=(), repr=False)

    async def close(self) -> None:
        for close in reversed(self.owned):
            try:
                await close()
            except Exception:
                log.exception("closing a service failed")


def world_memory(settings: Settings, store: DocumentStore, redis: Redis | None) -> WorldMemory:
    """World memory over `store` and `redis` with the platform's limits."""
    return WorldMemory(
        store,
        redis,
        hot_ttl_s=settings.facts_hot_ttl_s,
        hot_max=settings.facts_hot_max,
        max_value_bytes=settings.fact_max_bytes,
    )


async def for_api(settings: Settings, store: DocumentStore | None = None) -> Services:
    """The API's services: the store (`store`, when given, stays the caller's to close),
    Redis, the queue, the event publisher and the process's one SSE hub."""
    owned: list[Closer] = []
    try:
        if store is None:
            store = open_store(settings)
            owned.append(store.close)
        await periods.backfill(store)
        await corrections.migrate(store)
        redis = queue = events = hub = None
        if settings.redis_url:
            redis = open_redis(settings.redis_url)
            owned.append(redis.aclose)
            queue = await JobQueue.connect(settings.redis_url, settings.queue_name)
            owned.append(queue.close)
            events = EventPublisher(redis, settings.job_events_ttl_s)
            hub = EventHub(redis)
            await hub.start()
            owned.append(hub.stop)
        model = model_client(settings)
        owned.append(model.close)
    except BaseException:
        await _close_all(owned)
        raise
    return Services(
        settings=settings,
        store=store,
        redis=redis,
        queue=queue,
        events=events,
        hub=hub,
        world=world_memory(settings, store, redis),
        model=model,
        reachability=Reachability(model),
        owned=tuple(owned),
    )


async def for_worker(settings: Settings, pool: ArqRedis, worker_id: str) -> Services:
    """A worker's services. The queue rides on ARQ's own pool (`pool`, which ARQ closes);
    events and world memory get a connection of their own, as in the API."""
    if not settings.redis_url:
        raise RuntimeError("NUMBORS_REDIS_URL is not set; start the platform with `make run`")
    owned: list[Closer] = []
    try:
        store = open_store(settings)
        owned.append(store.close)
        await periods.backfill(store)
        redis = open_redis(settings.redis_url)
        owned.append(redis.aclose)
        model = model_client(settings)
        owned.append(model.close)
    except BaseException:
        await _close_all(owned)
        raise
    return Services(
        settings=settings,
        store=store,
        redis=redis,
        queue=JobQueue(pool, settings.queue_name),
        events=EventPublisher(redis, settings.job_events_ttl_s),
        hub=None,
        world=world_memory(settings, store, redis),
        model=model,
        reachability=Reachability(model),
        worker_id=worker_id,
        owned=tuple(owned),
    )


async def _close_all(owned: list[Closer]) -> None:
    for close in reversed(owned):
        with contextlib.suppress(Exception):
            await close()
