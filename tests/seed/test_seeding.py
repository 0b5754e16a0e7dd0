"""Applying a seed profile and recommending one, as a worker runs them (in this process, on
the suite's store and Valkey): the books balance and every document agrees with its
payments; applying again adds nothing; a retried job resumes after its last finished seeder
with nothing made twice; the recommendation is deterministic, explained and checked.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest
from arq import Retry
from fastapi import FastAPI

from conductors import seed as conductor
from domain import jobs
from domain.context import Ctx
from domain.jobkit import TransientError
from domain.seed import profiles, recommend
from domain.seed.operations import APPLY, RECOMMEND
from settings import Settings
from tests.helpers import Account, data, expect_error
from tests.seed.support import company, events_of, new_job, offline, run, services_of, trial_balance

Doc = dict[str, Any]
AS_OF = "2026-11-30"
CONSULTING = {"profile": "consulting", "size": "small", "seed": 7, "as_of": AS_OF}


@pytest.fixture(scope="module")
def quiet(settings: Settings) -> Settings:
    return offline(settings)


async def apply(app: FastAPI, settings: Settings, account: Account, request: Doc) -> Doc:
    job = await new_job(app, account, APPLY, request)
    outcome, stored = await run(app, settings, job)
    assert outcome == "succeeded", stored
    return stored


async def counts(account: Account) -> dict[str, int]:
    out = {}
    for url, params in (
        ("/api/contacts", {}),
        ("/api/items", {}),
        ("/api/documents", {"type": "invoice"}),
        ("/api/documents", {"type": "bill"}),
        ("/api/transactions", {}),
        ("/api/estimates", {}),
        ("/api/credit-notes", {}),
        ("/api/projects", {}),
        ("/api/crm/deals", {}),
        ("/api/payroll/employees", {}),
    ):
        body = (await account.get(url, params={**params, "limit": 1})).json()
        out[f"{url}{params.get('type', '')}"] = body["meta"]["total"]
    return out


async def check_documents(app: FastAPI, account: Account) -> None:
    """Every seeded document's paid is the sum of its payments, and due what is left."""
    store = services_of(app).store
    docs = await store.find("documents", {"company_id": account.company_id})
    assert docs
    for doc in docs:
        if doc.get("pos_session_id"):
            # a POS session's invoice: settled (paid) by the session's close, not payments
            assert (doc["status"], doc["paid"], doc["due"]) == ("paid", doc["total"], 0)
            continue
        payments = await store.find(
            "transactions", {"company_id": account.company_id, "document_id": doc["_id"]}
        )
        assert doc["paid"] == sum(p["applied"] for p in payments), doc["number"]
        assert doc["due"] == doc["total"] - doc["paid"] - doc["credited"], doc["number"]


