"""What the job tests share: a real ARQ worker in this process, a real uvicorn server in this
event loop (httpx's ASGI transport does not stream), and an SSE client.

The SSE client is deliberately small and strict: it parses `text/event-stream` per the spec
(fields `id`, `event`, `data`, `retry`; comment lines starting with `:`; an event ends at a
blank line) so the tests see exactly what a browser's EventSource would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from redis.asyncio import Redis

from domain.context import Ctx
from memory.events import stream_key
from memory.queue import WORKER_KEY
from services import Services
from settings import Settings
from supervisor import free_port
from tests.helpers import Account
from workers.runtime import NumborsWorker
from workers.settings import worker_options


@dataclass
class SSE:
    """One dispatched server-sent event (or, with `comment`, a comment line)."""

    id: str | None = None
    event: str = "message"
    data: str = ""
    retry: int | None = None
    comment: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class SSEStream:
    """What one SSE connection delivered, in order."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    events: list[SSE] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    body: bytes = b""

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.events if e.id is not None and e.event != "reconnect"]

    @property
    def types(self) -> list[str]:
        return [e.event for e in self.events]


async def iter_sse(response: httpx.Response) -> AsyncIterator[SSE]:
    """Events and comments of a streaming response, as EventSource parses them."""
    current = SSE()
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:  # an event without data is not dispatched
                current.data = "\n".join(data)
                yield current
            current, data = SSE(), []
            continue
        if line.startswith(":"):
            yield SSE(comment=line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            current.id = value
        elif name == "event":
            current.event = value
        elif name == "data":
            data.append(value)
        elif name == "retry" and value.isdigit():
            current.retry = int(value)


async def read_sse(
    http: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    *,
    last_event_id: str | None = None,
    stop_after: int | None = None,
    until: Callable[[SSE], bool] | None = None,
    within: float = 30.0,
) -> SSEStream:
    """Open one SSE connection and read it until the server ends it, `stop_after` events have
    arrived (then drop the connection, as a client that goes away), or `until` holds."""
    out = SSEStream()
    request_headers = {**headers, "Accept": "text/event-stream"}
    if last_event_id is not None:
        request_headers["Last-Event-ID"] = last_event_id
    async with asyncio.timeout(within):
        async with http.stream("GET", url, headers=request_headers) as response:
            out.status = response.status_code
            out.headers = dict(response.headers)
            if response.status_code != 200:
                out.body = await response.aread()
                return out
            async for item in iter_sse(response):
                if item.comment is not None:
                    out.comments.append(item.comment)
                    continue
                out.events.append(item)
                if stop_after is not None and len(out.events) >= stop_after:
                    break
                if until is not None and until(item):
                    break
    return out


# --- a real uvicorn server in this event loop -----------------------------------------------


@contextlib.asynccontextmanager
async def serve(app: FastAPI, *, lifespan: str = "off") -> AsyncIterator[str]:
    """Serve `app` on a free port (lifespan "off": the app's lifespan already ran)."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan=lifespan,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped while starting")
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 10)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


# --- a real ARQ worker in this event loop ---------------------------------------------------


@contextlib.asynccontextmanager
async def run_worker(settings: Settings, **overrides: Any) -> AsyncIterator[NumborsWorker]:
    """`NumborsWorker(**worker_options(settings))` as a task against the suite's Valkey and
    the app's store file; stopped (its jobs cancelled, connections closed) on exit."""
    options = worker_options(settings) | {"handle_signals": False} | overrides
    worker = NumborsWorker(**options)
    task = asyncio.create_task(worker.async_run(), name=f"worker {worker.worker_id}")
    deadline = time.monotonic() + 20
    while not worker.connected or not await worker.pool.exists(WORKER_KEY + worker.worker_id):
        if task.done():
            task.result()
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not start")
        await asyncio.sleep(0.01)
    try:
        yield worker
    finally:
        # As on SIGTERM: stop polling, cancel the running jobs and let them settle, then close.
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.cancel_running()
        await worker.close()


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, within: float = 10.0, every: float = 0.01
) -> Any:
    """Poll `probe` until it returns something truthy; return it (fail after `within` s)."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s: {probe}")
        await asyncio.sleep(every)


# --- accounts and streams -------------------------------------------------------------------


def services(app: FastAPI) -> Services:
    """The app's services (`services.Services`), as its routes see them."""
    return app.state.services


def ctx_of(app: FastAPI, account: Account) -> Ctx:
    """The domain context of `account` in its company (to create jobs of test-only kinds)."""
    return Ctx(
        store=services(app).store,
        user_id=account.user_id,
        company_id=account.company_id,
        role="owner",
    )


def as_client(account: Account, client: httpx.AsyncClient) -> Account:
    """The same user and company, talking to another app."""
    return Account(
        client, account.token, account.user_id, account.company_id, account.email, account.extra
    )


async def xrange_ids(redis: Redis, job_id: str) -> list[tuple[str, str]]:
    """(id, type) of every event in the job's stream, straight from Redis."""
    rows = await redis.xrange(stream_key(job_id))
    return [(row_id.decode(), fields[b"type"].decode()) for row_id, fields in rows]
