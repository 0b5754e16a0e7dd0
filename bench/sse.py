"""Job events over SSE: publish-to-client latency against a bare relay floor measured in the
same run, a new subscriber's first event, and 1,000 idle subscribers on one API process.

Run from the repository root: `.venv/bin/python bench/sse.py` (`--quick` for a smoke run).

What it does:
1. Starts its own Valkey, a temporary var dir, and ONE API process exactly as `make run`
   starts it (`python -m uvicorn --factory api.app:app_factory ... --no-access-log
   --timeout-graceful-shutdown 5`, NUMBORS_* in the environment). It registers a user over
   HTTP and creates the jobs to follow directly in the store (`domain.jobs.create_job`, the
   same SQLite file): no worker runs, the bench itself is the worker.
2. Publish -> client latency: one SSE connection follows a job; the bench publishes with
   `memory.events.EventPublisher` (what workers use: XADD + PUBLISH in one Lua call) and
   times from just before the call until the event is parsed off the socket. Sequential:
   2,000 events after 100 not counted.
   Floor, same run: a bare relay process (this file, `--relay`) holding one Redis pub/sub
   connection on the same channel and writing each message straight to a client socket; the
   bench publishes the same way. The difference is what the API adds (hub fan-out, the SSE
   generator, sse-starlette, uvicorn, HTTP chunking).
3. First event for a new subscriber: 300 times, a new TCP connection, `GET .../events` with
   the token, until the first (replayed) event is parsed. Floor, same run: a new connection
   and an authenticated `GET /api/jobs/{id}` (the same auth and store read, one response).
4. 1,000 concurrent idle subscribers, each on a job of its own, opened in bursts of 100 at
   once (as clients reconnecting after a restart would) and held for 20 s with the default
   15 s heartbeat: the API's RSS before and with them (per subscriber), heartbeats
   received, the API's CPU while they idle, Redis `CLIENT LIST` before, with 100 and with
   1,000 (flat: a subscriber holds no connection; the API's shared pool may grow by at most
   REPLAY_CONCURRENCY, the bound on concurrent replays, however many subscribe), and the
   publish latency of one more active subscriber while they are all open.

The client is a minimal asyncio HTTP/1.1 reader (chunked decoding, SSE framing): httpx costs
more CPU per event than the server, and on a 2-core machine it, not the API, would set the
pace. Writes `bench/results/sse.json`. Targets: p50 <= 5 ms, p99 <= 20 ms, first event
<= 10 ms, RSS <= 64 KB per idle subscriber, Redis connections not growing with subscribers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
import timeit
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from bench.common import cpu_seconds, loadavg, spawn, stop, summary  # noqa: E402
from domain import jobs  # noqa: E402
from domain.context import Ctx  # noqa: E402
from memory.events import CHANNEL, REPLAY_CONCURRENCY, EventPublisher  # noqa: E402
from memory.sqlite import SQLiteStore  # noqa: E402
from supervisor import free_port, wait_http  # noqa: E402
from tests.servers import ValkeyProcess  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "sse.json"
SELF = str(Path(__file__).resolve())
HOST = "127.0.0.1"
SECRET = "bench-secret-" + "0123456789abcdef" * 3
PASSWORD = "bench-password-0123456789"
PAGE = os.sysconf("SC_PAGE_SIZE")
RELAY_JOB = "floor"
BURST = 100
TARGETS = {"p50_ms": 5.0, "p99_ms": 20.0, "first_event_p50_ms": 10.0, "rss_per_sub_kb": 64.0}


# --- the bare relay (floor), run as `bench/sse.py --relay REDIS_URL PORT` -------------------


async def relay(redis_url: str, port: int) -> None:
    """One pub/sub connection; every message on the events channel straight to the client."""
    redis = Redis.from_url(redis_url)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)
    clients: set[asyncio.StreamWriter] = set()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        clients.add(writer)

    server = await asyncio.start_server(accept, HOST, port)
    async with server:
        async for message in pubsub.listen():
            if message.get("type") == "message":
                # Like the API's hub: parse, pick the job's subscribers, hand the event on.
                event = orjson.loads(message["data"])
                if event["job"] != RELAY_JOB:
                    continue
                line = message["data"] + b"\n"
                for writer in clients:
                    writer.write(line)


# --- processes ------------------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE // 1024


def python_speed_us() -> float:
    """`sum(range(1000))`, best of 5: about 10 us on an idle modern core."""
    return round(min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6, 1)


# --- a minimal SSE client -------------------------------------------------------------------


@dataclass
class Message:
    fields: dict[str, str] = field(default_factory=dict)
    comment: bool = False


class RawSSE:
    """One HTTP/1.1 connection reading `text/event-stream` (chunked), event by event."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.buffer = b""
        self.status = 0
        self.chunked = False

    @classmethod
    async def open(
        cls, port: int, path: str, token: str, last_event_id: str | None = None
    ) -> RawSSE:
        reader, writer = await asyncio.open_connection(HOST, port)
        client = cls(reader, writer)
        extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id else ""
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Accept: text/event-stream\r\n{extra}\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        client.status = int(head.split(b" ", 2)[1])
        client.chunked = b"transfer-encoding: chunked" in head.lower()
        return client

    async def _more(self) -> None:
        if not self.chunked:
            data = await self.reader.read(65536)
        else:
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            data = (await self.reader.readexactly(size + 2))[:-2] if size else b""
        if not data:
            raise EOFError("the server ended the stream")
        self.buffer += data

    async def next(self) -> Message:
        while b"\r\n\r\n" not in self.buffer:
            await self._more()
        block, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = block.decode().split("\r\n")
        if all(line.startswith(":") for line in lines):
            return Message(comment=True)
        message = Message()
        for line in lines:
            name, _, value = line.partition(":")
            message.fields[name] = value.removeprefix(" ")
        return message

    def close(self) -> None:
        self.writer.close()


