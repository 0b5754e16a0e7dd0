"""CRUD throughput and latency of the API, as ratios to floors measured in the same run.

Run from the repository root: `.venv/bin/python bench/api_crud.py` (or `make bench`).

What it does:
1. Starts its own Valkey and a temporary var dir, then ONE API process exactly as
   `make run` starts it (`python -m uvicorn --factory api.app:app_factory --host ... --port
   ... --no-access-log --timeout-graceful-shutdown 5`, NUMBORS_* in the environment). It
   registers a user, creates one contact and stores one AI insight (through the store port:
   only a worker's job makes one) to read. The API runs twice: with the default INFO logging
   (one JSON access line per request, written to a file, as in production; this is the run
   the targets are judged on) and with NUMBORS_LOG_LEVEL=WARNING.
2. Serves two floors the same way (`bench/floor_app.py`, same uvicorn flags, one process at
   a time): `bare` (FastAPI answering a tiny JSON) and `essential` (the same JWT verified
   through the API's own verified-token cache, `domain/auth/tokens.py`, so both sides pay
   PyJWT once per token; one SQLite statement on a plain table holding the same contact,
   the envelope rendered with orjson; nothing of the project's machinery).
3. Drives each with authenticated `GET /api/contacts/{id}` (GET), `GET
   /api/ai-insights/insights/{id}` (GATED: a GET by id in a licence-gated, non-core
   module, where the API loads the company's licence and the essential floor reads and
   checks it too; at concurrency 16 only) and `POST /api/contacts` (a unique email per
   request) at each concurrency: keep-alive connections, a warm-up that is not counted,
   then a fixed measured window. Every request's status is checked.
4. Prints a table and writes `bench/results/api_crud.json` (with the git commit measured,
   `bench/common.py`): every figure, the ratios to the essential floor, and the targets (GET
   by id at concurrency 16: at least 70% of the floor's req/s with p99 at most twice the
   floor's; GATED the same 70%; POST at concurrency 16: at least 60% of the floor's req/s),
   each marked pass or fail.

The load generator. By default it is a minimal asyncio HTTP/1.1 keep-alive client on
uvloop (prebuilt request bytes, responses framed by Content-Length). httpx cannot load a
server on this kind of machine: measured here it needs about 1.4 ms of CPU per request at
concurrency 1 and degrades with concurrency (under 200 req/s at 64 connections with its
process at 100% CPU), several times what the server spends, so it, not the server, would
set the pace and flatter every ratio. `--client httpx` still runs the same load with it.
The run's "client check" measures the client itself: the bare floor (the fastest target)
at the highest concurrency with 1 and 2 client processes, raw and httpx, with the CPU each
side used. Every cell records the server's and the client's CPU use, so a reader can see
which side was saturated.

CPU placement. On a machine with at least 2 CPUs the server is pinned to CPU 0 and the
client processes to the others (`--no-pin` disables this), so the two never compete for a
core and the server's core is its own; on 2 CPUs that leaves one core for all the load
generators, which is why the client's CPU share is printed next to every figure.

A shared machine. Other work on the machine lowers req/s unevenly, so targets run in
interleaved rounds (ratios are taken within a round, then the median), each cell waits
until the rest of the machine is nearly idle, and a cell during which other work took
more than `--max-other` % of a CPU is measured again. `server_cpu_us_per_req` (the server
process's CPU time per request) moves much less with such noise than req/s does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402

from bench import floor_app  # noqa: E402
from bench.common import (  # noqa: E402
    Load,
    Server,
    git_state,
    loadavg,
    median,
    split,
    start_load,
    start_uvicorn,
    stop,
    summary,
    system_busy_seconds,
    wait_quiet,
    write_results,
)
from domain.modules.catalogue import CATALOGUE  # noqa: E402
from memory.ids import new_id, utcnow  # noqa: E402
from memory.sqlite import SQLiteStore  # noqa: E402
from tests.servers import ValkeyProcess  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "api_crud.json"
HOST = "127.0.0.1"
PASSWORD = "bench-password-0123456789"
SECRET = "bench-secret-" + "0123456789abcdef" * 3

GET_TARGET_RPS = 0.70
GET_TARGET_P99 = 2.0
POST_TARGET_RPS = 0.60
TARGET_CONCURRENCY = 16

CONTACT = {
    "type": "customer",
    "name": "Ada Lovelace Ltd",
    "email": "ada@example.com",
    "phone": "+44 20 7946 0000",
    "currency": "GBP",
    "address": {"line1": "12 Analytical Street", "city": "London", "country": "GB"},
    "reference": "C-0001",
    "notes": "Prefers invoices by email.",
}


# --- cells -----------------------------------------------------------------------------

# What each kind of cell requests: (HTTP method, path, expected status). GATED is a GET by id
# of a resource in a licence-gated (non-core) module: the API checks the company's licence.
KINDS = ("GET", "GATED", "POST")
GATED_PATH = "/api/ai-insights/insights/{id}"
GATED_MODULE = "ai-insights"


@dataclass
class Target:
    """What the client needs to address one server's contacts."""

    server: Server
    token: str
    company_id: str
    contact_id: str
    insight_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Company-Id": self.company_id}

    def request(self, kind: str) -> tuple[str, str, int]:
        if kind == "GET":
            return "GET", f"/api/contacts/{self.contact_id}", 200
        if kind == "GATED":
            return "GET", GATED_PATH.format(id=self.insight_id), 200
        return "POST", "/api/contacts", 201


