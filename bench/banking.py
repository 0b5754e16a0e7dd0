"""Bank feeds' targets of issue 16: a 10,000-line statement with 50 rules and 2,000 open
invoices imported, ruled and matched (at most 2 s), and its re-import (at most 0.5 s,
writing nothing).

Run from the repository root: `.venv/bin/python bench/banking.py [--lines N] [--invoices N]`.

Through the domain layer on a fresh SQLite file, as the worker runs the import job
(`conductors/bank_sync.py` calls `sync.import_statement`, timed here without the queue):
one company registered as the API registers one, a bank account with a file connection,
200 customers, N open invoices (sent, so posted), 10 expense categories and 50 rules
(`contains` a merchant's name, money out). The statement is an OFX file of `--lines`
transactions: one payment per invoice (its total, its number in the memo) and card
payments at 60 merchants, 50 of which a rule categorises. Timed: the import (parse with
ofxtools, dedupe, rules, suggestions, the lines written in one transaction), the parse
alone, the same file imported again (known by its sha256: nothing read or written), and the
same lines in a file that differs by its header (parsed, every line skipped by its key).
Figures: wall seconds, the import's CPU seconds (less sensitive to other people's load), and
the import as a multiple of a floor measured in the same run (writing as many documents of a
line's shape in one transaction). Writes `bench/results/banking.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from bench.books import company, create  # noqa: E402
from bench.common import git_state, write_results  # noqa: E402
from domain.bankfeeds import statements, sync  # noqa: E402
from domain.bankfeeds.connections import CONNECTIONS  # noqa: E402
from domain.bankfeeds.rules import RULES  # noqa: E402
from domain.banking.accounts import ACCOUNTS  # noqa: E402
from domain.categories import CATEGORIES  # noqa: E402
from domain.contacts import CONTACTS  # noqa: E402
from domain.documents.documents import DOCUMENTS  # noqa: E402
from memory.sqlite import SQLiteStore  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "banking.json"
IMPORT_TARGET_S = 2.0
REIMPORT_TARGET_S = 0.5
HEADER = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20261130
<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1><STMTTRNRS><TRNUID>1
<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>USD
<BANKACCTFROM><BANKID>121000358<ACCTID>111222333<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20261101<DTEND>20261130
"""
FOOTER = """</BANKTRANLIST><LEDGERBAL><BALAMT>0<DTASOF>20261130</LEDGERBAL></STMTRS>
</STMTTRNRS></BANKMSGSRSV1></OFX>
"""


def transaction(fitid: str, day: int, amount: str, name: str, memo: str) -> str:
    return (
        f"<STMTTRN>\n<TRNTYPE>{'CREDIT' if not amount.startswith('-') else 'DEBIT'}\n"
        f"<DTPOSTED>202611{day:02d}120000\n<TRNAMT>{amount}\n<FITID>{fitid}\n"
        f"<NAME>{name}\n<MEMO>{memo}\n</STMTTRN>\n"
    )


async def books(store: SQLiteStore, n_invoices: int) -> tuple[Any, dict[str, Any], list]:
    ctx = await company(store, "Bench Bank Co", f"bank-{os.getpid()}@bench.example")
    account = await create(ctx, ACCOUNTS, {"name": "Checking", "number": "111222333"})
    conn = await create(
        ctx, CONNECTIONS, {"name": "Statements", "account_id": account["id"], "provider": "file"}
    )
    customers = [
        await create(ctx, CONTACTS, {"type": "customer", "name": f"Customer {i:03d}"})
        for i in range(200)
    ]
    invoices = []
    for i in range(n_invoices):
        body = {
            "type": "invoice",
            "contact_id": customers[i % 200]["id"],
            "issued_at": "2026-11-01",
            "due_at": "2026-11-30",
            "status": "sent",
            "lines": [{"name": "Service", "quantity": 1, "price": f"{100 + i * 1.37:.2f}"}],
        }
        invoices.append(await create(ctx, DOCUMENTS, body))
    categories = [
        await create(ctx, CATEGORIES, {"name": f"Expense {i}", "type": "expense"})
        for i in range(10)
    ]
    for i in range(50):
        rule = {
            "name": f"Merchant {i:02d}",
            "priority": i,
            "conditions": [{"field": "description", "operator": "contains", "value": f"M{i:02d}X"}],
            "direction": "out",
            "category_id": categories[i % 10]["id"],
        }
        await create(ctx, RULES, rule)
    return ctx, conn, invoices