async def test_applying_a_profile_seeds_balanced_books_in_order(
    app: FastAPI, quiet: Settings, owner: Account
) -> None:
    co = await company(owner)
    stored = await apply(app, quiet, co, CONSULTING)
    summary = stored["result"]
    plan = summary["plan"]
    assert plan == [
        "accounts",
        "contacts",
        "crm",
        "payroll",
        "projects",
        "taxes",
        "items",
        "bills",
        "estimates",
        "invoices",
        "bank_feeds",
        "credit_notes",
    ]
    assert summary["trial_balance"]["balanced"] is True
    assert summary["created_total"] == summary["objects"] == sum(summary["created"].values())
    held = await counts(co)
    small = profiles.BY_KEY["consulting"].counts("small")
    assert held["/api/contacts"] == small["customers"] + small["suppliers"] + small["employees"]
    assert held["/api/items"] == small["items"]
    assert held["/api/documentsinvoice"] == small["invoices"]
    assert held["/api/documentsbill"] == small["bills"]
    assert held["/api/estimates"] == small["estimates"]
    assert held["/api/credit-notes"] == small["credit_notes"]
    assert held["/api/crm/deals"] == small["deals"]
    assert held["/api/payroll/employees"] == small["employees"]
    balance = await trial_balance(co)
    assert balance["balanced"] is True and balance["total_debit"] == balance["total_credit"] > 0
    await check_documents(app, co)

    # Progress streamed per seeder, in the plan's order, then the result.
    events = await events_of(app, stored["_id"])
    seeded = [d["seeder"] for t, d in events if t == "seeded"]
    assert seeded == plan
    steps = [d["step"] for t, d in events if t == "progress" and "progress" in d]
    assert steps == [*plan, "verify"]
    assert events[-1][0] == "result"

    # The state says what was seeded and by which run.
    state = data(await co.get("/api/tai/seed/state"))
    assert state["seeded"] is True and state["objects"] == summary["objects"]
    assert state["seeds"] == [{"tag": "consulting:7", "objects": summary["objects"]}]
    assert state["last_run"]["job_id"] == stored["_id"]
    assert state["last_run"]["status"] == "succeeded"
    assert state["last_run"]["created"] == summary["created"]
    invoices = next(
        r for r in state["by_seeder"] if r["seeder"] == "invoices" and r["resource"] == "documents"
    )
    assert invoices["count"] == small["invoices"]

    # Applied again (a new job): nothing is added, the books are the same.
    again = (await apply(app, quiet, co, CONSULTING))["result"]
    assert again["created_total"] == 0 and again["objects"] == summary["objects"]
    assert await counts(co) == held
    assert await trial_balance(co) == balance


async def test_stock_and_helpdesk_are_seeded_through_their_areas(
    app: FastAPI, quiet: Settings, owner: Account
) -> None:
    co = await company(owner)
    wholesale = (await apply(app, quiet, co, {**CONSULTING, "profile": "wholesale"}))["result"]
    assert "inventory" in wholesale["plan"]
    small = profiles.BY_KEY["wholesale"].counts("small")
    adjustments = data(await co.get("/api/inventory/adjustments", params={"limit": 200}))
    assert len(adjustments) == small["stocked_items"]
    assert {a["status"] for a in adjustments} == {"completed"}
    warehouses = data(await co.get("/api/inventory/warehouses", params={"search": "DEMO"}))
    assert len(warehouses) == 1
    saas = (await apply(app, quiet, co, {**CONSULTING, "profile": "saas"}))["result"]
    assert "helpdesk" in saas["plan"]
    small = profiles.BY_KEY["saas"].counts("small")
    tickets = (await co.get("/api/helpdesk/tickets", params={"limit": 1})).json()["meta"]
    assert tickets["total"] == small["tickets"]
    articles = (await co.get("/api/helpdesk/articles", params={"limit": 1})).json()["meta"]
    assert articles["total"] == small["articles"]
    assert (await trial_balance(co))["balanced"] is True
    await check_documents(app, co)


async def test_pos_sessions_and_bank_feed_lines_are_seeded_through_their_areas(
    app: FastAPI, quiet: Settings, owner: Account
) -> None:
    from domain.bugfix import invariants

    co = await company(owner)
    retail = {**CONSULTING, "profile": "retail"}
    first = (await apply(app, quiet, co, retail))["result"]
    assert first["plan"][-1] == "pos"
    small = profiles.BY_KEY["retail"].counts("small")
    sessions = data(await co.get("/api/pos/sessions", params={"limit": 200}))
    assert len(sessions) == small["pos_sessions"]
    assert {(s["status"], s["difference"]) for s in sessions} == {("closed", 0)}
    assert all(s["entry_id"] for s in sessions)
    orders = (await co.get("/api/pos/orders", params={"limit": 1})).json()["meta"]["total"]
    assert orders == small["pos_sessions"] * small["pos_orders"]
    balances = data(await co.get("/api/pos/loyalty", params={"limit": 200}))
    assert balances and all(b["points"] > 0 for b in balances)
    held = await counts(co)
    balance = await trial_balance(co)
    again = (await apply(app, quiet, co, retail))["result"]
    assert again["created_total"] == 0
    assert (await co.get("/api/pos/orders", params={"limit": 1})).json()["meta"]["total"] == orders
    assert await counts(co) == held and await trial_balance(co) == balance

    consulting = (await apply(app, quiet, co, CONSULTING))["result"]
    assert "bank_feeds" in consulting["plan"]
    consulting_small = profiles.BY_KEY["consulting"].counts("small")
    lines = data(await co.get("/api/banking/feeds", params={"limit": 200}))
    matched = [x for x in lines if x["status"] == "suggested"]
    spend = [x for x in lines if x["amount"] < 0]
    assert len(spend) == consulting_small["feed_spend"]
    assert matched and len(matched) == len(lines) - len(spend)
    assert all(x["suggestions"][0]["number"] in x["description"] for x in matched)
    supplies = [x for x in spend if x["description"].startswith("Office supplies")]
    assert supplies and all(x["status"] == "categorised" for x in supplies)
    assert all(x["categorisation"]["tax_id"] for x in supplies)
    await apply(app, quiet, co, CONSULTING)
    assert len(data(await co.get("/api/banking/feeds", params={"limit": 200}))) == len(lines)
    assert (await trial_balance(co))["balanced"] is True
    await check_documents(app, co)
    ctx = Ctx(services_of(app).store, co.user_id, co.company_id, "owner")
    for domain in ("pos", "payroll", "invoicing", "inventory"):
        assert all(v == [] for v in (await invariants.check(ctx, domain)).values()), domain


