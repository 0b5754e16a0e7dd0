"""Job events over real HTTP SSE (uvicorn in this loop, a real worker): streamed to the end,
replayed from Last-Event-ID with nothing missed or repeated, bounded connection lifetime.

The reference for "nothing missed, nothing twice" is the job's Redis Stream itself (XRANGE).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from api.app import create_app
from memory.events import stream_key
from settings import Settings
from tests.helpers import Account, data, expect_error
from tests.jobs.support import SSE, eventually, read_sse, serve, services, xrange_ids

pytestmark = pytest.mark.usefixtures("worker")


async def start(account: Account, kind: str, input: dict) -> dict:
    response = await account.post(
        "/api/jobs", json={"kind": kind, "input": input}, params={"wait": "false"}
    )
    return data(response, 202)


async def finished(redis: Redis, job_id: str) -> list[tuple[str, str]]:
    async def terminal() -> list[tuple[str, str]] | None:
        rows = await xrange_ids(redis, job_id)
        return rows if rows and rows[-1][1] in ("result", "error", "cancelled") else None

    return await eventually(terminal, within=20)


async def test_a_sleep_job_streamed_to_its_end(
    company: Account, http: httpx.AsyncClient, redis: Redis
) -> None:
    submitted = await start(company, "sleep", {"seconds": 1})
    stream = await read_sse(http, submitted["events_url"], company.headers)
    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers.get("cache-control") in ("no-store", "no-cache")

    assert stream.types[0] == "status"
    assert stream.events[0].json() == {"status": "running", "attempt": 1}
    assert stream.types[-1] == "result", "the stream did not end with the result"
    assert stream.events[-1].json() == {"slept_s": 1.0}
    progress = [e.json() for e in stream.events if e.event == "progress"]
    assert [p["progress"] for p in progress] == pytest.approx([(i + 1) / 10 for i in range(10)])
    assert progress[-1]["step"] == "step 10 of 10"
    # Exactly the stream's events, in order, each with its stream id.
    assert [(e.id, e.event) for e in stream.events] == await xrange_ids(
        redis, submitted["job"]["id"]
    )


async def test_replay_from_last_event_id_gives_exactly_the_events_after_it(
    company: Account, http: httpx.AsyncClient, redis: Redis
) -> None:
    submitted = await start(company, "sleep", {"seconds": 0.5})
    job_id = submitted["job"]["id"]
    rows = await finished(redis, job_id)
    ids = [i for i, _ in rows]
    assert len(ids) == 7  # status, 5 progress, result

    whole = await read_sse(http, submitted["events_url"], company.headers)
    assert whole.ids == ids
    for k in (0, 3, len(ids) - 2):
        resumed = await read_sse(
            http, submitted["events_url"], company.headers, last_event_id=ids[k]
        )
        assert resumed.status == 200
        assert resumed.ids == ids[k + 1 :], f"resumed after event {k}"
        assert resumed.types[-1] == "result"


async def test_reconnecting_after_the_terminal_event_is_told_to_stop(
    company: Account, http: httpx.AsyncClient, redis: Redis
) -> None:
    """EventSource reconnects whenever a stream ends; 204 is how SSE makes it stop."""
    submitted = await start(company, "noop", {})
    rows = await finished(redis, submitted["job"]["id"])
    again = await read_sse(
        http, submitted["events_url"], company.headers, last_event_id=rows[-1][0], within=5
    )
    assert again.status == 204
    assert again.events == []


async def test_after_the_events_expired_the_outcome_comes_from_the_record(
    company: Account, http: httpx.AsyncClient, redis: Redis
) -> None:
    """Past NUMBORS_JOB_EVENTS_TTL_S the stream is gone; a client still learns how the job
    ended, once, instead of waiting on a stream that will never have another event."""
    submitted = await start(company, "sleep", {"seconds": 0.2})
    job_id = submitted["job"]["id"]
    rows = await finished(redis, job_id)
    await redis.delete(stream_key(job_id))  # what the TTL does

    late = await read_sse(http, submitted["events_url"], company.headers, within=5)
    assert late.status == 200
    assert late.types == ["result"]
    assert late.events[0].json() == {"slept_s": 0.2}
    # a client that was mid-stream gets the outcome too; one that has it is told to stop
    midway = await read_sse(
        http, submitted["events_url"], company.headers, last_event_id=rows[1][0], within=5
    )
    assert midway.types == ["result"]
    for seen in (late.ids[0], rows[-1][0]):
        again = await read_sse(
            http, submitted["events_url"], company.headers, last_event_id=seen, within=5
        )
        assert (again.status, again.events) == (204, [])


async def test_a_client_dropped_mid_stream_resumes_without_gap_or_repeat(
    company: Account, http: httpx.AsyncClient, redis: Redis
) -> None:
    submitted = await start(company, "sleep", {"seconds": 1.5})
    url, seen = submitted["events_url"], []
    first = await read_sse(http, url, company.headers, stop_after=3)
    seen += first.events
    await asyncio.sleep(0.4)  # events go on while nobody listens
    second = await read_sse(http, url, company.headers, last_event_id=seen[-1].id, stop_after=4)
    seen += second.events
    third = await read_sse(http, url, company.headers, last_event_id=seen[-1].id)
    seen += third.events
    assert third.types[-1] == "result"

    ids = [e.id for e in seen]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert [(e.id, e.event) for e in seen] == await xrange_ids(redis, submitted["job"]["id"])


async def test_a_malformed_last_event_id_is_400(company: Account, http: httpx.AsyncClient) -> None:
    submitted = await start(company, "noop", {})
    for bad in ("yesterday", "12-x", "1-2-3", "-"):
        response = await http.get(
            submitted["events_url"], headers={**company.headers, "Last-Event-ID": bad}
        )
        error = expect_error(response, 400, "invalid_last_event_id")
        assert "Last-Event-ID" in error["message"]


async def test_unknown_and_malformed_job_ids(company: Account, http: httpx.AsyncClient) -> None:
    response = await http.get("/api/jobs/0123456789abcdef01234567/events", headers=company.headers)
    expect_error(response, 404, "not_found")
    response = await http.get("/api/jobs/zzz/events", headers=company.headers)
    expect_error(response, 400, "invalid_id")


async def test_subscribers_share_one_redis_reader(
    company: Account, http: httpx.AsyncClient, redis: Redis, app: FastAPI
) -> None:
    """Twenty open SSE streams add no Redis connection: one pub/sub reader per process."""
    submitted = await start(company, "sleep", {"seconds": 1})

    async def connections() -> int:
        return len(await redis.client_list())

    before = await connections()
    hub = services(app).hub
    streams = [
        asyncio.create_task(read_sse(http, submitted["events_url"], company.headers))
        for _ in range(20)
    ]
    await eventually(lambda: _at_least(hub.subscribers, 20), within=10)
    during = await connections()
    results = await asyncio.gather(*streams)
    ids = await xrange_ids(redis, submitted["job"]["id"])
    for stream in results:
        assert [(e.id, e.event) for e in stream.events] == ids
    # The API opened no connection per subscriber (the worker's may come and go: allow 2).
    assert during - before <= 2, (before, during)


async def _at_least(value: int, wanted: int) -> bool:
    return value >= wanted


# --- bounded connection lifetime ------------------------------------------------------------


@pytest.fixture(scope="module")
async def short_lived(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An API whose SSE connections last 0.4 s (served with its own lifespan)."""
    app = create_app(settings.model_copy(update={"sse_lifetime_s": 0.4}))
    async with (
        serve(app, lifespan="on") as base,
        httpx.AsyncClient(base_url=base, timeout=30) as http,
    ):
        yield http


async def test_a_connection_ends_with_reconnect_and_resuming_continues_without_gaps(
    company: Account, short_lived: httpx.AsyncClient, redis: Redis
) -> None:
    submitted = await start(company, "sleep", {"seconds": 2})
    url, seen, reconnects = submitted["events_url"], [], []
    last: str | None = None
    for _ in range(40):
        stream = await read_sse(short_lived, url, company.headers, last_event_id=last)
        assert stream.status == 200
        seen += [e for e in stream.events if e.event != "reconnect"]
        end: SSE = stream.events[-1]
        if end.event != "reconnect":
            assert end.event == "result"
            break
        reconnects.append(end)
        assert end.retry == 1000
        assert end.json() == {"last_event_id": end.id}
        if end.id is not None:
            last = end.id
    else:
        pytest.fail("the job's stream never reached its result")

    assert len(reconnects) >= 2, "the lifetime did not bound the connections"
    ids = [e.id for e in seen]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert [(e.id, e.event) for e in seen] == await xrange_ids(redis, submitted["job"]["id"])
