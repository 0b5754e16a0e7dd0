"""Job queue latency and throughput: Numbors' worker against ARQ's defaults and a bare floor,
all measured in the same run on the same Valkey.

Run from the repository root: `.venv/bin/python bench/jobs.py` (`--quick` for a smoke run).

What it does:
1. Starts its own Valkey and a temporary var dir with a SQLite store, and creates a company
   directly in the store (`domain.companies.create_company`); jobs are created with
   `domain.jobs.create_job` and enqueued with `memory.queue.JobQueue`, exactly as an
   enqueueing endpoint does (record committed first, then the ARQ job and the wake-up).
2. Numbors: ONE worker process, `python -m workers` with NUMBORS_* in its environment (as
   `make run` starts it, INFO logging to a file).
   - Latency: 500 sequential `noop` jobs (after 20 not counted). Each carries `t_enqueued`,
     the wall clock taken just before `JobQueue.enqueue` (so the enqueue itself counts); the
     handler returns `t_started`, its clock when it began. Enqueue-to-start is the difference
     (same host, same clock). The bench waits for each job's `result` event (pub/sub) before
     the next, so the worker is idle when each job arrives: the wake-up path is measured.
   - Throughput: 5,000 `noop` records and ARQ jobs are queued with the worker stopped, then
     the worker starts; throughput is 5,000 over the span from the first job's start to the
     last one's finish (ARQ's own result records, `st`/`ft`), so the worker's start-up does not
     count and the bench's enqueueing does not compete with it.
3. ARQ's defaults: a plain `arq.worker.Worker` in its own process (default `poll_delay` 0.5 s,
   pickle serializer, `max_jobs` 10) running a trivial function that returns its start time.
   Latency over 100 sequential jobs (each waits on the poll, ~0.25 s on average: 500 would
   take minutes and say nothing more); throughput over the same 5,000 jobs, the same way.
4. Floor: the least any cross-process Redis queue can do: the bench LPUSHes a timestamp and
   a consumer process blocked in BLPOP notes when it got it (500 sequential); and the PING
   round trip.

It prints a table and writes `bench/results/jobs.json`, with the machine's load (this is a
2-core machine shared with other work: the load average and the CPU each process used are
recorded so a reader can judge the figures). Targets: p50 <= 10 ms, p99 <= 30 ms,
throughput >= 500 jobs/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from arq import create_pool  # noqa: E402
from arq.connections import RedisSettings  # noqa: E402
from arq.jobs import deserialize_result  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from bench.common import cpu_seconds, loadavg, spawn, stop, summary  # noqa: E402
from domain import jobs  # noqa: E402
from domain.companies import create_company  # noqa: E402
from domain.context import Ctx  # noqa: E402
from memory import serialization  # noqa: E402
from memory.events import CHANNEL  # noqa: E402
from memory.ids import new_id  # noqa: E402
from memory.queue import JobQueue  # noqa: E402
from memory.sqlite import SQLiteStore  # noqa: E402
from tests.servers import ValkeyProcess  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "jobs.json"
SELF = str(Path(__file__).resolve())
QUEUE = "numbors:queue"
ARQ_QUEUE = "bench:arq:queue"
FLOOR_KEY = "bench:floor"
STAGING = "bench:staging"
TARGET_P50_MS = 10.0
TARGET_P99_MS = 30.0
TARGET_JOBS_S = 500.0


# --- helper processes (this same file, another mode) ---------------------------------------


async def trivial(ctx: dict[str, Any], t_enqueued: float) -> dict[str, float]:
    """ARQ's side of the comparison: does nothing but say when it started."""
    return {"t_started": time.time()}


def arq_default_worker(redis_url: str) -> None:
    from arq.worker import Worker

    Worker(
        functions=[trivial],
        redis_settings=RedisSettings.from_dsn(redis_url),
        queue_name=ARQ_QUEUE,
    ).run()


def floor_consumer(redis_url: str) -> None:
    """BLPOP a timestamp, answer how late it came: the least a Redis queue can do."""
    import redis

    r = redis.Redis.from_url(redis_url)
    while True:
        _, raw = r.blpop([FLOOR_KEY])
        now = time.time()
        if raw == b"stop":
            return
        r.rpush(FLOOR_KEY + ":out", orjson.dumps({"sent": float(raw), "got": now}))


def python_speed_us() -> float:
    """`sum(range(1000))`, best of 5 runs of 2,000: about 10 us on an idle modern core; how
    much more it takes here says how contended the CPU was."""
    import timeit

    return round(min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6, 1)