def post_body(tag: str, n: int) -> bytes:
    return orjson.dumps(
        {
            "type": "customer",
            "name": f"Bench Contact {n}",
            "email": f"bench-{tag}-{n}@example.com",
            "phone": "+1 555 0100",
            "currency": "USD",
            "reference": f"B-{n}",
        }
    )


def run_cell(
    target: Target,
    kind: str,
    concurrency: int,
    options: argparse.Namespace,
    *,
    client: str | None = None,
    procs: int | None = None,
    client_cpus: set[int] | None,
) -> dict[str, Any]:
    client = client or options.client
    shares = split(concurrency, procs or options.client_procs)
    method, path, expected = target.request(kind)
    start_at = time.monotonic() + 0.5 + 0.1 * len(shares)
    tag = uuid.uuid4().hex[:10]
    collect = start_load(
        [
            Load(
                port=target.server.port,
                method=method,
                path=path,
                headers=target.headers,
                connections=share,
                start_at=start_at,
                warmup_s=options.warmup,
                duration_s=options.duration,
                client=client,
                tag=f"{tag}-{i}",
                body=post_body if method == "POST" else None,
                expected=expected,
                cpus=client_cpus,
            )
            for i, share in enumerate(shares)
        ]
    )
    measure_from = start_at + options.warmup
    load_average = loadavg()
    time.sleep(max(0.0, measure_from - time.monotonic()))
    server_before, busy_before = target.server.cpu_seconds(), system_busy_seconds()
    time.sleep(max(0.0, measure_from + options.duration - time.monotonic()))
    server_cpu = target.server.cpu_seconds() - server_before
    busy = system_busy_seconds() - busy_before
    result = collect()
    latencies = [1000 * x for x in result.latencies]
    if not latencies:
        raise RuntimeError(f"no {kind} to {target.server.name} completed in the window")
    n = len(latencies)
    stats = summary(latencies)
    cell = {
        "target": target.server.name,
        "method": kind,
        "concurrency": concurrency,
        "client": client,
        "client_procs": len(shares),
        "requests": n,
        "errors": result.errors,
        "duration_s": options.duration,
        "rps": n / options.duration,
        **{k: v for k, v in stats.items() if k != "n"},
        "server_cpu_pct": 100 * server_cpu / options.duration,
        "server_cpu_us_per_req": 1e6 * server_cpu / n,
        "client_cpu_pct": 100 * result.cpu_s / options.duration,
        "other_cpu_pct": max(0.0, 100 * (busy - server_cpu - result.cpu_s) / options.duration),
        "loadavg_before": load_average,
    }
    if result.errors:
        cell["error_sample"] = result.error_sample
    _print_cell(cell)
    if result.errors:
        raise RuntimeError(f"{result.errors} unexpected responses, e.g. {result.error_sample}")
    if n < options.min_requests:
        print(f"    note: only {n} requests measured (wanted {options.min_requests})")
    return cell


def _print_cell(cell: dict[str, Any]) -> None:
    print(
        f"  {cell['target']:<16} {cell['method']:<5} c={cell['concurrency']:<3} "
        f"{cell['client']:>5}x{cell['client_procs']}  {cell['rps']:>8.0f} req/s  "
        f"p50 {cell['p50_ms']:>7.2f} ms  p99 {cell['p99_ms']:>7.2f} ms  "
        f"n={cell['requests']:<6} cpu% server {cell['server_cpu_pct']:>3.0f} "
        f"({cell['server_cpu_us_per_req']:>4.0f} us/req) client {cell['client_cpu_pct']:>3.0f} "
        f"other {cell['other_cpu_pct']:>3.0f}",
        flush=True,
    )