def statement(invoices: list[dict[str, Any]], n_lines: int) -> str:
    rows = [
        transaction(
            f"P{i:06d}", 5 + i % 20, f"{inv['total']:.2f}", inv["contact_name"], inv["number"]
        )
        for i, inv in enumerate(invoices[:n_lines])
    ]
    for i in range(n_lines - len(rows)):
        merchant = i % 60
        amount = f"-{1 + (i * 7) % 400}.{i % 100:02d}"
        rows.append(
            transaction(f"C{i:06d}", 1 + i % 28, amount, f"SHOP M{merchant:02d}X", f"CARD {i}")
        )
    return HEADER + "".join(rows) + FOOTER


async def floor(store: SQLiteStore, ctx: Any, n: int) -> float:
    """The floor: writing n documents of a line's shape in one transaction, nothing else."""
    now = "2026-11-30T12:00:00.000Z"
    docs = [
        {
            "_id": f"{i:024x}",
            "company_id": ctx.company_id,
            "account_id": "f" * 24,
            "source_key": f"floor:{i}",
            "date": "2026-11-05",
            "amount": -1234,
            "description": f"SHOP M{i % 60:02d}X CARD {i}",
            "status": "new",
            "suggestions": [],
            "created_at": now,
        }
        for i in range(n)
    ]
    started = time.perf_counter()
    async with store.transaction():
        for start in range(0, n, 500):
            await store.insert_many("bench_floor", docs[start : start + 500])
    return time.perf_counter() - started


async def measure(n_lines: int, n_invoices: int, profile: bool = False) -> dict[str, Any]:
    path = Path(tempfile.mkdtemp(prefix="numbors-bench-")) / "banking.db"
    store = SQLiteStore(path)
    ctx, conn, invoices = await books(store, n_invoices)
    content = statement(invoices, n_lines)
    started = time.perf_counter()
    parsed = statements.parse_ofx(content, "USD")
    parse_s = time.perf_counter() - started

    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    started, cpu = time.perf_counter(), time.process_time()
    first = await sync.import_statement(ctx, conn["id"], "ofx", content)
    import_s, import_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    lines = await store.count("bank_feed_lines", ctx.scope())
    updated = await store.find("bank_feed_lines", ctx.scope(), sort=[("updated_at", -1)], limit=1)

    started = time.perf_counter()
    again = await sync.import_statement(ctx, conn["id"], "ofx", content)
    reimport_s = time.perf_counter() - started
    # the same lines in a file that differs (another download: its server time changed)
    other = content.replace("<DTSERVER>20261130", "<DTSERVER>20261201")
    started = time.perf_counter()
    lines_again = await sync.import_statement(ctx, conn["id"], "ofx", other)
    same_lines_s = time.perf_counter() - started
    after = await store.count("bank_feed_lines", ctx.scope())
    still = await store.find("bank_feed_lines", ctx.scope(), sort=[("updated_at", -1)], limit=1)
    floor_s = await floor(store, ctx, n_lines)
    await store.close()
    return {
        "lines": n_lines,
        "parsed": len(parsed),
        "invoices": n_invoices,
        "rules": 50,
        "import_s": round(import_s, 3),
        "parse_s": round(parse_s, 3),
        "import_cpu_s": round(import_cpu_s, 3),
        "import_target_s": IMPORT_TARGET_S,
        "floor_write_s": round(floor_s, 3),
        "import_over_floor": round(import_s / floor_s, 1),
        "added": first["added"],
        "suggested": first["suggested"],
        "categorised": first["categorised"],
        "new": first["new"],
        "reimport_s": round(reimport_s, 3),
        "reimport_target_s": REIMPORT_TARGET_S,
        "reimport_same_file": again["same_file"],
        "reimport_added": again["added"],
        "reimport_skipped": again["skipped"],
        "same_lines_other_file_s": round(same_lines_s, 3),
        "same_lines_other_file_added": lines_again["added"],
        "same_lines_other_file_skipped": lines_again["skipped"],
        "lines_after_reimport": after,
        "reimport_wrote_nothing": after == lines
        and still[0]["updated_at"] == updated[0]["updated_at"],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "note": "one process on a 2-core machine shared with ~9 engineers' test runs: the "
        "figures are slower than on an idle machine by the load average shown",
        "pass": import_s <= IMPORT_TARGET_S and reimport_s <= REIMPORT_TARGET_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=2_000)
    parser.add_argument("--profile", action="store_true", help="print where the import goes")
    args = parser.parse_args()
    git = git_state()
    result = asyncio.run(measure(args.lines, args.invoices, args.profile))
    for key, value in result.items():
        print(f"{key:>24}: {value}")
    write_results(RESULTS, result, git)


if __name__ == "__main__":
    main()
