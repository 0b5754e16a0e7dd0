"""Process, load and statistics helpers shared by the benchmarks.

- `git_state()`: the commit a run measured (and whether the tree had uncommitted changes);
  every results file records it, through `write_results`.
- `start_uvicorn()`: one server process with exactly the flags `make run` gives the API.
- `run_load()`: the load generator, a minimal asyncio HTTP/1.1 keep-alive client on uvloop
  (prebuilt request bytes, responses framed by Content-Length) in forked processes, or the
  same load with httpx. httpx costs about 1.4 ms of CPU per request here, several times what
  the server spends, so it would set the pace and flatter every ratio; the raw client does not.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from supervisor import die_with_parent, free_port, wait_http

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"


# --- what was measured ------------------------------------------------------------------


def git_state() -> dict[str, Any]:
    """The commit the working tree is at, and the tracked files changed on top of it (others
    may be editing the same tree): a figure belongs to `commit` only when `dirty` is false."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    changed = [
        line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
    ]
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(changed), "dirty_files": changed}


def write_results(path: Path, result: dict[str, Any], git: dict[str, Any]) -> None:
    """Write a results file with `git`: the `git_state()` taken when the run started its
    servers (the code they loaded), so a commit landing meanwhile is not credited."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"git": git, **result}, indent=2) + "\n")


# --- processes --------------------------------------------------------------------------


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def system_busy_seconds() -> float:
    """CPU time spent on anything but idle, summed over all CPUs, from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / CLK_TCK