# --- setup of each server ---------------------------------------------------------------


def seed_insight(db: Path, company_id: str) -> str:
    """One stored insight, written through the store port as the analysis job writes one (an
    insight has no create route: only a worker's job makes one); answer its id."""
    store = SQLiteStore(db)
    now = utcnow()
    doc = {
        "_id": new_id(),
        "company_id": company_id,
        "created_at": now,
        "updated_at": now,
        "job_id": new_id(),
        "report": "profit-and-loss",
        "input": {"report": "profit-and-loss", "from": "2026-01-01", "to": "2026-12-31"},
        "currency": "USD",
        "summary": "Income rose 12% on the year; expenses held flat.",
        "findings": [{"kind": "change", "text": "Income up 12%"}],
        "facts": [{"key": "income.change_pct", "value": 12}],
        "facts_digest": "0" * 64,
        "provider": "offline",
        "model": "offline",
        "offline": True,
        "usage": {},
        "validation": {"checked": 1, "mismatches": []},
    }

    async def insert() -> None:
        try:
            await store.insert_one("insights", doc)
        finally:
            await store.close()

    asyncio.run(insert())
    return doc["_id"]


def prepare_api(server: Server, db: Path) -> tuple[Target, dict[str, Any]]:
    """Register, create the contact, store one insight in the API's database; answer the
    target and the API's answers to both GETs."""
    with httpx.Client(base_url=server.base, timeout=30) as http:
        response = http.post(
            "/api/auth/register",
            json={
                "email": f"bench-{uuid.uuid4().hex[:8]}@example.com",
                "password": PASSWORD,
                "name": "Bench User",
                "company_name": "Bench Ltd",
            },
        )
        response.raise_for_status()
        data = response.json()["data"]
        token, company_id = data["token"], data["company"]["id"]
        headers = {"Authorization": f"Bearer {token}", "X-Company-Id": company_id}
        created = http.post("/api/contacts", json=CONTACT, headers=headers)
        created.raise_for_status()
        contact = created.json()["data"]
        target = Target(server, token, company_id, contact["id"], seed_insight(db, company_id))
        answers = {}
        for kind in ("GET", "GATED"):
            read = http.get(target.request(kind)[1], headers=headers)
            read.raise_for_status()
            answers[kind] = read.json()
        check = http.get(f"/api/modules/check/{GATED_MODULE}", headers=headers)
        check.raise_for_status()
        if not check.json()["data"]["enabled"]:
            raise RuntimeError(f"{GATED_MODULE} is not enabled in a new company's licence")
    return target, answers


def seed_floor(db: Path, answers: dict[str, Any]) -> None:
    contact, insight = answers["GET"]["data"], answers["GATED"]["data"]
    company = contact["company_id"]
    licence = {
        "company_id": company,
        "modules": [m.alias for m in CATALOGUE],
        "valid_until": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400)),
    }
    conn = floor_app.connect(str(db))
    try:
        for table, key, doc in (
            ("contacts", contact["id"], contact),
            ("insights", insight["id"], insight),
            ("licences", company, licence),
        ):
            conn.execute(
                f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?)",
                (key, company, orjson.dumps(doc).decode()),
            )
    finally:
        conn.close()


def check_same_answer(target: Target, expected: dict[str, Any]) -> None:
    for kind in ("GET", "GATED"):
        response = httpx.get(
            f"{target.server.base}{target.request(kind)[1]}", headers=target.headers
        )
        if response.status_code != 200 or response.json() != expected[kind]:
            raise RuntimeError(
                f"{target.server.name} does not answer {kind} as the API does: "
                f"{response.text[:300]}"
            )


# --- the run -----------------------------------------------------------------------------

STATS = ("rps", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "server_cpu_us_per_req")
STATS_PCT = ("server_cpu_pct", "client_cpu_pct", "other_cpu_pct")