# --- the run ------------------------------------------------------------------------------


class Bench:
    def __init__(self, directory: Path, valkey: ValkeyProcess, args: argparse.Namespace):
        self.dir = directory
        self.valkey = valkey
        self.args = args
        self.var = directory / "var"
        self.var.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBORS_")}
        self.env |= {
            "NUMBORS_REDIS_URL": valkey.url,
            "NUMBORS_VAR_DIR": str(self.var),
            "NUMBORS_JWT_SECRET": "bench-secret-" + "0123456789abcdef" * 3,
            "PYTHONPATH": str(ROOT),
        }
        self.redis = Redis.from_url(valkey.url)

    async def setup(self) -> None:
        self.store = SQLiteStore(self.var / "numbors.db")
        user = new_id()
        company = await create_company(self.store, user, "Bench Ltd")
        self.ctx = Ctx(store=self.store, user_id=user, company_id=company["_id"], role="owner")
        self.queue = await JobQueue.connect(self.valkey.url, QUEUE)

    async def close(self) -> None:
        await self.queue.close()
        await self.store.close()
        await self.redis.aclose()

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        return spawn([sys.executable, "-m", "workers"], self.env, self.dir / f"{name}.log")

    async def wait_worker(self, process: subprocess.Popen[bytes]) -> None:
        """Until the worker announces itself (its liveness key names its pid)."""
        deadline = time.monotonic() + 120
        pattern = f"numbors:worker:*:{process.pid}:*"
        while not [k async for k in self.redis.scan_iter(match=pattern)]:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start; see {self.dir}")
            await asyncio.sleep(0.05)

    # --- Numbors ---

    async def numbors_latency(self, count: int, warmup: int) -> dict[str, Any]:
        worker = self.start_worker("worker-latency")
        try:
            await self.wait_worker(worker)
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(CHANNEL)
            cpu0, load0 = cpu_seconds(worker.pid), loadavg()
            lat, round_trip = [], []
            for i in range(warmup + count):
                job = await jobs.create_job(self.ctx, "noop", {"t_enqueued": time.time()})
                t_enq = time.time()  # the record has committed: what counts starts here
                await self.queue.enqueue(job["_id"])
                deadline = time.monotonic() + 30
                while True:
                    message = await pubsub.get_message(timeout=1)
                    if message is None:  # a timeout, or the subscription's confirmation
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"no result for job {i}; see {self.dir}")
                        continue
                    event = orjson.loads(message["data"])
                    if event["job"] == job["_id"] and event["type"] == "result":
                        break
                done = time.time()
                if i >= warmup:
                    lat.append((orjson.loads(event["data"])["t_started"] - t_enq) * 1000)
                    round_trip.append((done - t_enq) * 1000)
            cpu = cpu_seconds(worker.pid) - cpu0
            await pubsub.aclose()
        finally:
            stop(worker)
        return {
            "enqueue_to_start": summary(lat),
            "enqueue_to_result_seen": summary(round_trip),
            "worker_cpu_s": round(cpu, 3),
            "load_before": load0,
        }

    async def drain(
        self, process: subprocess.Popen[bytes], queue: str, ids: list[str], loads: Any
    ) -> dict[str, Any]:
        """Hand the started (idle) worker the whole staged backlog at once (RENAME of the
        staging sorted set onto its queue), wait until it is drained; the worker's CPU is
        read around the drain only, so its start-up does not count."""
        load0 = loadavg()
        cpu0 = cpu_seconds(process.pid)
        await self.redis.rename(STAGING, queue)
        await self.queue.wake()
        deadline = time.monotonic() + 900
        while await self.redis.zcard(queue) > 0:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not drain {queue}; see {self.dir}")
            await asyncio.sleep(0.02)
        cpu = cpu_seconds(process.pid) - cpu0
        span = await self._span(ids, loads)
        return {
            **span,
            "jobs_per_s": round(len(ids) / span["span_s"], 1),
            "worker_cpu_s": round(cpu, 3),
            "worker_cpu_ms_per_job": round(1000 * cpu / len(ids), 3),
            "jobs_per_worker_cpu_s": round(len(ids) / cpu, 1) if cpu else None,
            "load_before": load0,
        }

    async def numbors_throughput(self, count: int) -> dict[str, Any]:
        ids = [(await jobs.create_job(self.ctx, "noop", {}))["_id"] for _ in range(count)]
        for job_id in ids:
            await self.queue.pool.enqueue_job(
                "run_job", job_id, _job_id=job_id, _queue_name=STAGING
            )
        worker = self.start_worker("worker-throughput")
        try:
            await self.wait_worker(worker)
            await asyncio.sleep(1)  # past its start-up reconcile
            out = await self.drain(worker, QUEUE, ids, serialization.loads)
        finally:
            stop(worker)
        unfinished = await self.store.count(
            "jobs", {"company_id": self.ctx.company_id, "status": {"$ne": "succeeded"}}
        )
        assert unfinished == 0, f"{unfinished} jobs did not succeed"
        return out

    async def _span(self, ids: list[str], loads: Any) -> dict[str, Any]:
        starts, finishes = [], []
        for chunk in range(0, len(ids), 500):
            keys = [f"arq:result:{i}" for i in ids[chunk : chunk + 500]]
            for raw in await self.redis.mget(keys):
                assert raw is not None, "a job left no result"
                result = deserialize_result(raw, deserializer=loads)
                assert result.success, result.result
                starts.append(result.start_time.timestamp())
                finishes.append(result.finish_time.timestamp())
        return {"n": len(ids), "span_s": round(max(finishes) - min(starts), 3)}

    # --- ARQ with its defaults ---

    async def arq_defaults(self, latency_count: int, count: int) -> dict[str, Any]:
        pool = await create_pool(RedisSettings.from_dsn(self.valkey.url))
        args = [sys.executable, SELF, "--arq-worker", self.valkey.url]
        try:
            worker = spawn(args, self.env, self.dir / "arq-latency.log")
            try:
                await asyncio.sleep(2)  # its start-up; the first job's wait absorbs the rest
                lat = []
                for i in range(latency_count + 5):
                    t_enq = time.time()
                    job = await pool.enqueue_job("trivial", t_enq, _queue_name=ARQ_QUEUE)
                    assert job is not None
                    result = await job.result(timeout=30, poll_delay=0.005)
                    if i >= 5:
                        lat.append((result["t_started"] - t_enq) * 1000)
            finally:
                stop(worker)
            ids = []
            for _ in range(count):
                job = await pool.enqueue_job("trivial", 0.0, _queue_name=STAGING)
                assert job is not None
                ids.append(job.job_id)
            worker = spawn(args, self.env, self.dir / "arq-throughput.log")
            try:
                deadline = time.monotonic() + 120
                while not await self.redis.exists(ARQ_QUEUE + ":health-check"):
                    if worker.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"ARQ's worker did not start; see {self.dir}")
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1)
                throughput = await self.drain(worker, ARQ_QUEUE, ids, None)
            finally:
                stop(worker)
        finally:
            await pool.aclose()
        return {
            "config": "arq.worker.Worker defaults: poll_delay 0.5 s, pickle, max_jobs 10",
            "enqueue_to_start": summary(lat),
            "throughput": throughput,
        }

    # --- floors ---

    async def floors(self, count: int) -> dict[str, Any]:
        pings = []
        for _ in range(count):
            t = time.perf_counter()
            await self.redis.ping()
            pings.append((time.perf_counter() - t) * 1000)
        args = [sys.executable, SELF, "--floor-consumer", self.valkey.url]
        consumer = spawn(args, self.env, self.dir / "floor.log")
        try:
            await asyncio.sleep(1.0)
            lat = []
            for _ in range(count + 20):
                await self.redis.rpush(FLOOR_KEY, repr(time.time()))
                _, raw = await self.redis.blpop([FLOOR_KEY + ":out"], timeout=10)
                row = orjson.loads(raw)
                lat.append((row["got"] - row["sent"]) * 1000)
            await self.redis.rpush(FLOOR_KEY, b"stop")
        finally:
            stop(consumer)
        return {"redis_ping": summary(pings), "blpop_handoff": summary(lat[20:])}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    latency_n, tput_n, arq_lat_n = (50, 500, 20) if args.quick else (500, 5000, 100)
    with tempfile.TemporaryDirectory(prefix="numbors-bench-jobs-") as tmp:
        directory = Path(tmp)
        valkey = ValkeyProcess(directory)
        bench = Bench(directory, valkey, args)
        try:
            await bench.setup()
            started = time.time()
            load_start = loadavg()
            speed_start = python_speed_us()
            print("floors ...", flush=True)
            floors = await bench.floors(latency_n)
            print("numbors latency ...", flush=True)
            latency = await bench.numbors_latency(latency_n, 20)
            print("numbors throughput ...", flush=True)
            throughput = await bench.numbors_throughput(tput_n)
            print("arq defaults ...", flush=True)
            arq = await bench.arq_defaults(arq_lat_n, tput_n)
            await bench.close()
        finally:
            valkey.stop()
    ours = latency["enqueue_to_start"]
    floor = floors["blpop_handoff"]
    out = {
        "benchmark": "jobs",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_at_start": load_start,
            "load_at_end": loadavg(),
            "python_speed_us_start": speed_start,
            "python_speed_us_end": python_speed_us(),
            "note": "shared 2-core machine; other agents' work was running during the run",
        },
        "numbors": {
            "worker": "python -m workers (ARQ + wake-up list, msgpack), INFO logging",
            "latency": latency,
            "throughput": throughput,
        },
        "arq_defaults": arq,
        "floor": floors,
        "ratios": {
            "p50_vs_blpop_floor": round(ours["p50_ms"] / floor["p50_ms"], 2),
            "p99_vs_blpop_floor": round(ours["p99_ms"] / floor["p99_ms"], 2),
            "p50_arq_defaults_over_numbors": round(
                arq["enqueue_to_start"]["p50_ms"] / ours["p50_ms"], 1
            ),
            "throughput_numbors_over_arq_defaults": round(
                throughput["jobs_per_s"] / arq["throughput"]["jobs_per_s"], 2
            ),
        },
        "targets": {
            "p50_ms": {
                "target": TARGET_P50_MS,
                "value": ours["p50_ms"],
                "pass": ours["p50_ms"] <= TARGET_P50_MS,
            },
            "p99_ms": {
                "target": TARGET_P99_MS,
                "value": ours["p99_ms"],
                "pass": ours["p99_ms"] <= TARGET_P99_MS,
            },
            "jobs_per_s": {
                "target": TARGET_JOBS_S,
                "value": throughput["jobs_per_s"],
                "pass": throughput["jobs_per_s"] >= TARGET_JOBS_S,
            },
        },
        "quick": bool(args.quick),
    }
    return out


