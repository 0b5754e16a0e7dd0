"""Statement imports and feed syncs through the job, run by a real worker on the suite's
Valkey: each line once, whatever is imported again, retried or run at the same time."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI

from domain.bankfeeds import providers, sync
from domain.bankfeeds.providers import MutationDuringPagination, Page, RateLimited
from domain.context import Ctx
from tests.accounting import books as bk
from tests.bankfeeds.support import CONNECTIONS, FEEDS, connect, feed, fixture, upload
from tests.bankfeeds.support import sync as synced
from tests.helpers import Account, data, expect_error
from tests.jobs.support import ctx_of

pytestmark = pytest.mark.usefixtures("worker")


async def test_an_ofx_statement_imports_once_and_a_re_import_writes_nothing(books: Account) -> None:
    conn = await connect(books, account={"number": "111222333"})
    job = await upload(books, conn["id"], fixture("checking.ofx"))
    assert job["result"]["added"] == 5 and job["result"]["skipped"] == 0, job["result"]
    lines = await feed(books)
    assert [(x["date"], x["amount"]) for x in lines] == [
        ("2026-11-03", 1200.0),
        ("2026-11-05", -45.9),
        ("2026-11-06", -120.0),
        ("2026-11-10", -92.4),
        ("2026-11-30", 3.15),
    ]
    hotel = lines[3]
    assert (hotel["original_amount"], hotel["original_currency"]) == (-84.0, "EUR")
    assert {x["status"] for x in lines} == {"new"} and {x["source"] for x in lines} == {"file"}
    before = {x["id"]: x["updated_at"] for x in lines}

    again = await upload(books, conn["id"], fixture("checking.ofx"))
    assert (again["result"]["added"], again["result"]["skipped"]) == (0, 5)
    assert again["result"]["same_file"] is True  # known by its digest: not even read
    download = fixture("checking.ofx").replace("<DTSERVER>20261130", "<DTSERVER>20261201")
    lines_again = await upload(books, conn["id"], download)
    assert lines_again["result"]["same_file"] is False
    assert (lines_again["result"]["added"], lines_again["result"]["skipped"]) == (0, 5)
    after = await feed(books)
    assert {x["id"]: x["updated_at"] for x in after} == before


async def test_a_fitid_reused_by_two_accounts_is_two_lines(books: Account) -> None:
    checking = await connect(books, account={"number": "111222333"})
    savings = await connect(books, account={"number": "444555666"})
    await upload(books, checking["id"], fixture("checking.ofx"))
    await upload(books, savings["id"], fixture("savings.ofx"))
    shared = [x for x in await feed(books) if x["description"] == "INTEREST"]
    assert sorted((x["account_id"], x["amount"]) for x in shared) == sorted(
        [(checking["account_id"], 3.15), (savings["account_id"], 12.4)]
    )
    # a second connection of the same account sees the same FITIDs: nothing new
    other = await connect(books, account_id=checking["account_id"])
    job = await upload(books, other["id"], fixture("checking.ofx"))
    assert (job["result"]["added"], job["result"]["skipped"]) == (0, 5)


async def test_a_statement_of_another_currency_or_account_fails_the_job(books: Account) -> None:
    await bk.currency(books, "EUR", 1.1)
    conn = await connect(books, account={"currency": "EUR"})
    body = {"connection_id": conn["id"], "format": "ofx", "content": fixture("checking.ofx")}
    job = data(await books.post(f"{FEEDS}/import", json=body))["job"]
    assert job["status"] == "failed" and "USD" in job["error"]["message"], job
    assert await feed(books) == []


async def test_camt_pending_then_booked_is_one_line_and_positional_refs_do_not_collide(
    books: Account,
) -> None:
    await bk.currency(books, "EUR", 1.1)
    conn = await connect(books, account={"currency": "EUR"})
    first = await upload(books, conn["id"], fixture("camt053-day1.xml"), "camt053")
    assert first["result"]["added"] == 2
    pending = next(x for x in await feed(books) if x["pending"])
    assert (pending["amount"], pending["original_amount"]) == (-230.5, -199.0)
    expect_error(
        await books.post(f"{FEEDS}/{pending['id']}/categorise", json={}), 409, "line_pending"
    )

    second = await upload(books, conn["id"], fixture("camt053-day2.xml"), "camt053")
    assert (second["result"]["added"], second["result"]["replaced"]) == (1, 1), second["result"]
    lines = await feed(books)
    assert len(lines) == 3
    posted = next(x for x in lines if x["id"] == pending["id"])
    assert (posted["pending"], posted["amount"], posted["date"]) == (False, -231.1, "2026-11-17")
    # both days' NtryRef 1 are there: the statement and date qualify the reference
    assert sorted(x["amount"] for x in lines) == [-231.1, -19.99, 1500.0]
    for name in ("camt053-day1.xml", "camt053-day2.xml"):
        again = await upload(books, conn["id"], fixture(name), "camt053")
        assert again["result"]["added"] == again["result"]["replaced"] == 0, again["result"]
    assert len(await feed(books)) == 3


CSV = (
    "Date;Text;Out;In\n20.11.2026;Coffee;4,50;\n20.11.2026;Coffee;4,50;\n21.11.2026;Refund;;12,00\n"
)
MAPPING = {
    "date": "Date",
    "date_format": "%d.%m.%Y",
    "description": "Text",
    "debit": "Out",
    "credit": "In",
    "delimiter": ";",
    "decimal": ",",
}


async def test_a_csv_keeps_identical_purchases_and_imports_once(books: Account) -> None:
    conn = await connect(books, csv_mapping=MAPPING)
    await upload(books, conn["id"], CSV, "csv")
    await upload(books, conn["id"], CSV, "csv")
    assert [x["amount"] for x in await feed(books)] == [-4.5, -4.5, 12.0]


async def test_bad_requests_are_refused_before_a_job(books: Account, mallory: Account) -> None:
    file = await connect(books)
    sandbox = await connect(books, "sandbox")
    url = f"{FEEDS}/import"
    expect_error(
        await books.post(url, json={"connection_id": file["id"], "format": "csv", "content": "x"}),
        400,
        "csv_mapping_missing",
    )
    body = {"connection_id": sandbox["id"], "format": "ofx", "content": "x"}
    expect_error(await books.post(url, json=body), 409, "not_a_file_connection")
    expect_error(
        await books.post(f"{FEEDS}/sync", json={"connection_id": file["id"]}), 409, "not_a_feed"
    )
    theirs = await connect(mallory, "sandbox")
    expect_error(
        await books.post(f"{FEEDS}/sync", json={"connection_id": theirs["id"]}),
        400,
        "invalid_reference",
    )
    bad = {"connection_id": file["id"], "format": "pdf", "content": "x"}
    expect_error(await books.post(url, json=bad), 400, "validation_error")
    disabled = data(await books.put(f"{CONNECTIONS}/{sandbox['id']}", json={"enabled": False}))
    assert disabled["enabled"] is False
    expect_error(
        await books.post(f"{FEEDS}/sync", json={"connection_id": sandbox["id"]}),
        400,
        "invalid_reference",
    )


async def test_a_sandbox_sync_pages_posts_its_pending_line_and_never_doubles(
    books: Account,
) -> None:
    options = {"seed": "pages", "batch": 7, "page_size": 3, "start": "2026-11-01"}
    conn = await connect(books, "sandbox", sandbox=options)
    assert conn["notice"] == providers.SANDBOX_NOTICE
    first = (await synced(books, conn["id"]))["result"]
    assert (first["pages"], first["added"], first["notice"]) == (3, 7, providers.SANDBOX_NOTICE)
    lines = await feed(books, sort="created_at")
    assert [x["pending"] for x in lines] == [False] * 6 + [True]
    pending = lines[-1]

    second = (await synced(books, conn["id"]))["result"]
    assert (second["added"], second["replaced"], second["removed"]) == (7, 1, 0), second
    lines = await feed(books)
    assert len(lines) == 14
    assert next(x for x in lines if x["id"] == pending["id"])["pending"] is False
    assert sum(x["pending"] for x in lines) == 1


async def test_two_syncs_at_once_import_each_line_once(app: FastAPI, books: Account) -> None:
    conn = await connect(books, "sandbox", sandbox={"seed": "race", "batch": 40, "page_size": 7})
    ctx = ctx_of(app, books)
    results = await asyncio.gather(*(sync.sync(ctx, conn["id"]) for _ in range(3)))
    lines = await feed(books)
    assert sum(r["added"] for r in results) == len(lines)
    keys = [x["id"] for x in lines]
    assert len(keys) == len(set(keys))
    # each sync moved the feed on from the cursor the one before stored: 3 batches, each
    # pending line posted once
    assert len(lines) == 3 * 40 and sum(x["pending"] for x in lines) == 1
    assert sorted(r["restarts"] for r in results)[0] == 0


async def test_concurrent_jobs_of_one_statement_import_it_once(books: Account) -> None:
    conn = await connect(books, account={"number": "111222333"})
    body = {"connection_id": conn["id"], "format": "ofx", "content": fixture("checking.ofx")}
    answers = await asyncio.gather(*(books.post(f"{FEEDS}/import", json=body) for _ in range(4)))
    results = [data(a)["job"]["result"] for a in answers]
    assert sorted(r["added"] for r in results) == [0, 0, 0, 5]
    assert len(await feed(books)) == 5


class Flaky:
    """The sandbox, but the source changes once while page 2 is read."""

    name = "sandbox"
    notice = None

    def __init__(self) -> None:
        self.inner = providers.Sandbox()
        self.calls = 0

    async def sync(self, connection: dict, cursor: str | None) -> Page:
        self.calls += 1
        if self.calls == 2:
            raise MutationDuringPagination()
        return await self.inner.sync(connection, cursor)


async def test_a_source_that_changes_while_paged_restarts_the_loop(
    app: FastAPI, books: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = await connect(books, "sandbox", sandbox={"seed": "mut", "batch": 6, "page_size": 2})
    monkeypatch.setitem(providers.PROVIDERS, "sandbox", Flaky())
    result = await sync.sync(ctx_of(app, books), conn["id"])
    assert (result["restarts"], result["pages"], result["added"]) == (1, 3, 6)
    assert len(await feed(books)) == 6


async def test_a_rate_limit_reschedules_the_job(app: FastAPI, books: Account) -> None:
    conn = await connect(books, "sandbox", sandbox={"seed": "gc", "batch": 2, "daily_limit": 2})
    ctx = ctx_of(app, books)
    await sync.sync(ctx, conn["id"])
    await sync.sync(ctx, conn["id"])
    with pytest.raises(RateLimited) as refused:
        await sync.sync(ctx, conn["id"])
    assert 0 < refused.value.retry_after <= 86400
    job = data(
        await books.post(
            f"{FEEDS}/sync", json={"connection_id": conn["id"]}, params={"wait": "false"}
        ),
        202,
    )["job"]
    found = await _eventually_requeued(books, job["id"])
    assert found["status"] == "queued" and found["error"]["type"] == "TransientError", found
    assert len(await feed(books)) == 4
    data(await books.post(f"/api/jobs/{job['id']}/cancel"))


async def _eventually_requeued(books: Account, job_id: str) -> dict:
    for _ in range(200):
        job = data(await books.get(f"/api/jobs/{job_id}"))
        if job["attempts"] >= 1 and job["status"] == "queued":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(job)


async def test_a_crash_mid_import_writes_nothing_and_the_retry_each_line_once(
    app: FastAPI, books: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = await connect(books, "sandbox", sandbox={"seed": "crash", "batch": 30, "page_size": 10})
    ctx: Ctx = ctx_of(app, books)
    real = sync.feed_lines.build
    made = 0

    def crashing(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal made
        made += 1
        if made == 20:
            raise RuntimeError("worker died")
        return real(*args, **kwargs)

    monkeypatch.setattr(sync.feed_lines, "build", crashing)
    with pytest.raises(RuntimeError):
        await sync.sync(ctx, conn["id"])
    assert await feed(books) == []
    stored = await ctx.store.find_one("bank_feed_connections", {"_id": conn["id"]})
    assert stored is not None and stored["cursor"] is None
    monkeypatch.setattr(sync.feed_lines, "build", real)
    result = await sync.sync(ctx, conn["id"])
    assert result["added"] == 30
    again = await sync.sync(ctx, conn["id"])
    assert again["added"] == 30 and again["replaced"] == 1
    assert len(await feed(books)) == 60


async def test_a_connection_syncs_at_its_own_path(books: Account, mallory: Account) -> None:
    conn = await connect(books, "sandbox", sandbox={"seed": "path", "batch": 3})
    job = data(await books.post(f"{CONNECTIONS}/{conn['id']}/sync"))["job"]
    assert job["status"] == "succeeded" and job["result"]["added"] == 3, job
    expect_error(await books.post(f"{CONNECTIONS}/not-an-id/sync"), 400, "invalid_id")
    theirs = await connect(mallory, "sandbox")
    expect_error(await books.post(f"{CONNECTIONS}/{theirs['id']}/sync"), 404, "not_found")
    file = await connect(books)
    expect_error(await books.post(f"{CONNECTIONS}/{file['id']}/sync"), 409, "not_a_feed")
    viewer = await books.client.post("/api/banking/feeds/connections/x/sync")
    assert viewer.status_code == 401