def measured_cell(
    target: Target,
    method: str,
    concurrency: int,
    options: argparse.Namespace,
    client_cpus: set[int] | None,
    **kw: Any,
) -> dict[str, Any]:
    """A cell measured while the machine is otherwise quiet, re-measured (up to
    `--retries` times) when other work took more than `--max-other` % of a CPU."""
    best: dict[str, Any] | None = None
    for attempt in range(options.retries + 1):
        waited = wait_quiet(options.max_other, options.quiet_wait)
        cell = run_cell(target, method, concurrency, options, client_cpus=client_cpus, **kw)
        cell["quiet_wait_s"] = round(waited, 1)
        cell["attempts"] = attempt + 1
        if best is None or cell["other_cpu_pct"] < best["other_cpu_pct"]:
            best = cell
        if cell["other_cpu_pct"] <= options.max_other:
            break
        print(f"    other work took {cell['other_cpu_pct']:.0f}% of a CPU: measuring again")
    assert best is not None
    best["disturbed"] = best["other_cpu_pct"] > options.max_other
    return best


def _cells(cells: list[dict[str, Any]], target: str, method: str, c: int) -> list[Any]:
    return [
        x
        for x in cells
        if x["target"] == target and x["method"] == method and x["concurrency"] == c
    ]


def summarise(cells: list[dict[str, Any]], names: list[str], conc: list[int]) -> list[Any]:
    """Per target, method and concurrency: the median of the rounds, and the req/s range."""
    out = []
    for name in names:
        for method in KINDS:
            for c in conc:
                rounds = _cells(cells, name, method, c)
                if not rounds:
                    continue
                row: dict[str, Any] = {"target": name, "method": method, "concurrency": c}
                for key in (*STATS, *STATS_PCT):
                    row[key] = median([x[key] for x in rounds])
                row["rps_min"] = min(x["rps"] for x in rounds)
                row["rps_max"] = max(x["rps"] for x in rounds)
                row["requests"] = sum(x["requests"] for x in rounds)
                row["rounds"] = len(rounds)
                row["disturbed_rounds"] = sum(1 for x in rounds if x["disturbed"])
                out.append(row)
    return out


def ratios(cells: list[dict[str, Any]], mine: str, floor: str, conc: list[int]) -> list[Any]:
    """Ratios within each round (the two cells ran minutes apart at most), then the median."""
    out = []
    for method in KINDS:
        for c in conc:
            pairs = [
                (a, b)
                for a in _cells(cells, mine, method, c)
                for b in _cells(cells, floor, method, c)
                if a["round"] == b["round"]
            ]
            if not pairs:
                continue
            rps = [a["rps"] / b["rps"] for a, b in pairs]
            p99 = [a["p99_ms"] / b["p99_ms"] for a, b in pairs]
            cpu = [a["server_cpu_us_per_req"] / b["server_cpu_us_per_req"] for a, b in pairs]
            out.append(
                {
                    "api": mine,
                    "floor": floor,
                    "method": method,
                    "concurrency": c,
                    "rps_ratio": median(rps),
                    "rps_ratio_range": [min(rps), max(rps)],
                    "p50_ratio": median([a["p50_ms"] / b["p50_ms"] for a, b in pairs]),
                    "p99_ratio": median(p99),
                    "p99_ratio_range": [min(p99), max(p99)],
                    "cpu_per_req_ratio": median(cpu),
                }
            )
    return out


def targets(ratio_rows: list[dict[str, Any]], api: str) -> list[dict[str, Any]]:
    def row(method: str) -> dict[str, Any]:
        return next(
            r
            for r in ratio_rows
            if r["api"] == api
            and r["floor"] == "essential"
            and r["method"] == method
            and r["concurrency"] == TARGET_CONCURRENCY
        )

    get, gated, post = row("GET"), row("GATED"), row("POST")
    at = f"at concurrency {TARGET_CONCURRENCY}"
    return [
        {
            "api": api,
            "target": f"GET by id req/s >= {GET_TARGET_RPS:.0%} of the essential floor's {at}",
            "value": get["rps_ratio"],
            "range": get["rps_ratio_range"],
            "pass": get["rps_ratio"] >= GET_TARGET_RPS,
        },
        {
            "api": api,
            "target": f"GET by id p99 <= {GET_TARGET_P99:g}x the essential floor's {at}",
            "value": get["p99_ratio"],
            "range": get["p99_ratio_range"],
            "pass": get["p99_ratio"] <= GET_TARGET_P99,
        },
        {
            "api": api,
            "target": f"GET in a licence-gated module ({GATED_PATH}) req/s >= "
            f"{GET_TARGET_RPS:.0%} of the essential floor's {at}",
            "value": gated["rps_ratio"],
            "range": gated["rps_ratio_range"],
            "pass": gated["rps_ratio"] >= GET_TARGET_RPS,
        },
        {
            "api": api,
            "target": f"POST req/s >= {POST_TARGET_RPS:.0%} of the essential floor's {at}",
            "value": post["rps_ratio"],
            "range": post["rps_ratio_range"],
            "pass": post["rps_ratio"] >= POST_TARGET_RPS,
        },
    ]