def report(out: dict[str, Any]) -> None:
    n, a, f = out["numbors"], out["arq_defaults"], out["floor"]
    rows = [
        ("floor: redis PING", f["redis_ping"]),
        ("floor: LPUSH -> BLPOP in another process", f["blpop_handoff"]),
        ("numbors: enqueue -> handler start", n["latency"]["enqueue_to_start"]),
        ("numbors: enqueue -> result event seen", n["latency"]["enqueue_to_result_seen"]),
        ("arq defaults: enqueue -> function start", a["enqueue_to_start"]),
    ]
    print(f"\n{'latency':45} {'n':>5} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for name, s in rows:
        cells = " ".join(f"{s[k]:>9.3f}" for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms"))
        print(f"{name:45} {s['n']:>5} {cells}")
    head = f"{'jobs':>6} {'span s':>8} {'jobs/s':>8} {'cpu ms/job':>11} {'jobs/cpu-s':>11}"
    print(f"\n{'throughput (one worker, backlog drained)':45} {head}")
    for name, t in (("numbors", n["throughput"]), ("arq defaults", a["throughput"])):
        cells = f"{t['span_s']:>8.3f} {t['jobs_per_s']:>8.1f} {t['worker_cpu_ms_per_job']:>11.3f}"
        print(f"{name:45} {t['n']:>6} {cells} {t['jobs_per_worker_cpu_s']:>11}")
    print("\ntargets:")
    for name, t in out["targets"].items():
        print(
            f"  {name:12} {t['value']:>9} (target {t['target']}): {'pass' if t['pass'] else 'FAIL'}"
        )
    print(f"ratios: {out['ratios']}")
    m = out["machine"]
    print(f"load average: start {m['load_at_start']}, end {m['load_at_end']}")
    print(
        f"sum(range(1000)): {m['python_speed_us_start']} us at start, "
        f"{m['python_speed_us_end']} us at end (about 10 us on an idle core)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--arq-worker", metavar="REDIS_URL", help=argparse.SUPPRESS)
    parser.add_argument("--floor-consumer", metavar="REDIS_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arq_worker:
        arq_default_worker(args.arq_worker)
        return
    if args.floor_consumer:
        with contextlib.suppress(KeyboardInterrupt):
            floor_consumer(args.floor_consumer)
        return
    out = asyncio.run(run(args))
    report(out)
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
