"""Document numbers: never shared, never skipped, under concurrency on one loop and across
processes; the prefix and next number are configurable, forward only."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

import domain.contacts
from domain.companies import create_company
from domain.context import Ctx
from domain.resources import create_document
from memory.ids import new_id
from memory.sqlite import SQLiteStore
from tests.helpers import Account, data, expect_error, register

ROOT = Path(__file__).resolve().parents[2]
PER_WORKER = 50


def invoice_body(contact_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "invoice",
        "contact_id": contact_id,
        "issued_at": "2025-02-01",
        "due_at": "2025-02-28",
        "lines": [{"name": "Consulting", "quantity": 1, "price": 100}],
        **extra,
    }


async def fresh_company(client: httpx.AsyncClient) -> tuple[Account, str]:
    account = await register(client, name="Numbering", company_name="Numbering Co")
    contact = data(await account.post("/api/contacts", json={"name": "Acme"}), 201)
    return account, contact["id"]


async def test_concurrent_creations_get_consecutive_numbers(client: httpx.AsyncClient) -> None:
    account, contact_id = await fresh_company(client)
    bodies = [invoice_body(contact_id, status="sent" if i % 3 else "draft") for i in range(40)]
    responses = await asyncio.gather(*(account.post("/api/documents", json=b) for b in bodies))
    numbers = [data(r, 201)["number"] for r in responses]
    assert sorted(numbers) == [f"INV-{i:05d}" for i in range(1, 41)]
    listed = data(await account.get("/api/documents", params={"limit": 200, "sort": "number"}))
    assert [d["number"] for d in listed] == sorted(numbers)
    # the journal's own counter was contended too: one entry per sent invoice, no gaps
    journal = data(await account.get("/api/accounting/journal", params={"limit": 200}))
    sent = sum(1 for b in bodies if b["status"] == "sent")
    assert sorted(e["number"] for e in journal) == [f"JE-{i:06d}" for i in range(1, sent + 1)]


async def test_a_bill_series_is_separate_from_the_invoice_series(
    client: httpx.AsyncClient,
) -> None:
    account, contact_id = await fresh_company(client)
    supplier = data(
        await account.post("/api/contacts", json={"name": "Supplier", "type": "supplier"}), 201
    )
    bills = await asyncio.gather(
        *(
            account.post("/api/documents", json=invoice_body(supplier["id"], type="bill"))
            for _ in range(5)
        )
    )
    assert sorted(data(r, 201)["number"] for r in bills) == [f"BILL-{i:05d}" for i in range(1, 6)]
    invoice = data(await account.post("/api/documents", json=invoice_body(contact_id)), 201)
    assert invoice["number"] == "INV-00001"


def start_worker(db: Path, company_id: str, user_id: str, contact_id: str) -> subprocess.Popen[str]:
    args = [str(db), company_id, user_id, contact_id, str(PER_WORKER)]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.domain.numbering_worker", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_two_processes_share_one_series_without_gaps(tmp_path: Path) -> None:
    db = tmp_path / "numbering.db"
    store = SQLiteStore(db)
    try:
        user_id = new_id()
        company = await create_company(store, user_id, "Two Processes Ltd")
        ctx = Ctx(store=store, user_id=user_id, company_id=company["_id"], role="owner")
        contact = await create_document(
            ctx, domain.contacts.CONTACTS, {"name": "Acme", "type": "customer"}
        )
        procs = [start_worker(db, company["_id"], user_id, contact["id"]) for _ in range(2)]
        try:
            for proc in procs:
                assert proc.stdout is not None
                ready = proc.stdout.readline()
                if ready != "ready\n":
                    proc.kill()
                    raise AssertionError(f"worker did not start: {ready!r}\n{proc.communicate()}")
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            outputs = [proc.communicate(timeout=120) for proc in procs]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        got: list[list[str]] = []
        for proc, (stdout, stderr) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, stderr
            got.append(json.loads(stdout)["numbers"])
        for numbers in got:
            assert len(numbers) == PER_WORKER
            assert numbers == sorted(numbers), "a worker's own numbers only go up"
        everything = sorted(got[0] + got[1])
        assert everything == [f"INV-{i:05d}" for i in range(1, 2 * PER_WORKER + 1)]
        # what is stored agrees, and the journal's counter was shared just as well
        stored = await store.find("documents", ctx.scope(), sort=[("number", 1)])
        assert [d["number"] for d in stored] == everything
        entries = await store.find("journal_entries", ctx.scope(), sort=[("number", 1)])
        sent = sum(1 for d in stored if d["status"] == "sent")
        assert sent == PER_WORKER
        assert [e["number"] for e in entries] == [f"JE-{i:06d}" for i in range(1, sent + 1)]
        posted = {e["source"]["id"] for e in entries}
        assert posted == {d["_id"] for d in stored if d["status"] == "sent"}
    finally:
        await store.close()


async def test_prefix_and_next_number(client: httpx.AsyncClient) -> None:
    account, contact_id = await fresh_company(client)
    first = data(await account.post("/api/documents", json=invoice_body(contact_id)), 201)
    assert first["number"] == "INV-00001"

    configured = data(
        await account.put(
            "/api/documents/numbering/invoice", json={"prefix": "F-", "next_number": 1000}
        )
    )
    assert configured == {"type": "invoice", "prefix": "F-", "next_number": 1000}
    created = [
        data(await account.post("/api/documents", json=invoice_body(contact_id)), 201)["number"]
        for _ in range(2)
    ]
    assert created == ["F-01000", "F-01001"]

    # never back, nor onto a number already used
    for taken in (1, 999, 1000, 1001):
        response = await account.put(
            "/api/documents/numbering/invoice", json={"next_number": taken}
        )
        error = expect_error(response, 409, "number_used")
        assert "1001" in error["message"]
    # a refused change changes nothing, the prefix included
    rejected = await account.put(
        "/api/documents/numbering/invoice", json={"prefix": "X-", "next_number": 5}
    )
    expect_error(rejected, 409, "number_used")
    after = data(await account.post("/api/documents", json=invoice_body(contact_id)), 201)
    assert after["number"] == "F-01002"

    # the prefix alone keeps the series; a jump of one past the last is allowed
    assert data(
        await account.put("/api/documents/numbering/invoice", json={"prefix": "INV/2025/"})
    ) == {"type": "invoice", "prefix": "INV/2025/", "next_number": 1003}
    assert (
        data(await account.put("/api/documents/numbering/invoice", json={"next_number": 1003}))[
            "next_number"
        ]
        == 1003
    )
    latest = data(await account.post("/api/documents", json=invoice_body(contact_id)), 201)
    assert latest["number"] == "INV/2025/01003"

    # other series are untouched
    bill = data(
        await account.put("/api/documents/numbering/bill", json={}),
    )
    assert bill == {"type": "bill", "prefix": "BILL-", "next_number": 1}


async def test_next_number_on_a_fresh_series(client: httpx.AsyncClient) -> None:
    account, contact_id = await fresh_company(client)
    assert (
        data(await account.put("/api/documents/numbering/invoice", json={"next_number": 1}))[
            "next_number"
        ]
        == 1
    )
    configured = data(
        await account.put("/api/documents/numbering/invoice", json={"next_number": 42})
    )
    assert configured["next_number"] == 42
    created = data(await account.post("/api/documents", json=invoice_body(contact_id)), 201)
    assert created["number"] == "INV-00042"


async def test_numbering_rejects_bad_input(client: httpx.AsyncClient) -> None:
    account, _ = await fresh_company(client)
    for body in ({"next_number": 0}, {"prefix": "bad prefix!"}, {"next_number": "x"}):
        response = await account.put("/api/documents/numbering/invoice", json=body)
        assert response.status_code == 400, response.text
    response = await account.put("/api/documents/numbering/receipt", json={"next_number": 5})
    assert response.status_code in (400, 404), response.text