def client_check(
    target: Target, options: argparse.Namespace, client_cpus: set[int] | None
) -> dict[str, Any]:
    """The fastest target at the highest concurrency, with 1 and 2 client processes."""
    c = max(options.concurrency)
    cells = [
        measured_cell(target, "GET", c, options, client_cpus, client=kind, procs=procs)
        for kind in ("raw", "httpx")
        for procs in (1, 2)
    ]
    by = {(x["client"], x["client_procs"]): x for x in cells}
    raw1, raw2 = by[("raw", 1)], by[("raw", 2)]
    gain = raw2["rps"] / raw1["rps"] - 1
    bound = raw1["client_cpu_pct"] >= 90 or gain > 0.10
    return {
        "cells": cells,
        "raw_2proc_gain": gain,
        "httpx_vs_raw": by[("httpx", 1)]["rps"] / raw1["rps"],
        "raw_client_is_limit": bound,
        "verdict": (
            f"the raw client may be the limit (a second process adds {gain:+.0%}, one uses "
            f"{raw1['client_cpu_pct']:.0f}% of a CPU): treat the bare floor as a lower bound"
            if bound
            else f"the raw client is not the limit: a second client process changes req/s by "
            f"{gain:+.0%}, and one process uses {raw1['client_cpu_pct']:.0f}% of a CPU while "
            f"the server uses {raw1['server_cpu_pct']:.0f}%"
        )
        + f"; httpx reaches {by[('httpx', 1)]['rps'] / raw1['rps']:.0%} of the raw client's "
        f"req/s using {by[('httpx', 1)]['client_cpu_pct']:.0f}% of a CPU",
    }


def environment(pinned: bool, server_cpus: Any, client_cpus: Any) -> dict[str, Any]:
    import fastapi
    import jwt
    import pydantic
    import starlette
    import uvicorn

    versions = {
        "python": platform.python_version(),
        "fastapi": fastapi.__version__,
        "starlette": starlette.__version__,
        "uvicorn": uvicorn.__version__,
        "pydantic": pydantic.__version__,
        "pyjwt": jwt.__version__,
        "orjson": orjson.__version__,
        "sqlite": sqlite3.sqlite_version,
    }
    with contextlib.suppress(ImportError):
        import uvloop

        versions["uvloop"] = uvloop.__version__
    with contextlib.suppress(ImportError):
        import httptools

        versions["httptools"] = httptools.__version__
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "versions": versions,
        "pinned": pinned,
        "server_cpus": sorted(server_cpus) if server_cpus else None,
        "client_cpus": sorted(client_cpus) if client_cpus else None,
    }