def wait_quiet(limit_pct: float, max_wait_s: float) -> float:
    """Wait until the machine's other work uses under `limit_pct` of one CPU; answer the wait."""
    started = time.monotonic()
    while time.monotonic() - started < max_wait_s:
        before = system_busy_seconds()
        time.sleep(0.5)
        if 100 * (system_busy_seconds() - before) / 0.5 < limit_pct:
            break
    return time.monotonic() - started


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process (all its threads)."""
        return cpu_seconds(self.process.pid)


def start_uvicorn(
    name: str, factory: str, env: dict[str, str], log: Path, cpus: set[int] | None
) -> Server:
    """One uvicorn process with exactly the flags `make run` (supervisor.py) gives the API."""
    port = free_port()
    env = {**env, "NUMBORS_HOST": HOST, "NUMBORS_PORT": str(port), "PYTHONPATH": str(ROOT)}
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "5",
    ]
    process = spawn(args, env, log)
    server = Server(name, process, port, log)
    if cpus:
        os.sched_setaffinity(process.pid, cpus)
    if factory.startswith("api."):
        wait_http(f"{server.base}/api/health", process)
    else:
        wait_port(server)
    return server


def wait_port(server: Server) -> None:
    """Floors have no /api/health: wait until anything answers over HTTP."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}")
        try:
            httpx.get(server.base, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{server.name} did not answer in time")


# --- the load generator -----------------------------------------------------------------

Body = Callable[[str, int], bytes]  # (the process's tag, a running number) -> request body


@dataclass
class Load:
    """One client process's share of a load."""

    port: int
    method: str
    path: str
    headers: dict[str, str]
    connections: int
    start_at: float  # time.monotonic(), shared by every process on Linux (CLOCK_MONOTONIC)
    warmup_s: float
    duration_s: float
    client: str = "raw"  # raw or httpx
    tag: str = ""
    body: Body | None = None
    expected: int = 200
    cpus: set[int] | None = None


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds
    errors: int = 0
    error_sample: str = ""
    cpu_s: float = 0.0


def _raw_request(load: Load, body: bytes | None) -> bytes:
    lines = [f"{load.method} {load.path} HTTP/1.1", f"Host: {HOST}:{load.port}"]
    lines += [f"{k}: {v}" for k, v in load.headers.items()]
    lines += ["Accept: application/json", "User-Agent: numbors-bench"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def _raw_exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = -1
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    if length < 0:
        raise RuntimeError(f"response without Content-Length: {head!r}")
    return status, await reader.readexactly(length)


async def _until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def drive(load: Load) -> LoadResult:
    """Run one process's share: `connections` keep-alive loops, latencies of the window."""
    result = LoadResult()
    measure_from = load.start_at + load.warmup_s
    end = measure_from + load.duration_s
    counter = iter(range(1 << 62))
    now = time.monotonic
    clock = time.perf_counter

    def body() -> bytes | None:
        return None if load.body is None else load.body(load.tag, next(counter))

    def record(started: float, status: int, content: bytes) -> None:
        done = now()
        if measure_from <= done < end:
            result.latencies.append(clock() - started)
            if status != load.expected:
                result.errors += 1
                result.error_sample = result.error_sample or f"{status} {content[:300]!r}"

    async def raw_worker() -> None:
        reader, writer = await asyncio.open_connection(HOST, load.port)
        fixed = _raw_request(load, None) if load.body is None else b""
        await _until(load.start_at)
        try:
            while now() < end:
                request = fixed or _raw_request(load, body())
                started = clock()
                status, content = await _raw_exchange(reader, writer, request)
                record(started, status, content)
        finally:
            writer.close()

    async def httpx_workers(client: httpx.AsyncClient) -> None:
        async def one() -> None:
            headers = {**load.headers, "Accept": "application/json"}
            if load.body is not None:
                headers["Content-Type"] = "application/json"
            await _until(load.start_at)
            while now() < end:
                started = clock()
                response = await client.request(
                    load.method, load.path, content=body(), headers=headers
                )
                record(started, response.status_code, response.content)

        await asyncio.gather(*(one() for _ in range(load.connections)))

    async def cpu_probe() -> None:
        await _until(measure_from)
        before = time.process_time()
        await _until(end)
        result.cpu_s = time.process_time() - before

    probe = asyncio.ensure_future(cpu_probe())
    if load.client == "raw":
        await asyncio.gather(*(raw_worker() for _ in range(load.connections)))
    else:
        limits = httpx.Limits(
            max_connections=load.connections, max_keepalive_connections=load.connections
        )
        base = f"http://{HOST}:{load.port}"
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
            await httpx_workers(client)
    await probe
    return result


def _client_process(load: Load, out: Any) -> None:
    if load.cpus:
        os.sched_setaffinity(0, load.cpus)
    try:
        import uvloop

        result = uvloop.run(drive(load))
    except ImportError:
        result = asyncio.run(drive(load))
    out.put((result.latencies, result.errors, result.error_sample, result.cpu_s))


def start_load(loads: list[Load]) -> Callable[[], LoadResult]:
    """Fork one client process per load; answer a function that waits for them all and
    merges their results."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_client_process, args=(x, queue), daemon=True) for x in loads]
    for worker in workers:
        worker.start()
    timeout = 120 + max(x.start_at - time.monotonic() + x.warmup_s + x.duration_s for x in loads)

    def collect() -> LoadResult:
        parts = [queue.get(timeout=timeout) for _ in workers]
        for worker in workers:
            worker.join(30)
        merged = LoadResult()
        for latencies, errors, sample, cpu in parts:
            merged.latencies += latencies
            merged.errors += errors
            merged.error_sample = merged.error_sample or sample
            merged.cpu_s += cpu
        return merged

    return collect


def split(connections: int, procs: int) -> list[int]:
    """`connections` spread over `procs` client processes (the first ones take the rest)."""
    procs = min(procs, connections)
    return [connections // procs + (1 if i < connections % procs else 0) for i in range(procs)]


# --- statistics -------------------------------------------------------------------------


def summary(values_ms: list[float]) -> dict[str, float]:
    ordered = sorted(values_ms)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {
        "n": len(ordered),
        "p50_ms": round(pct(50), 3),
        "p90_ms": round(pct(90), 3),
        "p99_ms": round(pct(99), 3),
        "max_ms": round(ordered[-1], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
