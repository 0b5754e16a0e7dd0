"""Report latency over the API against the floor of a plain relational table.

Run from the repository root: `.venv/bin/python bench/reports.py [--transactions N]
[--documents N]` (defaults 100,000 and 10,000).

1. Generates one company's books through the domain layer (the same functions the API
   calls, payloads validated by the API's own models): customers, suppliers, three bank
   accounts (one in EUR), taxes, then documents (70% invoices, 30% bills, posted) and
   transactions (about 8% of them payments of those documents, the rest income and expense
   across two years). Every one writes its journal entry, as through the API.
2. Starts ONE API process as `make run` starts it (uvicorn --factory api.app:app_factory) on
   that SQLite file and times trial balance, profit and loss for a year (with a comparison
   year) and aged receivables over HTTP: warm-up, then the median and p90 of 15 calls.
3. Copies the same journal lines and documents into plain relational tables (real columns,
   the same covering indexes) in the same file and times the same aggregations directly
   with sqlite3: the floor.
4. Prints the table and writes `bench/results/reports.json` with the ratios, the API
   process's resident memory, and pass/fail against the targets (each report at most 3x
   its floor and at most 250 ms; API under 300 MB). `--transactions 1000000` writes
   `bench/results/reports_1000000.json`.

The API sums whole months from the ledger's monthly totals (`domain/accounting/periods.py`)
and only the partial months at a range's edges from the lines; the floor sums every line of
the range, as a report without period totals must. Books kept with `--keep` before the
monthly totals existed get them when the API starts (`periods.backfill`), as any older
database does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.books import create  # noqa: E402
from domain.auth import accounts as users  # noqa: E402
from domain.auth.tokens import TokenConfig  # noqa: E402
from domain.banking.accounts import ACCOUNTS  # noqa: E402
from domain.banking.transactions import TRANSACTIONS  # noqa: E402
from domain.contacts import CONTACTS  # noqa: E402
from domain.context import Ctx  # noqa: E402
from domain.currencies import CURRENCIES  # noqa: E402
from domain.documents.documents import DOCUMENTS  # noqa: E402
from domain.errors import Conflict  # noqa: E402
from domain.taxes import TAXES  # noqa: E402
from memory.sqlite import SQLiteStore  # noqa: E402
from supervisor import free_port, stop, wait_http  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "reports.json"
SECRET = "bench-secret-" + "0123456789abcdef" * 3
PASSWORD = "bench-password-0123456789"
START = date(2025, 1, 1)
DAYS = 700
BATCH = 500
RUNS = 15
TARGET_RATIO = 3.0
TARGET_MS = 250.0
TARGET_RSS_MB = 300.0
MID_FROM, MID = "2025-03-15", "2026-06-15"


def day(rng: random.Random) -> str:
    return (START + timedelta(days=rng.randrange(DAYS))).isoformat()


async def generate(path: Path, n_transactions: int, n_documents: int) -> dict[str, Any]:
    rng = random.Random(7)
    store = SQLiteStore(path)
    config = TokenConfig(key=SECRET, issuer="numbors", audience="numbors-api", ttl_s=86400)
    registered = await users.register(
        store,
        config,
        users.Registration(
            email="bench@example.com",
            password=PASSWORD,
            name="Bench",
            company_name="Bench Co",
            base_currency="USD",
        ),
    )
    ctx = Ctx(store, registered["user"]["id"], registered["company"]["id"], "owner")
    started = time.perf_counter()
    await create(ctx, CURRENCIES, {"code": "EUR", "rate": "1.1"})
    vat = await create(ctx, TAXES, {"name": "VAT", "rate": 20})
    reduced = await create(ctx, TAXES, {"name": "Reduced", "rate": 5})
    customers = [
        await create(ctx, CONTACTS, {"name": f"Customer {i}", "type": "customer"})
        for i in range(200)
    ]
    suppliers = [
        await create(ctx, CONTACTS, {"name": f"Supplier {i}", "type": "supplier"})
        for i in range(50)
    ]
    banks = [
        await create(ctx, ACCOUNTS, {"name": n, "currency": c, "opening_balance": "50000"})
        for n, c in (("Main", "USD"), ("Savings", "USD"), ("Euro", "EUR"))
    ]
    usd_banks = [b for b in banks if b["currency"] == "USD"]

    documents: list[dict[str, Any]] = []
    for start in range(0, n_documents, BATCH):
        async with store.transaction():
            for _ in range(min(BATCH, n_documents - start)):
                invoice = rng.random() < 0.7
                issued = day(rng)
                lines = [
                    {
                        "name": f"Line {j}",
                        "quantity": rng.randint(1, 5),
                        "price": f"{rng.randint(1000, 200000) / 100:.2f}",
                        "tax_ids": [rng.choice((vat, reduced))["id"]],
                    }
                    for j in range(rng.randint(1, 3))
                ]
                doc = await create(
                    ctx,
                    DOCUMENTS,
                    {
                        "type": "invoice" if invoice else "bill",
                        "contact_id": rng.choice(customers if invoice else suppliers)["id"],
                        "issued_at": issued,
                        "due_at": (date.fromisoformat(issued) + timedelta(days=30)).isoformat(),
                        "status": "sent",
                        "lines": lines,
                    },
                )
                documents.append(doc)
    payments = 0
    for start in range(0, n_transactions, BATCH):
        async with store.transaction():
            for _ in range(min(BATCH, n_transactions - start)):
                if documents and rng.random() < 0.08:
                    doc = documents.pop(rng.randrange(len(documents)))
                    if doc["currency"] == "USD" and doc["due"] > 0:
                        share = 1 if rng.random() < 0.6 else 0.5
                        try:
                            await create(
                                ctx,
                                TRANSACTIONS,
                                {
                                    "account_id": rng.choice(usd_banks)["id"],
                                    "paid_at": doc["due_at"],
                                    "document_id": doc["id"],
                                    "amount": f"{doc['due'] * share:.2f}",
                                },
                            )
                            payments += 1
                            continue
                        except Conflict:
                            pass
                income = rng.random() < 0.55
                await create(
                    ctx,
                    TRANSACTIONS,
                    {
                        "type": "income" if income else "expense",
                        "account_id": rng.choice(banks)["id"],
                        "paid_at": day(rng),
                        "amount": f"{rng.randint(500, 500000) / 100:.2f}",
                    },
                )
    elapsed = time.perf_counter() - started
    await store.close()
    return {
        "company_id": ctx.company_id,
        "generation_s": round(elapsed, 1),
        "payments": payments,
        "documents": n_documents,
        "transactions": n_transactions,
    }


FLOOR_SQL = {
    "trial_balance": (
        "SELECT account_id, sum(debit), sum(credit) FROM floor_lines "
        "WHERE company_id = ? AND date <= ? GROUP BY account_id"
    ),
    "profit_and_loss": (
        "SELECT account_id, sum(debit), sum(credit) FROM floor_lines "
        "WHERE company_id = ? AND date >= ? AND date <= ? "
        "AND account_type IN ('income', 'expense') GROUP BY account_id"
    ),
    "aged_receivables": (
        "SELECT contact_id, due_at, sum(due_base) FROM floor_documents "
        "WHERE company_id = ? AND type = 'invoice' "
        "AND status IN ('sent', 'viewed', 'partial') AND issued_at <= ? "
        "GROUP BY contact_id, due_at"
    ),
}


def build_floor(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript("""
        DROP TABLE IF EXISTS floor_lines;
        DROP TABLE IF EXISTS floor_documents;
        CREATE TABLE floor_lines (company_id TEXT, account_id TEXT, account_type TEXT,
                                  date TEXT, debit INTEGER, credit INTEGER);
        INSERT INTO floor_lines SELECT f_company_id, f_account_id, f_account_type, f_date,
                                       f_debit, f_credit FROM journal_lines;
        CREATE INDEX floor_a ON floor_lines (company_id, account_id, date, debit, credit);
        CREATE INDEX floor_d ON floor_lines (company_id, date, account_type, account_id,
                                             debit, credit);
        CREATE TABLE floor_documents (company_id TEXT, type TEXT, status TEXT, contact_id TEXT,
                                      issued_at TEXT, due_at TEXT, due_base INTEGER);
        INSERT INTO floor_documents SELECT f_company_id, f_type, f_status, f_contact_id,
            f_issued_at, f_due_at, f_due_base FROM documents;
        CREATE INDEX floor_docs ON floor_documents (company_id, status, due_at);
        ANALYZE;
    """)
    db.commit()
    db.close()


def time_floor(path: Path, company_id: str) -> dict[str, dict[str, float]]:
    db = sqlite3.connect(path)
    params = {
        "trial_balance": ("trial_balance", (company_id, "2026-12-31")),
        "profit_and_loss": ("profit_and_loss", (company_id, "2026-01-01", "2026-12-31")),
        "aged_receivables": ("aged_receivables", (company_id, "2026-12-31")),
        # mid-month edges: the API sums the partial months at the edges from the lines
        "trial_balance_mid_month": ("trial_balance", (company_id, MID)),
        "profit_and_loss_mid_month": ("profit_and_loss", (company_id, MID_FROM, MID)),
    }
    out = {}
    for name, (query, args) in params.items():

        def run(sql: str = FLOOR_SQL[query], args: tuple = args) -> None:
            db.execute(sql, args).fetchall()

        out[name] = measure(run)
    if True:  # P&L with a comparison year runs the period query twice
        pnl = FLOOR_SQL["profit_and_loss"]

        def both() -> None:
            db.execute(pnl, (company_id, "2026-01-01", "2026-12-31")).fetchall()
            db.execute(pnl, (company_id, "2025-01-01", "2025-12-31")).fetchall()

        out["profit_and_loss"] = measure(both)
    db.close()
    return out


def measure(call: Any) -> dict[str, float]:
    for _ in range(3):
        call()
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p90_ms": round(times[int(len(times) * 0.9) - 1], 2),
        "min_ms": round(times[0], 2),
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def time_api(path: Path, var: Path) -> tuple[dict[str, dict[str, float]], float]:
    port = free_port()
    env = {
        **os.environ,
        "NUMBORS_SQLITE_PATH": str(path),
        "NUMBORS_VAR_DIR": str(var),
        "NUMBORS_JWT_SECRET": SECRET,
        "NUMBORS_PORT": str(port),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("NUMBORS_REDIS_URL", None)
    env.pop("NUMBORS_MONGODB_URL", None)
    api = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.app:app_factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "5",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/api/health", api)
        with httpx.Client(base_url=base, timeout=60) as client:
            login = client.post(
                "/api/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
            )
            token = login.json()["data"]["token"]
            headers = {"Authorization": f"Bearer {token}"}
            urls = {
                "trial_balance": "/api/reports/trial-balance?as_of=2026-12-31",
                "profit_and_loss": "/api/reports/profit-and-loss?from=2026-01-01&to=2026-12-31"
                "&compare_from=2025-01-01&compare_to=2025-12-31",
                "aged_receivables": "/api/reports/aged-receivables?as_of=2026-12-31",
                "trial_balance_mid_month": f"/api/reports/trial-balance?as_of={MID}",
                "profit_and_loss_mid_month": (
                    f"/api/reports/profit-and-loss?from={MID_FROM}&to={MID}"
                ),
            }
            out = {}
            for name, url in urls.items():

                def call(url: str = url) -> None:
                    response = client.get(url, headers=headers)
                    assert response.status_code == 200, response.text

                out[name] = measure(call)
            for name in ("trial_balance", "trial_balance_mid_month"):
                check = client.get(urls[name], headers=headers).json()["data"]
                assert check["balanced"], f"{name} does not balance"
                assert _nets(check) == _floor_nets(path, check["as_of"]), f"{name} != the floor"
        return out, rss_mb(api.pid)
    finally:
        stop([api])


def _nets(trial_balance: dict[str, Any]) -> dict[str, int]:
    """Each account's balance in the API's trial balance, in cents (the books are in USD)."""
    return {
        a["account_id"]: round((a["debit"] - a["credit"]) * 100) for a in trial_balance["accounts"]
    }


def _floor_nets(path: Path, as_of: str) -> dict[str, int]:
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT account_id, sum(debit) - sum(credit) FROM floor_lines WHERE date <= ? "
        "GROUP BY account_id",
        (as_of,),
    ).fetchall()
    db.close()
    return {account: net for account, net in rows if net}


def reused(path: Path) -> dict[str, Any]:
    db = sqlite3.connect(path)
    company = db.execute("SELECT id FROM companies LIMIT 1").fetchone()[0]
    counts = {
        name: db.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        for name in ("transactions", "documents", "journal_lines")
    }
    db.close()
    return {"company_id": company, "reused": True, **counts}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--keep", help="keep the generated database at this path")
    parser.add_argument(
        "--reuse", action="store_true", help="time the books already at --keep, no generation"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="numbors-bench-"))
    path = Path(args.keep) if args.keep else work / "reports.db"
    if args.reuse and path.exists():
        books = reused(path)
    else:
        if path.exists():
            path.unlink()
        print(f"generating {args.documents} documents and {args.transactions} transactions")
        books = asyncio.run(generate(path, args.transactions, args.documents))
        print(f"generated in {books['generation_s']} s", flush=True)
    build_floor(path)
    floor = time_floor(path, books["company_id"])
    api, rss = time_api(path, work)
    rows = {}
    for name in api:
        ratio = api[name]["p50_ms"] / max(floor[name]["p50_ms"], 0.01)
        rows[name] = {
            "api": api[name],
            "floor": floor[name],
            "ratio": round(ratio, 2),
            "pass": ratio <= TARGET_RATIO and api[name]["p50_ms"] <= TARGET_MS,
        }
        print(
            f"{name:26} api p50 {api[name]['p50_ms']:8.2f} ms  floor p50 "
            f"{floor[name]['p50_ms']:8.2f} ms  ratio {ratio:5.2f}  "
            f"{'pass' if rows[name]['pass'] else 'FAIL'}"
        )
    print(f"API resident memory {rss} MB ({'pass' if rss < TARGET_RSS_MB else 'FAIL'})")
    result = {
        "books": books,
        "reports": rows,
        "api_rss_mb": rss,
        "targets": {"ratio_max": TARGET_RATIO, "ms_max": TARGET_MS, "rss_mb_max": TARGET_RSS_MB},
        "rss_pass": rss < TARGET_RSS_MB,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    name = (
        RESULTS
        if args.transactions == 100_000
        else RESULTS.with_name(f"reports_{args.transactions}.json")
    )
    name.write_text(json.dumps(result, indent=2))
    print(f"wrote {name}")


if __name__ == "__main__":
    main()