def print_table(result: dict[str, Any]) -> None:
    conc = result["config"]["concurrency"]
    print(
        f"\nmedian of {result['config']['rounds']} rounds: req/s  p50 ms  p99 ms  "
        "(server CPU us per request)"
    )
    names = list(dict.fromkeys(x["target"] for x in result["summary"]))
    for method in KINDS:
        print(f"\n{method:<12}" + "".join(f"{'c=' + str(c):>34}" for c in conc))
        for name in names:
            row = f"{name:<12}"
            for c in conc:
                found = _cells(result["summary"], name, method, c)
                row += (
                    f"{found[0]['rps']:>8.0f} {found[0]['p50_ms']:>7.2f} "
                    f"{found[0]['p99_ms']:>7.2f} ({found[0]['server_cpu_us_per_req']:>5.0f} us)"
                    if found
                    else f"{'-':>34}"
                )
            print(row)
    print("\nratios (median of the per-round ratios [range]): req/s, p99, server CPU per request")
    for r in result["ratios"]:
        lo, hi = r["rps_ratio_range"]
        print(
            f"  {r['api']:<11} / {r['floor']:<9} {r['method']:<5} c={r['concurrency']:<3} "
            f"req/s x{r['rps_ratio']:.2f} [{lo:.2f}-{hi:.2f}]  p99 x{r['p99_ratio']:.2f}  "
            f"cpu/req x{r['cpu_per_req_ratio']:.2f}"
        )
    print("\ntargets")
    for t in result["targets"]:
        mark = "PASS" if t["pass"] else "FAIL"
        lo, hi = t["range"]
        print(f"  [{mark}] {t['api']}: {t['target']}: {t['value']:.2f} [{lo:.2f}-{hi:.2f}]")
    if result.get("client_check"):
        print(f"\nclient check: {result['client_check']['verdict']}")
    for note in result["notes"]:
        print(f"note: {note}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds per cell")
    parser.add_argument("--duration", type=float, default=4.0, help="measured seconds per cell")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument(
        "--concurrency",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 16, 64],
        help="comma-separated connection counts",
    )
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--client-procs", type=int, default=1, help="load processes per cell")
    parser.add_argument("--min-requests", type=int, default=2000)
    parser.add_argument(
        "--max-other",
        type=float,
        default=30.0,
        help="%% of one CPU other work may use during a cell before it is measured again",
    )
    parser.add_argument("--retries", type=int, default=2, help="re-measurements of a cell")
    parser.add_argument(
        "--quiet-wait", type=float, default=20.0, help="longest wait for a quiet machine (s)"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and client")
    parser.add_argument("--no-warning-run", action="store_true", help="skip the WARNING run")
    parser.add_argument("--no-client-check", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, dbs)")
    options = parser.parse_args()
    if TARGET_CONCURRENCY not in options.concurrency:
        parser.error(f"--concurrency must include {TARGET_CONCURRENCY} (the targets use it)")
    return options


def main() -> int:
    options = parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    pinned = not options.no_pin and len(cpus) >= 2
    server_cpus = {cpus[0]} if pinned else None
    client_cpus = set(cpus[1:]) if pinned else None
    tmp = Path(tempfile.mkdtemp(prefix="numbors-bench-"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBORS_")}
    processes: list[subprocess.Popen[bytes]] = []
    cells: list[dict[str, Any]] = []
    log_lines: dict[str, int] = {}
    check: dict[str, Any] | None = None
    started = time.time()
    apis = [("api", "INFO")] + ([] if options.no_warning_run else [("api-warning", "WARNING")])
    names = [name for name, _ in apis] + ["bare", "essential"]
    git = git_state()
    try:
        (tmp / "valkey").mkdir()
        valkey = ValkeyProcess(tmp / "valkey")
        processes.append(valkey.process)
        redis_url = valkey.url
        serving: dict[str, Target] = {}
        answer: dict[str, Any] = {}
        for name, level in apis:
            print(f"{name}: uvicorn --factory api.app:app_factory, NUMBORS_LOG_LEVEL={level}")
            env = {
                **base_env,
                "NUMBORS_VAR_DIR": str(tmp / name),
                "NUMBORS_SQLITE_PATH": str(tmp / name / "numbors.db"),
                "NUMBORS_JWT_SECRET": SECRET,
                "NUMBORS_REDIS_URL": redis_url,
                "NUMBORS_LOG_LEVEL": level,
            }
            server = start_uvicorn(
                name, "api.app:app_factory", env, tmp / f"{name}.log", server_cpus
            )
            processes.append(server.process)
            serving[name], read = prepare_api(server, tmp / name / "numbors.db")
            answer = answer or read
        api = serving["api"]
        floor_db = tmp / "floor.db"
        seed_floor(floor_db, answer)
        floor_env = {**base_env, "NUMBORS_JWT_SECRET": SECRET, "FLOOR_DB": str(floor_db)}
        for kind in ("bare", "essential"):
            print(f"{kind}: uvicorn --factory bench.floor_app:app_factory, FLOOR_KIND={kind}")
            env = {**floor_env, "FLOOR_KIND": kind}
            server = start_uvicorn(
                kind, "bench.floor_app:app_factory", env, tmp / f"{kind}.log", server_cpus
            )
            processes.append(server.process)
            serving[kind] = Target(
                server, api.token, api.company_id, api.contact_id, api.insight_id
            )
        check_same_answer(serving["essential"], answer)

        for round_ in range(options.rounds):
            print(f"\nround {round_ + 1} of {options.rounds}")
            for method in KINDS:
                for c in options.concurrency:
                    if method == "GATED" and c != TARGET_CONCURRENCY:
                        continue  # the gated GET is judged at the target concurrency only
                    shift = round_ % len(names)
                    for name in names[shift:] + names[:shift]:
                        cell = measured_cell(serving[name], method, c, options, client_cpus)
                        cell["round"] = round_
                        cells.append(cell)
        if not options.no_client_check:
            print("\nclient check: the bare floor at the highest concurrency")
            check = client_check(serving["bare"], options, client_cpus)
        for name, _ in apis:
            log_lines[name] = sum(1 for _ in (tmp / f"{name}.log").open("rb"))
    finally:
        for process in reversed(processes):
            stop(process)
        if options.keep:
            print(f"kept {tmp} (logs and databases)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    conc = options.concurrency
    ratio_rows = []
    for name, _ in apis:
        ratio_rows += ratios(cells, name, "essential", conc)
        ratio_rows += ratios(cells, name, "bare", conc)
    ratio_rows += ratios(cells, "essential", "bare", conc)
    judged = [t for name, _ in apis for t in targets(ratio_rows, name)]
    disturbed = sum(1 for x in cells if x["disturbed"])
    notes = [
        f"{os.cpu_count()} CPUs; "
        + (
            f"every server pinned to CPU {sorted(server_cpus)} (one loaded at a time), the "
            f"load generator to CPU {sorted(client_cpus)}: neither competes with the other "
            "for its core; on 2 CPUs the load generator has exactly one"
            if pinned and server_cpus and client_cpus
            else "server and client not pinned: they share the CPUs"
        ),
        f"{options.rounds} interleaved rounds (the order of targets rotates each round); "
        "figures are medians, ratios are medians of ratios taken within one round",
        f"a cell is measured once the rest of the machine uses under {options.max_other:g}% "
        f"of a CPU (waiting up to {options.quiet_wait:g} s) and re-measured up to "
        f"{options.retries} times when other work exceeded that during it; {disturbed} of "
        f"{len(cells)} cells still were ('other_cpu_pct', 'disturbed' in the cells; it also "
        "counts the kernel's loopback networking, which grows with req/s)",
        "targets are judged on 'api' (the default INFO logging: one JSON access line per "
        "request, written to a file as in production); 'api-warning' is the same API with "
        "NUMBORS_LOG_LEVEL=WARNING, to show what that line costs",
        "the floors log nothing, check no company membership, validate no model and maintain "
        "no secondary index; the API does all of these, and the ratios charge it for them",
        "the essential floor verifies the token through the API's own verified-token cache "
        "(domain/auth/tokens.py: PyJWT once per token, then a dict hit until exp), as the "
        "API does; on GATED it also reads the company's licence and checks the module",
        f"GATED is {GATED_PATH}, a GET by id in the {GATED_MODULE} module (not core, so the "
        "API loads the company's licence and checks the module before the read); its "
        "insight is stored directly through the store port (only a worker's job makes one)",
        "latencies are seen by the client and include its own time, most visibly at "
        "concurrency 1; 'server_cpu_us_per_req' is the server process's CPU time per request",
    ]
    result = {
        "benchmark": "api_crud",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "config": {
            "warmup_s": options.warmup,
            "duration_s": options.duration,
            "rounds": options.rounds,
            "concurrency": conc,
            "client": options.client,
            "client_procs": options.client_procs,
            "max_other_pct": options.max_other,
            "uvicorn": "python -m uvicorn --factory <app> --host 127.0.0.1 --port <free> "
            "--no-access-log --timeout-graceful-shutdown 5",
            "requests": {
                "GET": "/api/contacts/{id} with Authorization and X-Company-Id",
                "GATED": f"{GATED_PATH} (module {GATED_MODULE}, not core: the licence is "
                f"checked), at concurrency {TARGET_CONCURRENCY}",
                "POST": "/api/contacts, a 6-field contact with a unique email",
            },
        },
        "environment": environment(pinned, server_cpus, client_cpus),
        "summary": summarise(cells, names, conc),
        "ratios": ratio_rows,
        "targets": judged,
        "client_check": check,
        "api_log_lines": log_lines,
        "notes": notes,
        "cells": cells,
    }
    print_table(result)
    write_results(options.out, result, git)
    print(
        f"\nwrote {options.out} (at {git['commit'][:12]}{' + uncommitted' if git['dirty'] else ''})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
