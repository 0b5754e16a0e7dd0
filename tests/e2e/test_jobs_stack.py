"""Jobs end to end on real processes: a job streamed over real HTTP SSE, a client dropped
mid-stream that resumes with Last-Event-ID, and a worker SIGKILLed mid-job whose job a new
worker runs again to a single result.

The first two boot the platform exactly as `make run` does (`python -m supervisor`, through
`tests/e2e/test_supervisor.py`'s `Platform`). The third needs to kill one worker and start
another, which the supervisor does not allow (a child that dies stops the platform), so it
runs the same pieces itself: Valkey, the API with the supervisor's uvicorn flags, and
`python -m workers` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from memory.events import stream_key
from supervisor import free_port, wait_http
from tests.e2e.test_supervisor import Platform
from tests.helpers import PASSWORD, unique_email
from tests.jobs.support import SSE, read_sse
from tests.servers import ValkeyProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-jobs-secret-0123456789-0123456789-abcdef"


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(tmp_path)
    try:
        yield platform
    finally:
        platform.kill()


async def register(http: httpx.AsyncClient) -> dict[str, str]:
    body = {"email": unique_email("jobs"), "password": PASSWORD, "name": "E2E", "company_name": "E"}
    response = await http.post("/api/auth/register", json=body)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['data']['token']}"}


async def start(http: httpx.AsyncClient, headers: dict[str, str], seconds: float) -> dict:
    response = await http.post(
        "/api/jobs",
        json={"kind": "sleep", "input": {"seconds": seconds}},
        params={"wait": "false"},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    return response.json()["data"]


async def stream_rows(redis_url: str, job_id: str) -> list[tuple[str, str]]:
    redis = Redis.from_url(redis_url)
    try:
        rows = await redis.xrange(stream_key(job_id))
    finally:
        await redis.aclose()
    return [(i.decode(), f[b"type"].decode()) for i, f in rows]


def pairs(events: list[SSE]) -> list[tuple[str | None, str]]:
    return [(e.id, e.event) for e in events]


# --- through the supervisor -----------------------------------------------------------------


async def test_a_sleep_job_streams_to_its_end_and_a_dropped_client_resumes(
    platform: Platform,
) -> None:
    platform.start()
    platform.wait_ready()
    redis_url = f"redis://127.0.0.1:{platform.valkey_port}/0"
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as http:
        headers = await register(http)

        # Read to the end over real HTTP SSE.
        whole = await start(http, headers, 1.0)
        stream = await read_sse(http, whole["events_url"], headers)
        assert stream.status == 200
        assert stream.types[0] == "status" and stream.types[-1] == "result"
        assert stream.events[-1].json() == {"slept_s": 1.0}
        assert stream.types.count("progress") == 10
        assert pairs(stream.events) == await stream_rows(redis_url, whole["job"]["id"])
        job = (await http.get(f"/api/jobs/{whole['job']['id']}", headers=headers)).json()
        assert job["data"]["status"] == "succeeded"

        # Dropped after three events; resumed with Last-Event-ID while the job goes on.
        dropped = await start(http, headers, 2.0)
        first = await read_sse(http, dropped["events_url"], headers, stop_after=3)
        assert len(first.events) == 3
        await asyncio.sleep(0.5)  # events the client misses while away
        rest = await read_sse(
            http, dropped["events_url"], headers, last_event_id=first.events[-1].id
        )
        assert rest.types[-1] == "result"
        seen = first.events + rest.events
        ids = [e.id for e in seen]
        assert len(ids) == len(set(ids)), "an event was delivered twice"
        assert pairs(seen) == await stream_rows(redis_url, dropped["job"]["id"]), "a gap"

        # A reconnect after the terminal event is told to stop (204).
        again = await http.get(dropped["events_url"], headers={**headers, "Last-Event-ID": ids[-1]})
        assert again.status_code == 204

    platform.stop(signal.SIGTERM)


# --- a worker killed mid-job ----------------------------------------------------------------


@dataclass
class Stack:
    """Valkey, one API process and the workers a test starts, on one var dir."""

    directory: Path
    valkey: ValkeyProcess
    api: subprocess.Popen[bytes]
    port: int
    env: dict[str, str]
    workers: list[subprocess.Popen[bytes]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_worker(self) -> subprocess.Popen[bytes]:
        n = len(self.workers) + 1
        with open(self.directory / f"worker-{n}.log", "ab") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "workers"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(worker)
        return worker

    def log(self, n: int) -> str:
        return (self.directory / f"worker-{n}.log").read_text(errors="replace")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def api_stack(directory: Path, *, graceful_s: int = 5, **env: str) -> Iterator[Stack]:
    """Valkey and one API process (`make run`'s uvicorn flags) on `directory`, with `env`
    added; workers are started with `Stack.start_worker`."""
    valkey = ValkeyProcess(directory)
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("NUMBORS_")}
    full |= {
        "NUMBORS_REDIS_URL": valkey.url,
        "NUMBORS_VAR_DIR": str(directory / "var"),
        "NUMBORS_JWT_SECRET": SECRET,
        "NUMBORS_PORT": str(port),
        "PYTHONPATH": str(ROOT),
        **env,
    }
    args = [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_factory"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    args += ["--timeout-graceful-shutdown", str(graceful_s)]
    with open(directory / "api.log", "ab") as log:
        api = subprocess.Popen(
            args, cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = Stack(directory, valkey, api, port, full, [])
    try:
        wait_http(f"{running.url}/api/health", api)
        yield running
    finally:
        for worker in running.workers:
            _stop(worker)
        _stop(api)
        valkey.stop()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with api_stack(tmp_path) as running:
        yield running


@contextlib.asynccontextmanager
async def following(
    http: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> AsyncIterator[asyncio.Task]:
    task = asyncio.create_task(read_sse(http, url, headers, within=120))
    try:
        yield task
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_job_whose_worker_is_sigkilled_runs_again_to_one_result(stack: Stack) -> None:
    first = stack.start_worker()
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        headers = await register(http)
        submitted = await start(http, headers, 3.0)
        job_id = submitted["job"]["id"]
        async with following(http, submitted["events_url"], headers) as sse:
            # Kill the worker about a second into the job.
            deadline = time.monotonic() + 60
            while True:
                job = (await http.get(f"/api/jobs/{job_id}", headers=headers)).json()["data"]
                if job["status"] == "running" and job["progress"] >= 0.3:
                    break
                assert time.monotonic() < deadline, f"the job never ran: {job}\n{stack.log(1)}"
                await asyncio.sleep(0.02)
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            killed_at = time.monotonic()
            await asyncio.sleep(0.5)
            mid = (await http.get(f"/api/jobs/{job_id}", headers=headers)).json()["data"]
            assert mid["status"] == "running" and mid["attempts"] == 1

            stack.start_worker()
            while True:
                job = (await http.get(f"/api/jobs/{job_id}", headers=headers)).json()["data"]
                if job["status"] in ("succeeded", "failed", "cancelled"):
                    break
                assert time.monotonic() - killed_at < 60, f"not rerun: {job}\n{stack.log(2)}"
                await asyncio.sleep(0.1)
            stream = await asyncio.wait_for(sse, 30)

    assert job["status"] == "succeeded", job
    assert job["attempts"] == 2
    assert job["result"] == {"slept_s": 3.0}
    assert "released" in stack.log(2) or "releasing" in stack.log(2), stack.log(2)

    rows = await stream_rows(stack.valkey.url, job_id)
    types = [t for _, t in rows]
    assert types.count("result") == 1, "the result was published twice"
    assert types[-1] == "result"
    statuses = [e.json() for e in stream.events if e.event == "status"]
    assert statuses == [{"status": "running", "attempt": 1}, {"status": "running", "attempt": 2}]
    # The client that followed across the kill saw every event once and the result.
    assert pairs(stream.events) == rows
    assert stream.types[-1] == "result"
