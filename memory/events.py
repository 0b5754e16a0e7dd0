"""Job events: a capped, expiring Redis Stream per job, and one fan-out hub per API process.

Workers `publish` with one Lua call: XADD to the job's stream (capped, expiry refreshed) and
PUBLISH of the same event, with its stream id, on one channel. Each API process keeps ONE
pub/sub connection (`EventHub`) and hands events to the subscribers of that job in memory,
so a thousand open SSE streams hold no Redis connection each.

A subscriber never misses or repeats an event: it registers with the hub first, then
replays the stream after its `Last-Event-ID` (XRANGE, exclusive), then takes live events,
dropping any whose id is not after the last one it delivered (stream ids are ordered).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

log = logging.getLogger("numbors.events")

CHANNEL = "numbors:events"
TERMINAL = frozenset({"result", "error", "cancelled"})
MAX_EVENTS = 10_000
REPLAY_CONCURRENCY = 4

_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*',
                      'type', ARGV[1], 'data', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[5],
           cjson.encode({job = ARGV[6], id = id, type = ARGV[1], data = ARGV[2]}))
return id
"""


def stream_key(job_id: str) -> str:
    return f"numbors:job:{job_id}:events"


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    data: Any

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL


def _stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def is_stream_id(value: str) -> bool:
    try:
        _stream_id(value)
    except ValueError:
        return False
    return True


class EventPublisher:
    def __init__(self, redis: Redis, ttl_s: int):
        self.redis = redis
        self.ttl_s = ttl_s
        self._script = redis.register_script(_PUBLISH)

    async def publish(self, job_id: str, type: str, data: Any) -> str:
        payload = orjson.dumps(data).decode()
        args = [type, payload, self.ttl_s, MAX_EVENTS, CHANNEL, job_id]
        result = await self._script(keys=[stream_key(job_id)], args=args)
        return result.decode() if isinstance(result, bytes) else str(result)


async def replay(redis: Redis, job_id: str, after: str | None) -> list[Event]:
    start = f"({after}" if after else "-"
    rows = await redis.xrange(stream_key(job_id), min=start, max="+")
    return [_event(row_id, fields) for row_id, fields in rows]


async def ended_by(redis: Redis, job_id: str, after: str) -> bool:
    """Whether the stream's last event is terminal and the client (at `after`) has it."""
    rows = await redis.xrevrange(stream_key(job_id), count=1)
    if not rows:
        return False
    last = _event(*rows[0])
    return last.terminal and _stream_id(last.id) <= _stream_id(after)


async def exists(redis: Redis, job_id: str) -> bool:
    return bool(await redis.exists(stream_key(job_id)))


def after(event_id: str, than: str) -> bool:
    """Whether stream id `event_id` comes after `than`."""
    return _stream_id(event_id) > _stream_id(than)


def _event(row_id: Any, fields: dict[Any, Any]) -> Event:
    decoded = {(k.decode() if isinstance(k, bytes) else k): v for k, v in fields.items()}
    id_ = row_id.decode() if isinstance(row_id, bytes) else str(row_id)
    type_ = decoded["type"]
    type_ = type_.decode() if isinstance(type_, bytes) else type_
    return Event(id_, type_, orjson.loads(decoded["data"]))


class EventHub:
    """One pub/sub reader for the whole process; subscribers get per-job queues."""

    def __init__(self, redis: Redis):
        self.redis = redis
        self._queues: dict[str, set[asyncio.Queue[Event]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        # Replays are the only Redis reads a subscriber makes. Bounded, so a burst of clients
        # (all reconnecting after a restart) cannot grow the shared pool one connection each.
        self._reads = asyncio.Semaphore(REPLAY_CONCURRENCY)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-hub")
            await asyncio.wait_for(self._ready.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def ended_by(self, job_id: str, after: str) -> bool:
        async with self._reads:
            return await ended_by(self.redis, job_id, after)

    async def exists(self, job_id: str) -> bool:
        async with self._reads:
            return await exists(self.redis, job_id)

    @property
    def subscribers(self) -> int:
        return sum(len(q) for q in self._queues.values())

    async def _run(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                self._ready.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._dispatch(message["data"])
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except Exception:
                log.exception("event hub lost its Redis connection; reconnecting")
                await pubsub.aclose()
                await asyncio.sleep(0.5)

    def _dispatch(self, raw: bytes) -> None:
        message = orjson.loads(raw)
        queues = self._queues.get(message["job"])
        if not queues:
            return
        event = Event(message["id"], message["type"], orjson.loads(message["data"]))
        for queue in queues:
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, job_id: str) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues.setdefault(job_id, set()).add(queue)
        try:
            yield queue
        finally:
            queues = self._queues.get(job_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._queues[job_id]

    async def follow(
        self, job_id: str, after: str | None, idle_s: float
    ) -> AsyncIterator[Event | None]:
        """Every event after `after`, replayed then live, up to the terminal one. Yields None
        after `idle_s` without an event (the caller's cue for a heartbeat)."""
        async with self.subscribe(job_id) as queue:
            last = _stream_id(after) if after else (0, 0)
            async with self._reads:
                replayed = await replay(self.redis, job_id, after)
            for event in replayed:
                last = _stream_id(event.id)
                yield event
                if event.terminal:
                    return
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), idle_s)
                except TimeoutError:
                    yield None
                    continue
                if _stream_id(event.id) <= last:
                    continue
                last = _stream_id(event.id)
                yield event
                if event.terminal:
                    return