async def test_the_same_seed_gives_the_same_books(
    app: FastAPI, quiet: Settings, owner: Account
) -> None:
    first, second = await company(owner), await company(owner)
    request = {**CONSULTING, "seed": 3}
    await apply(app, quiet, first, request)
    await apply(app, quiet, second, request)

    async def shape(account: Account) -> list[tuple[Any, ...]]:
        docs = data(await account.get("/api/documents", params={"limit": 200, "sort": "number"}))
        return [(d["type"], d["number"], d["issued_at"], d["total"], d["paid"]) for d in docs]

    assert await shape(first) == await shape(second)
    assert (await trial_balance(first))["total_debit"] == (await trial_balance(second))[
        "total_debit"
    ]


async def test_a_retried_job_resumes_after_its_last_finished_seeder(
    app: FastAPI, quiet: Settings, owner: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    co = await company(owner)
    failures = {"left": 1}
    real = next(s for s in conductor.SEEDERS if s.name == "invoices")

    async def flaky(seeding: Any) -> int:
        """Makes half the invoices, then loses its worker's connection once."""
        if failures["left"]:
            failures["left"] -= 1
            seeding.counts = {**seeding.counts, "invoices": seeding.counts["invoices"] // 2}
            await real.run(seeding)
            raise TransientError("the store went away")
        return await real.run(seeding)

    seeders = tuple(replace(s, run=flaky) if s is real else s for s in conductor.SEEDERS)
    monkeypatch.setattr(conductor, "SEEDERS", seeders)
    job = await new_job(app, co, APPLY, CONSULTING)
    with pytest.raises(Retry):
        await run(app, quiet, job)
    outcome, stored = await run(app, quiet, job)
    assert outcome == "succeeded", stored
    assert stored["attempts"] == 2

    events = await events_of(app, job["_id"])
    steps = [d["step"] for t, d in events if t == "progress" and "progress" in d]
    plan = stored["result"]["plan"]
    before = plan[: plan.index("invoices")]
    assert all(steps.count(name) == 1 for name in before)  # finished seeders never re-ran
    assert steps.count("invoices") == 2
    assert {"step": "resumed", "at": "invoices"} in [d for t, d in events if t == "progress"]

    # Nothing doubled: the same books as one clean run.
    small = profiles.BY_KEY["consulting"].counts("small")
    assert (await counts(co))["/api/documentsinvoice"] == small["invoices"]
    assert (await trial_balance(co))["balanced"] is True
    await check_documents(app, co)


async def test_a_cancelled_seed_stops_within_a_second_and_leaves_whole_objects(
    app: FastAPI, quiet: Settings, owner: Account
) -> None:
    co = await company(owner)
    job = await new_job(app, co, APPLY, {**CONSULTING, "size": "medium"})
    task = asyncio.create_task(run(app, quiet, job))
    deadline = time.monotonic() + 60
    while not any(t == "seeded" for t, _ in await events_of(app, job["_id"])):
        assert time.monotonic() < deadline and not task.done()
        await asyncio.sleep(0.01)
    store = services_of(app).store
    await jobs.request_cancel(Ctx(store, co.user_id, co.company_id, "owner"), job["_id"])
    started = time.monotonic()
    task.cancel()  # what the queue's abort does to the worker's task
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1.0
    stored = await store.find_one("jobs", {"_id": job["_id"]})
    assert stored["status"] == "cancelled" and stored.get("result") is None
    assert (await events_of(app, job["_id"]))[-1][0] == "cancelled"
    state = data(await co.get("/api/tai/seed/state"))
    assert state["last_run"]["status"] == "interrupted"
    # What was made is whole: every object with its key, the books balanced.
    assert state["objects"] == await store.count("tai_seed_keys", {"company_id": co.company_id})
    assert (await trial_balance(co))["balanced"] is True
    await check_documents_if_any(app, co)


async def check_documents_if_any(app: FastAPI, account: Account) -> None:
    if await services_of(app).store.count("documents", {"company_id": account.company_id}):
        await check_documents(app, account)


async def test_apply_checks_its_request(owner: Account) -> None:
    co = await company(owner)
    url = "/api/tai/seed/apply"
    expect_error(await co.post(url, json={"profile": "bakery"}), 400, "invalid_reference")
    unknown = await co.post(url, json={"profile": "0" * 24})
    assert expect_error(unknown, 400, "invalid_reference")["details"][0]["field"] == "profile"
    expect_error(
        await co.post(url, json={"profile": "retail", "size": "huge"}), 400, "validation_error"
    )
    expect_error(
        await co.post(url, json={"profile": "retail", "seed": -1}), 400, "validation_error"
    )
    # Accepted: without a worker in this test it is still queued when the answer comes.
    queued = await co.post(url, params={"wait": "false"}, json={"profile": "retail"})
    assert queued.status_code == 202, queued.text


# --- profiles -----------------------------------------------------------------------------


async def test_profiles_are_listed_and_read_by_id(
    owner: Account, client: httpx.AsyncClient
) -> None:
    response = await owner.get("/api/tai/seed/profiles")
    listed = data(response)
    assert [p["key"] for p in listed] == ["consulting", "retail", "wholesale", "saas"]
    assert response.json()["meta"] == {"total": 4, "page": 1, "limit": 25}
    retail = next(p for p in listed if p["key"] == "retail")
    assert retail["sizes"]["medium"]["invoices"] == 5000
    assert retail["sizes"]["medium"]["items"] == 300
    assert data(await owner.get(f"/api/tai/seed/profile/{retail['id']}")) == retail
    expect_error(await owner.get("/api/tai/seed/profile/nope"), 400, "invalid_id")
    expect_error(await owner.get(f"/api/tai/seed/profile/{'0' * 24}"), 404, "not_found")
    assert (await client.get("/api/tai/seed/profiles")).status_code == 401
    page = await owner.get("/api/tai/seed/profiles", params={"limit": 1, "page": 2})
    assert [p["key"] for p in data(page)] == ["retail"]


async def test_profiles_need_the_tai_module(owner: Account) -> None:
    co = await company(owner)
    data(await co.patch("/api/modules/licenses", json={"disable": ["tai"]}))
    for url in ("/api/tai/seed/profiles", f"/api/tai/seed/profile/{profiles.PROFILES[0].id}"):
        expect_error(await co.get(url), 403, "module_disabled")


# --- recommend ----------------------------------------------------------------------------

EMPTY = {
    "modules": [
        "banking",
        "crm",
        "helpdesk",
        "invoicing",
        "inventory",
        "orders",
        "payroll",
        "pos",
        "projects",
    ],
    "counts": dict.fromkeys(recommend.AREAS, 0),
    "seeded_tags": [],
}


def test_the_scores_are_computed_and_explained() -> None:
    ranked = recommend.rank(EMPTY, "We are a small design agency billing hourly projects")
    scores = {r["profile"]: (r["score"], r["points"]) for r in ranked["ranking"]}
    assert scores == {
        "consulting": (80, {"modules": 50, "description": 30, "books": 0}),
        "retail": (50, {"modules": 50, "description": 0, "books": 0}),
        "wholesale": (50, {"modules": 50, "description": 0, "books": 0}),
        "saas": (50, {"modules": 50, "description": 0, "books": 0}),
    }
    assert [r["profile"] for r in ranked["ranking"]] == [
        "consulting",
        "retail",
        "wholesale",
        "saas",
    ]
    assert ranked["recommended"] == {
        "profile_id": profiles.BY_KEY["consulting"].id,
        "profile": "consulting",
        "name": "Consulting firm",
        "size": "medium",
    }
    best = ranked["ranking"][0]
    assert best["reasons"][0] == (
        "5 of its 5 modules are enabled (invoicing, projects, payroll, crm, banking): 50 points"
    )
    assert best["reasons"][1] == "the description names agency, project, hourly: 30 points"


def test_the_books_and_the_licence_move_the_ranking() -> None:
    used = {
        "modules": ["invoicing", "crm"],
        "counts": {**EMPTY["counts"], "bills": 40, "suppliers": 6, "invoices": 3},
        "seeded_tags": ["wholesale:1"],
    }
    ranked = recommend.rank(used, None)
    assert [(r["profile"], r["score"]) for r in ranked["ranking"]] == [
        ("wholesale", 40),  # 2 of 5 modules (20), bills and suppliers in use (20)
        ("retail", 27),  # 1 of 3 modules (17), invoices in use (10)
        ("consulting", 20),  # a tie with saas: the profile listed first
        ("saas", 20),
    ]
    assert ranked["recommended"]["size"] == "small"
    assert ranked["size_reason"].startswith("the books already hold 49 objects")
    assert ranked["seeded_before"] == ["wholesale:1"]
    assert recommend.rank(used, None) == ranked  # deterministic


async def test_a_recommendation_runs_as_a_job_and_is_grounded(
    app: FastAPI, quiet: Settings, owner: Account
) -> None:
    co = await company(owner)
    request = {"description": "A software start-up selling subscriptions"}
    job = await new_job(app, co, RECOMMEND, request)
    outcome, stored = await run(app, quiet, job)
    assert outcome == "succeeded", stored
    result = stored["result"]
    assert result["recommended"]["profile"] == "saas"
    assert result["recommended"]["size"] == "medium"
    assert result["offline"] is True and result["provider"] == "offline"
    assert "offline" in result["notice"].lower()
    assert result["validation"] == {"status": "passed", "issues": []}
    top = result["ranking"][0]
    assert f"score of {top['score']} (out of 100)" in result["explanation"]
    tokens = "".join(d["text"] for t, d in await events_of(app, job["_id"]) if t == "token")
    assert tokens.strip() == result["explanation"]
    steps = [
        d["step"]
        for t, d in await events_of(app, job["_id"])
        if t == "progress" and "progress" in d
    ]
    assert steps == ["gather", "score", "explain", "validate", "persist"]
    # Run again by a retry: the same record, stored once.
    assert (await run(app, quiet, job))[0] == "already final"
    store = services_of(app).store
    assert await store.count(recommend.RECOMMENDATIONS, {"_id": job["_id"]}) == 1
    state = data(await co.get("/api/tai/seed/state"))
    assert state["runs"][0]["kind"] == "recommend" and state["runs"][0]["profile"] == "saas"
    assert state["seeded"] is False


async def test_recommend_checks_its_request(owner: Account) -> None:
    co = await company(owner)
    url = "/api/tai/seed/recommend"
    expect_error(await co.post(url, json={"size": "small"}), 400, "validation_error")
    expect_error(await co.post(url, json={"description": "x" * 5001}), 400, "validation_error")
    queued = await co.post(url, params={"wait": "false"}, json={})
    assert queued.status_code == 202, queued.text