# --- the run --------------------------------------------------------------------------------


class Bench:
    def __init__(self, directory: Path, valkey: ValkeyProcess, quick: bool):
        self.dir = directory
        self.valkey = valkey
        self.quick = quick
        self.var = directory / "var"
        self.var.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBORS_")}
        self.env |= {
            "NUMBORS_REDIS_URL": valkey.url,
            "NUMBORS_VAR_DIR": str(self.var),
            "NUMBORS_JWT_SECRET": SECRET,
            "NUMBORS_HOST": HOST,
            "PYTHONPATH": str(ROOT),
        }
        self.redis = Redis.from_url(valkey.url)
        self.events = EventPublisher(self.redis, 3600)

    def start_api(self) -> None:
        self.port = free_port()
        args = [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_factory"]
        args += ["--host", HOST, "--port", str(self.port), "--no-access-log"]
        args += ["--timeout-graceful-shutdown", "5"]
        env = {**self.env, "NUMBORS_PORT": str(self.port)}
        self.api = spawn(args, env, self.dir / "api.log")
        wait_http(f"http://{HOST}:{self.port}/api/health", self.api)

    async def setup(self) -> None:
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{self.port}") as http:
            body = {
                "email": "bench@example.com",
                "password": PASSWORD,
                "name": "Bench",
                "company_name": "Bench Ltd",
            }
            response = await http.post("/api/auth/register", json=body)
            assert response.status_code == 201, response.text
            found = response.json()["data"]
        self.token = found["token"]
        self.store = SQLiteStore(self.var / "numbors.db")
        self.ctx = Ctx(self.store, found["user"]["id"], found["company"]["id"], "owner")

    async def new_job(self) -> str:
        return (await jobs.create_job(self.ctx, "noop", {}))["_id"]

    async def close(self) -> None:
        await self.store.close()
        await self.redis.aclose()

    # --- publish -> client ---

    async def sample_sse(self, client: RawSSE, job_id: str, seq: int) -> float:
        t0 = time.perf_counter()
        await self.events.publish(job_id, "progress", {"seq": seq})
        while True:
            message = await client.next()
            if not message.comment:
                break
        took = (time.perf_counter() - t0) * 1000
        assert orjson.loads(message.fields["data"]) == {"seq": seq}, message
        return took

    async def sample_relay(self, reader: asyncio.StreamReader, seq: int) -> float:
        t0 = time.perf_counter()
        await self.events.publish(RELAY_JOB, "progress", {"seq": seq})
        line = await reader.readline()
        took = (time.perf_counter() - t0) * 1000
        assert orjson.loads(orjson.loads(line)["data"]) == {"seq": seq}
        return took

    async def latency(self, count: int, warmup: int) -> dict[str, Any]:
        """Floor and API sample by sample, alternately, so drifting load hits both alike.
        Both are subscribed throughout, so each publish reaches both processes."""
        port = free_port()
        args = [sys.executable, SELF, "--relay", self.valkey.url, str(port)]
        process = spawn(args, self.env, self.dir / "relay.log")
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    reader, writer = await asyncio.open_connection(HOST, port)
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the relay did not start") from None
                    await asyncio.sleep(0.05)
            job_id = await self.new_job()
            client = await RawSSE.open(self.port, f"/api/jobs/{job_id}/events", self.token)
            assert client.status == 200, client.status
            await asyncio.sleep(0.2)
            floor, api = [], []
            for i in range(warmup + count):
                relay_ms = await self.sample_relay(reader, i)
                api_ms = await self.sample_sse(client, job_id, i)
                if i >= warmup:
                    floor.append(relay_ms)
                    api.append(api_ms)
            client.close()
            writer.close()
        finally:
            stop(process)
        return {"api_sse": summary(api), "floor_bare_relay": summary(floor)}

    # --- a new subscriber's first event ---

    async def first_event(self, count: int) -> dict[str, Any]:
        job_id = await self.new_job()
        for i in range(10):
            await self.events.publish(job_id, "progress", {"seq": i})
        path = f"/api/jobs/{job_id}/events"
        sse, get = [], []
        for i in range(count + 20):
            t0 = time.perf_counter()
            client = await RawSSE.open(self.port, path, self.token)
            message = await client.next()
            took = (time.perf_counter() - t0) * 1000
            client.close()
            assert message.fields.get("event") == "progress", message
            t0 = time.perf_counter()
            reader, writer = await asyncio.open_connection(HOST, self.port)
            writer.write(
                f"GET /api/jobs/{job_id} HTTP/1.1\r\nHost: {HOST}\r\n"
                f"Authorization: Bearer {self.token}\r\nConnection: close\r\n\r\n".encode()
            )
            response = await reader.read()
            took_get = (time.perf_counter() - t0) * 1000
            writer.close()
            assert response.startswith(b"HTTP/1.1 200"), response[:100]
            if i >= 20:
                sse.append(took)
                get.append(took_get)
        return {"sse_first_event": summary(sse), "floor_new_connection_get_job": summary(get)}

    # --- idle subscribers ---

    async def idle(self, count: int, hold_s: float) -> dict[str, Any]:
        ids = [await self.new_job() for _ in range(count)]

        async def open_many(first: int, end: int) -> list[RawSSE]:
            """In bursts of BURST at once, as clients reconnecting after a restart would."""
            clients: list[RawSSE] = []
            for at in range(first, end, BURST):
                clients += await asyncio.gather(
                    *(
                        RawSSE.open(self.port, f"/api/jobs/{job_id}/events", self.token)
                        for job_id in ids[at : min(end, at + BURST)]
                    )
                )
            assert {c.status for c in clients} <= {200}, {c.status for c in clients}
            return clients

        # Warm the process up with 50 that come and go, then measure from a settled state.
        for client in await open_many(0, 50):
            client.close()
        await asyncio.sleep(2)
        connections_before = len(await self.redis.client_list())
        rss_before = rss_kb(self.api.pid)

        opened_at = time.perf_counter()
        clients = await open_many(0, BURST)
        await asyncio.sleep(0.5)
        connections_first_burst = len(await self.redis.client_list())
        clients += await open_many(BURST, count)
        open_s = time.perf_counter() - opened_at
        await asyncio.sleep(1)
        rss_open = rss_kb(self.api.pid)
        connections_open = len(await self.redis.client_list())

        heartbeats = [0] * count

        async def listen(i: int, client: RawSSE) -> None:
            with contextlib.suppress(EOFError, ConnectionError):
                while True:
                    if (await client.next()).comment:
                        heartbeats[i] += 1

        listeners = [asyncio.create_task(listen(i, c)) for i, c in enumerate(clients)]
        cpu0, t0 = cpu_seconds(self.api.pid), time.monotonic()
        await asyncio.sleep(hold_s)
        idle_cpu = cpu_seconds(self.api.pid) - cpu0
        held = time.monotonic() - t0
        rss_held = rss_kb(self.api.pid)

        # One more, active, subscriber while the thousand are open.
        job_id = await self.new_job()
        active = await RawSSE.open(self.port, f"/api/jobs/{job_id}/events", self.token)
        samples = [await self.sample_sse(active, job_id, n) for n in range(320)]
        busy_latency = summary(samples[20:])
        active.close()

        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        for client in clients:
            client.close()
        growth = max(rss_open, rss_held) - rss_before
        return {
            "subscribers": count,
            "open_s": round(open_s, 3),
            "api_rss_kb": {"before": rss_before, "open": rss_open, "after_hold": rss_held},
            "rss_per_subscriber_kb": round(growth / count, 2),
            "held_s": round(held, 1),
            "heartbeats": {
                "min": min(heartbeats),
                "max": max(heartbeats),
                "subscribers_with_one": sum(1 for h in heartbeats if h >= 1),
            },
            "api_cpu_while_idle_pct": round(100 * idle_cpu / held, 2),
            "redis_clients": {
                "before": connections_before,
                f"with_{BURST}": connections_first_burst,
                f"with_{count}": connections_open,
                "note": "the API's shared pool may keep up to REPLAY_CONCURRENCY more for "
                "replays (bounded, whatever the number of subscribers)",
            },
            "latency_one_active_among_them": busy_latency,
        }


async def run(quick: bool) -> dict[str, Any]:
    count, warmup, firsts, idle_n, hold = (
        (200, 20, 50, 200, 16.0) if quick else (2000, 100, 300, 1000, 20.0)
    )
    with tempfile.TemporaryDirectory(prefix="numbors-bench-sse-") as tmp:
        directory = Path(tmp)
        valkey = ValkeyProcess(directory)
        bench = Bench(directory, valkey, quick)
        try:
            bench.start_api()
            await bench.setup()
            started, load_start, speed_start = time.time(), loadavg(), python_speed_us()
            print("publish -> client: API SSE and bare relay ...", flush=True)
            publish = await bench.latency(count, warmup)
            latency, floor = publish["api_sse"], publish["floor_bare_relay"]
            print("first event ...", flush=True)
            first = await bench.first_event(firsts)
            print(f"{idle_n} idle subscribers for {hold:.0f} s ...", flush=True)
            idle = await bench.idle(idle_n, hold)
            await bench.close()
        finally:
            if getattr(bench, "api", None) is not None:
                stop(bench.api)
            valkey.stop()
    redis = idle["redis_clients"]
    return {
        "benchmark": "sse",
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
        "publish_to_client": publish,
        "first_event": first,
        "idle_subscribers": idle,
        "ratios": {
            "p50_vs_relay": round(latency["p50_ms"] / floor["p50_ms"], 2),
            "p99_vs_relay": round(latency["p99_ms"] / floor["p99_ms"], 2),
            "first_event_p50_vs_new_connection_get": round(
                first["sse_first_event"]["p50_ms"]
                / first["floor_new_connection_get_job"]["p50_ms"],
                2,
            ),
        },
        "targets": {
            "p50_ms": _target(latency["p50_ms"], TARGETS["p50_ms"]),
            "p99_ms": _target(latency["p99_ms"], TARGETS["p99_ms"]),
            "first_event_p50_ms": _target(
                first["sse_first_event"]["p50_ms"], TARGETS["first_event_p50_ms"]
            ),
            "rss_per_subscriber_kb": _target(
                idle["rss_per_subscriber_kb"], TARGETS["rss_per_sub_kb"]
            ),
            "redis_clients_flat": {
                "value": redis[f"with_{idle['subscribers']}"] - redis["before"],
                "target": f"<= {REPLAY_CONCURRENCY} (REPLAY_CONCURRENCY) whatever the count",
                "pass": redis[f"with_{idle['subscribers']}"] - redis["before"]
                <= REPLAY_CONCURRENCY,
            },
        },
        "quick": quick,
    }


def _target(value: float, limit: float) -> dict[str, Any]:
    return {"value": value, "target": limit, "pass": value <= limit}


def report(out: dict[str, Any]) -> None:
    p, f, i = out["publish_to_client"], out["first_event"], out["idle_subscribers"]
    rows = [
        ("floor: publish -> bare relay -> socket", p["floor_bare_relay"]),
        ("publish -> API SSE -> client", p["api_sse"]),
        (
            f"same, with {i['subscribers']} idle subscribers open",
            i["latency_one_active_among_them"],
        ),
        ("floor: new connection + GET job", f["floor_new_connection_get_job"]),
        ("new subscriber: connect -> first event", f["sse_first_event"]),
    ]
    print(f"\n{'latency':48} {'n':>5} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, s in rows:
        cells = " ".join(f"{s[k]:>8.3f}" for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms"))
        print(f"{name:48} {s['n']:>5} {cells}")
    print(
        f"\n{i['subscribers']} idle subscribers: opened in {i['open_s']} s; API RSS "
        f"{i['api_rss_kb']} KB -> {i['rss_per_subscriber_kb']} KB each; heartbeats per "
        f"subscriber in {i['held_s']} s: {i['heartbeats']}; API CPU while idle "
        f"{i['api_cpu_while_idle_pct']}%; Redis clients {i['redis_clients']}"
    )
    print("targets:")
    for name, t in out["targets"].items():
        print(
            f"  {name:24} {t['value']:>9} (target {t['target']}): {'pass' if t['pass'] else 'FAIL'}"
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
    parser.add_argument("--relay", nargs=2, metavar=("REDIS_URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(relay(args.relay[0], int(args.relay[1])))
        return
    out = asyncio.run(run(args.quick))
    report(out)
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
