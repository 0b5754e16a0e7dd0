"""The report analysis end to end: the graph run by the job runtime on books made through the
API, with the offline provider and with the real `openai` client against the local fake
server; its checkpoints, its idempotency, its validation; and the AI Insights endpoints,
with a real worker in this process for the ones that wait for or stream a result.

The books (one fresh USD company):

    2024-12-01  bank opened with 5,000
    2024-12-05  INV 1,000 to Acme, due 2024-12-20 (sent)
    2024-12-10  expense 300 from the bank
    2025-01-05  INV 2,500 to Acme, due 2025-01-20 (sent); 1,000 of it paid 2025-01-15
    2025-01-08  INV 400 to Globex, due 2025-02-28 (sent)
    2025-01-12  BILL 800 from Parts Inc, due 2025-01-30 (sent)
    2025-01-25  expense 450 from the bank

So January 2025 against December 2024: income 2,900 against 1,000, expenses 1,250 against 300,
net profit 1,650 against 700.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agents import analysis
from agents import facts as F
from agents.models import model_client
from conductors import insights as conductor
from domain import insights, jobs
from domain.context import Ctx
from domain.insights import Reachability
from domain.jobkit import JobRun
from memory.events import replay
from memory.queue import WORKER_KEY
from memory.world import WorldMemory
from services import Services, world_memory
from settings import Settings
from tests.accounting import books as bk
from tests.ai.fake_llm import MODEL, FakeLLM
from tests.helpers import Account, data, expect_error, register
from tests.jobs.support import read_sse, run_worker, serve
from workers.runtime import SERVICES, NumborsWorker, run_job

Doc = dict[str, Any]
FAKE_WORKER = "tests-ai:in-process"
JANUARY = {
    "report": "profit_and_loss",
    "from": "2025-01-01",
    "to": "2025-01-31",
    "compare_from": "2024-12-01",
    "compare_to": "2024-12-31",
}
REQUESTS = {
    "profit_and_loss": JANUARY,
    "profit_and_loss_alone": {
        "report": "profit_and_loss",
        "from": "2025-01-01",
        "to": "2025-01-31",
    },
    "balance_sheet": {"report": "balance_sheet", "to": "2025-01-31", "compare_to": "2024-12-31"},
    "cash_flow": {**JANUARY, "report": "cash_flow"},
    "aged_receivables": {
        "report": "aged_receivables",
        "to": "2025-03-31",
        "compare_to": "2025-01-31",
    },
    "aged_payables": {"report": "aged_payables", "to": "2025-03-31"},
}


@pytest.fixture(scope="module")
async def owner(client: httpx.AsyncClient) -> Account:
    return await register(client, name="Ana Lyst", company_name="Analyst Holdings")


@pytest.fixture(scope="module")
async def books(owner: Account) -> Account:
    co = await bk.fresh_company(owner, "Insight Books")
    acme = await bk.contact(co, name="Acme")
    globex = await bk.contact(co, name="Globex")
    parts = await bk.contact(co, "supplier", name="Parts Inc")
    bank = await bk.bank(co, "Checking", opening_balance=5000, opened_at="2024-12-01")
    await bk.document(
        co, "invoice", acme["id"], [bk.line(1000)], "2024-12-05", "2024-12-20", status="sent"
    )
    await bk.transaction(co, "expense", bank["id"], 300, paid_at="2024-12-10")
    big = await bk.document(
        co, "invoice", acme["id"], [bk.line(2500)], "2025-01-05", "2025-01-20", status="sent"
    )
    await bk.pay(co, big["id"], bank["id"], 1000, paid_at="2025-01-15")
    await bk.document(
        co, "invoice", globex["id"], [bk.line(400)], "2025-01-08", "2025-02-28", status="sent"
    )
    await bk.document(
        co, "bill", parts["id"], [bk.line(800)], "2025-01-12", "2025-01-30", status="sent"
    )
    await bk.transaction(co, "expense", bank["id"], 450, paid_at="2025-01-25")
    return co


@pytest.fixture(scope="module")
def offline(settings: Settings) -> Settings:
    """The suite's settings with no model endpoint, whatever the environment says."""
    return settings.model_copy(update={"llm_base_url": None, "llm_api_key": None})


@pytest.fixture(scope="module")
async def worker(app: FastAPI, offline: Settings) -> AsyncIterator[NumborsWorker]:
    async with run_worker(offline) as running_worker:
        yield running_worker


# --- running the job in this process ---------------------------------------------------------


def services_of(app: FastAPI) -> Services:
    return app.state.services


async def new_job(app: FastAPI, account: Account, request: Doc) -> Doc:
    ctx = Ctx(services_of(app).store, account.user_id, account.company_id, "owner")
    return await jobs.create_job(ctx, insights.KIND, request)


@asynccontextmanager
async def worker_services(app: FastAPI, settings: Settings) -> AsyncIterator[Services]:
    """What a worker started on `settings` would run on, over the app's store and Redis."""
    base = services_of(app)
    model = model_client(settings)
    try:
        yield replace(
            base,
            settings=settings,
            hub=None,
            world=world_memory(settings, base.store, base.redis),
            model=model,
            reachability=Reachability(model),
            worker_id=FAKE_WORKER,
            owned=(),
        )
    finally:
        await model.close()


async def run(app: FastAPI, settings: Settings, job: Doc) -> tuple[str, Doc]:
    redis = services_of(app).redis
    assert redis is not None
    await redis.set(WORKER_KEY + FAKE_WORKER, b"1", ex=60)  # alive: no reconciler takes it
    async with worker_services(app, settings) as services:
        outcome = await run_job({SERVICES: services}, job["_id"])
    stored = await services_of(app).store.find_one("jobs", {"_id": job["_id"]})
    return outcome, stored


async def events_of(app: FastAPI, job_id: str) -> list[tuple[str, Any]]:
    redis = services_of(app).redis
    assert redis is not None
    return [(e.type, e.data) for e in await replay(redis, job_id, None)]


def with_llm(settings: Settings, fake: FakeLLM, **more: Any) -> Settings:
    """The fake endpoint, in prose (the parser's path) unless `ai_structured_output=True`."""
    update = {"llm_base_url": fake.base_url, "llm_model": MODEL, "llm_max_retries": 0}
    update["ai_structured_output"] = False
    return settings.model_copy(update={**update, **more})


def fact(insight: Doc, key: str) -> Doc:
    return next(f for f in insight["facts"] if f["key"] == key)


async def test_the_analysis_runs_end_to_end_offline(
    app: FastAPI, offline: Settings, books: Account
) -> None:
    job = await new_job(app, books, JANUARY)
    outcome, stored = await run(app, offline, job)
    assert outcome == "succeeded", stored
    insight = stored["result"]
    assert insight["id"] == job["_id"] and insight["job_id"] == job["_id"]
    assert insight["provider"] == "offline" and insight["offline"] is True
    assert "offline provider" in insight["notice"]
    assert insight["validation"] == {"status": "passed", "issues": []}
    assert fact(insight, "total_income")["value"] == 2900
    assert fact(insight, "total_expenses")["value"] == 1250
    assert fact(insight, "net_profit") | {"text": "1,650.00 USD"} == fact(insight, "net_profit")
    assert fact(insight, "previous_net_profit")["value"] == 700
    assert fact(insight, "net_profit_change_pct")["value"] == 135.7
    assert "1,650.00 USD" in insight["summary"]
    assert insight["facts_digest"] == F.digest(
        [{k: v for k, v in f.items() if k != "text"} for f in insight["facts"]]
    )
    for finding in insight["findings"]:
        assert finding["facts"] and all("value" in f and "text" in f for f in finding["facts"])
    assert insight["usage"]["completion_tokens"] > 0
    assert insight["memory"]["status"] == "recalled"

    events = await events_of(app, job["_id"])
    types = [t for t, _ in events]
    steps = [d["step"] for t, d in events if t == "progress"]
    assert [s for s in steps if s in insights.STEPS] == list(insights.STEPS)
    assert steps[0] == "started"
    assert sum(t == "fact" for t in types) == len(insight["facts"])
    tokens = "".join(d["text"] for t, d in events if t == "token")
    assert tokens.strip() == insight["summary"]
    assert types[-1] == "result"

    store = services_of(app).store
    assert await store.count("insights", {"_id": job["_id"]}) == 1
    [audit] = await store.find("insight_audit", {"job_id": job["_id"]})
    assert audit["status"] == "succeeded" and audit["validation"] == "passed"
    assert audit["user_id"] == books.user_id and audit["company_id"] == books.company_id
    assert audit["facts_digest"] == insight["facts_digest"]
    assert audit["provider"] == "offline" and audit["duration_ms"] >= 0

    # A retry finds the job final; a re-run of the handler stores nothing twice.
    assert (await run(app, offline, job))[0] == "already final"
    async with worker_services(app, offline) as services:
        assert services.events is not None
        run_ = JobRun(stored, store, services.events, services, offline.job_max_tries)
        again = await conductor.analyse(run_)
    assert again["id"] == insight["id"] and again["created_at"] == insight["created_at"]
    assert await store.count("insights", {"_id": job["_id"]}) == 1
    assert await store.count("insight_audit", {"job_id": job["_id"]}) == 1


@pytest.mark.parametrize("case", list(REQUESTS))
async def test_every_report_is_narrated_with_its_facts_only(
    app: FastAPI, offline: Settings, books: Account, case: str
) -> None:
    job = await new_job(app, books, REQUESTS[case])
    outcome, stored = await run(app, offline, job)
    assert outcome == "succeeded", stored
    insight = stored["result"]
    assert insight["report"] == REQUESTS[case]["report"]
    assert insight["facts"] and insight["findings"]
    assert insight["validation"]["status"] == "passed", insight["validation"]


async def test_overdue_concentration_is_computed(
    app: FastAPI, offline: Settings, books: Account
) -> None:
    job = await new_job(app, books, REQUESTS["aged_receivables"])
    insight = (await run(app, offline, job))[1]["result"]
    # At 2025-03-31 Acme owes 1,000 (due 2024-12-20) and 1,500 (due 2025-01-20); Globex 400.
    assert fact(insight, "total_open")["value"] == 2900
    assert fact(insight, "overdue_total")["value"] == 2900
    assert fact(insight, "bucket_90_plus")["value"] == 1000
    assert fact(insight, "top_overdue_contact")["label"] == "Acme overdue"
    assert fact(insight, "top_overdue_contact_share_pct")["value"] == 86.2
    assert fact(insight, "overdue_contacts")["value"] == 2
    assert fact(insight, "previous_total_open")["value"] == 2900


async def test_a_period_without_comparison_names_its_largest_lines(
    app: FastAPI, offline: Settings, books: Account
) -> None:
    job = await new_job(app, books, REQUESTS["profit_and_loss_alone"])
    insight = (await run(app, offline, job))[1]["result"]
    assert not any(f["key"].startswith("previous_") for f in insight["facts"])
    assert fact(insight, "top_income_1")["label"] == "Sales"
    assert fact(insight, "top_income_1_share_pct")["value"] == 100.0
    assert fact(insight, "top_expense_1")["value"] == 1250


async def test_world_memory_is_recalled_into_the_prompt(
    app: FastAPI, offline: Settings, books: Account, fake: FakeLLM
) -> None:
    world = WorldMemory(services_of(app).store, services_of(app).redis)
    await world.put(
        books.company_id, "finance/policy", "margin", {"goal": "stay profitable"}, "test"
    )
    job = await new_job(app, books, JANUARY)
    insight = (await run(app, with_llm(offline, fake), job))[1]["result"]
    assert insight["memory"] == {"status": "recalled", "used": ["finance/policy/margin"]}
    user = fake.requests[-1]["body"]["messages"][1]["content"]
    assert 'MEMORY:\n- finance/policy/margin: {"goal":"stay profitable"}' in user


async def test_the_openai_path_streams_a_validated_narrative(
    app: FastAPI, offline: Settings, books: Account, fake: FakeLLM
) -> None:
    job = await new_job(app, books, JANUARY)
    outcome, stored = await run(app, with_llm(offline, fake), job)
    assert outcome == "succeeded", stored
    insight = stored["result"]
    assert insight["provider"] == "openai-compatible" and insight["model"] == MODEL
    assert insight["offline"] is False and insight["notice"] is None
    assert insight["summary"] == "Total income was 2,900.00 USD. Total expenses was 1,250.00 USD."
    assert insight["validation"]["status"] == "passed"
    usage = insight["usage"]
    assert usage["reported"] is True and usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    [request] = fake.requests
    user = request["body"]["messages"][1]["content"]
    assert "- Net profit: 1,650.00 USD" in user
    events = await events_of(app, job["_id"])
    assert "".join(d["text"] for t, d in events if t == "token") == insight["summary"]
    [audit] = await services_of(app).store.find("insight_audit", {"job_id": job["_id"]})
    assert audit["usage"]["total_tokens"] == usage["total_tokens"]
    assert audit["model"] == MODEL


async def test_a_wrong_number_from_the_model_is_never_passed_on(
    app: FastAPI, offline: Settings, books: Account, fake: FakeLLM
) -> None:
    fake.narrate = lambda body: (
        "Net profit was 99,999.99 USD in January. Payroll costs reached 4,242.42 USD. "
        "Net profit was 700.00 USD."
    )
    job = await new_job(app, books, JANUARY)
    outcome, stored = await run(app, with_llm(offline, fake), job)
    assert outcome == "succeeded", stored
    insight = stored["result"]
    validation = insight["validation"]
    # Each failing sentence is replaced whole by the finding for its facts, or dropped when
    # that finding is already said; none is edited in place.
    assert validation["status"] == "flagged"
    first, second, third = validation["issues"]
    assert first["status"] == "replaced"
    assert first["sentence"] == "Net profit was 99,999.99 USD in January."
    assert first["replacement"].startswith("Income of 2,900.00 USD against expenses of 1,250.00")
    # The costs' finding (the period's result) is already said: the sentence goes.
    assert second["status"] == "dropped" and "4,242.42" in second["sentence"]
    assert third["status"] == "dropped" and "comparison period" in third["reasons"][0]
    assert insight["summary"] == first["replacement"]
    tokens = "".join(d["text"] for t, d in await events_of(app, job["_id"]) if t == "token")
    assert tokens == insight["summary"]
    assert "99,999.99" not in tokens and "4,242.42" not in tokens and "700.00" not in tokens
    [audit] = await services_of(app).store.find("insight_audit", {"job_id": job["_id"]})
    assert audit["validation"] == "flagged"


async def test_a_sentence_with_a_wrong_figure_is_replaced_by_its_finding(
    app: FastAPI, offline: Settings, books: Account, fake: FakeLLM
) -> None:
    fake.narrate = lambda body: "Total expenses came to 1,300.00 USD, a net margin of 60.0%."
    job = await new_job(app, books, JANUARY)
    insight = (await run(app, with_llm(offline, fake), job))[1]["result"]
    assert insight["validation"]["status"] == "corrected"
    assert insight["summary"] == (
        "Income of 2,900.00 USD against expenses of 1,250.00 USD left a net profit of "
        "1,650.00 USD, a net margin of 56.9%."
    )


async def test_a_retried_job_resumes_after_its_last_finished_step(
    app: FastAPI, offline: Settings, books: Account, fake: FakeLLM
) -> None:
    fake.fail_next(503)
    own = with_llm(offline, fake)
    job = await new_job(app, books, JANUARY)
    from arq import Retry

    with pytest.raises(Retry):
        await run(app, own, job)
    stored = await services_of(app).store.find_one("jobs", {"_id": job["_id"]})
    assert stored["status"] == "queued" and stored["error"]["type"] == "TransientError"
    outcome, stored = await run(app, own, job)
    assert outcome == "succeeded", stored
    assert stored["attempts"] == 2
    steps = [d["step"] for t, d in await events_of(app, job["_id"]) if t == "progress"]
    assert steps.count("load_report") == 1 and steps.count("compute_facts") == 1
    assert steps.count("narrate") == 2
    assert {"step": "resumed", "at": "narrate"} in [
        d for t, d in await events_of(app, job["_id"]) if t == "progress"
    ]
    assert len(fake.requests) == 2
    assert await services_of(app).store.count("insight_audit", {"job_id": job["_id"]}) == 1
    # Succeeded: the first attempt's error is history, not the job's current state.
    assert stored["error"] is None
    assert [e["type"] for e in stored["attempt_errors"]] == ["TransientError"]


async def test_a_broken_completion_is_retried_then_the_offline_narrative(
    app: FastAPI, offline: Settings, books: Account, fake: FakeLLM
) -> None:
    from arq import Retry

    fake.break_next("malformed", "empty", "truncated")
    own = with_llm(offline, fake, job_max_tries=3)
    job = await new_job(app, books, JANUARY)
    for _ in range(2):
        with pytest.raises(Retry):
            await run(app, own, job)
    outcome, stored = await run(app, own, job)  # the last attempt: the model fails again
    assert outcome == "succeeded", stored
    insight = stored["result"]
    assert (insight["provider"], insight["offline"]) == ("offline", True)
    assert insight["summary"].strip() and "empty completion" not in insight["summary"]
    assert "cut off by the token limit" in insight["notice"]
    reasons = [e["message"] for e in stored["attempt_errors"]]
    assert "malformed chunk" in reasons[0] and "empty completion" in reasons[1]
    assert stored["error"] is None and len(fake.requests) == 3
    failed = [d for t, d in await events_of(app, job["_id"]) if d.get("step") == "model_failed"]
    assert failed and failed[0]["fallback"] == "offline"


async def test_a_failed_run_is_audited(app: FastAPI, offline: Settings, books: Account) -> None:
    # Past the API's validation (a job record written by hand): the report cannot be loaded.
    job = await new_job(app, books, {"report": "aged_nonsense", "to": "2025-01-31"})
    outcome, stored = await run(app, offline, job)
    assert outcome == "failed", stored
    [audit] = await services_of(app).store.find("insight_audit", {"job_id": job["_id"]})
    assert audit["status"] == "failed" and audit["error"]["type"] == "KeyError"
    assert audit["provider"] == "offline" and audit["report"] == "aged_nonsense"
    assert await services_of(app).store.count("insights", {"_id": job["_id"]}) == 0


class FixedBooks:
    """The `Books` port with one fixed report and no store: the graph needs nothing else."""

    def __init__(self) -> None:
        self.asked: list[tuple[Any, ...]] = []

    async def profit_and_loss(
        self, start: str, end: str, compare_start: str | None, compare_end: str | None
    ) -> Doc:
        self.asked.append(("profit_and_loss", start, end, compare_start, compare_end))
        row = {"account_id": "a1", "code": "4000", "name": "Sales", "amount": 2500}
        return {
            "period": {"from": start, "to": end},
            "currency": "JPY",
            "income": [row],
            "expenses": [
                {**row, "account_id": "a2", "code": "6000", "name": "Rent", "amount": 900}
            ],
            "total_income": 2500,
            "total_expenses": 900,
            "net_profit": 1600,
        }

    async def balance_sheet(self, as_of: str) -> Doc:
        raise AssertionError("not asked")

    async def cash_flow(self, start: str, end: str) -> Doc:
        raise AssertionError("not asked")

    async def aged(self, which: str, as_of: str) -> Doc:
        raise AssertionError("not asked")

    def precision(self, currency: str) -> int:
        return {"JPY": 0}[currency]


class KeptRecords:
    def __init__(self) -> None:
        self.saved: list[tuple[Doc, Doc]] = []

    async def save(self, insight: Doc, audit: Doc) -> Doc:
        self.saved.append((insight, audit))
        return {**insight, "id": insight["_id"]}


async def test_the_graph_reaches_books_and_records_through_its_ports_only() -> None:
    """No store, no domain: the analysis runs on whatever implements its ports."""
    from agents.offline import OfflineProvider

    books, records, events = FixedBooks(), KeptRecords(), []

    async def emit(type: str, data: Any) -> None:
        events.append((type, data))

    async def progress(value: float, step: str) -> None:
        events.append(("progress", {"step": step}))

    job = {"_id": "0" * 24, "created_by": "1" * 24, "created_at": "2025-02-01T00:00:00.000Z"}
    deps = analysis.Deps(
        company_id="2" * 24,
        model=OfflineProvider(),
        emit=emit,
        progress=progress,
        job=job,
        books=books,
        records=records,
    )
    request = {"report": "profit_and_loss", "from": "2025-01-01", "to": "2025-01-31"}
    insight = await analysis.run(deps, request, None)
    assert books.asked == [("profit_and_loss", "2025-01-01", "2025-01-31", None, None)]
    [(saved, audit)] = records.saved
    assert insight["id"] == saved["_id"] == audit["job_id"] == job["_id"]
    assert fact(saved, "net_profit")["text"] == "1,600 JPY"  # the port's precision: 0 places
    assert saved["memory"]["status"] == "unavailable"  # no Recall port given
    assert saved["validation"]["status"] == "passed"
    steps = [d["step"] for t, d in events if t == "progress"]
    assert [s for s in steps if s in analysis.STEPS] == list(analysis.STEPS)


# --- the endpoints ----------------------------------------------------------------------------


async def status_with(settings: Settings) -> Doc:
    """GET /api/ai-insights/status, without a token, from an app on `settings`."""
    from api.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://x.test") as c:
            return data(await c.get("/api/ai-insights/status"))


async def test_status_is_public(client: httpx.AsyncClient, offline: Settings) -> None:
    assert (await client.get("/api/ai-insights/status")).status_code == 200
    status = await status_with(offline)
    assert status["provider"] == "offline" and status["offline"] is True
    assert status["model"] == "numbors-offline-1"
    assert status["reachable"] is True
    assert isinstance(status["queue_depth"], int) and isinstance(status["live_workers"], int)


async def test_status_probes_a_configured_endpoint(offline: Settings, fake: FakeLLM) -> None:
    status = await status_with(with_llm(offline, fake))
    assert status["provider"] == "openai-compatible" and status["model"] == MODEL
    assert status["reachable"] is True and status["offline"] is False
    down = await status_with(with_llm(offline, fake, llm_base_url="http://127.0.0.1:9/v1"))
    assert down["reachable"] is False and down["available"] is False


def test_the_published_steps_are_the_graphs_nodes() -> None:
    """The workflow description (domain) and the graph (agents) name the same steps."""
    assert analysis.STEPS == insights.STEPS
    assert list(analysis.GRAPH.nodes) == list(insights.STEPS)


async def test_workflows_are_public(client: httpx.AsyncClient) -> None:
    [workflow] = data(await client.get("/api/ai-insights/workflows"))
    assert workflow["name"] == "insight.analyse"
    assert workflow["steps"] == list(insights.STEPS)
    properties = workflow["inputs"]["properties"]
    assert {"report", "from", "to", "compare_from", "compare_to"} <= set(properties)
    assert set(properties["report"]["enum"]) == {r["report"] for r in REQUESTS.values()}


async def test_analyse_needs_a_token(client: httpx.AsyncClient) -> None:
    for path in ("analyse", "analyse-stream", "audit"):
        method = "GET" if path == "audit" else "POST"
        response = await client.request(method, f"/api/ai-insights/{path}", json=JANUARY)
        expect_error(response, 401, "token_missing")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**JANUARY, "report": "horoscope"}, "report"),
        ({**JANUARY, "to": "2024-12-31"}, "to"),
        ({"report": "profit_and_loss", "to": "2025-01-31"}, "from"),
        ({**JANUARY, "compare_from": None}, "compare_to"),
        ({"report": "balance_sheet", "from": "2025-01-01", "to": "2025-01-31"}, "from"),
        ({**JANUARY, "to": "2025-02-30"}, "to"),
        ({**JANUARY, "surprise": 1}, "surprise"),
    ],
)
async def test_analyse_rejects_bad_input(books: Account, body: Doc, field: str) -> None:
    for path in ("analyse", "analyse-stream"):
        error = expect_error(
            await books.post(f"/api/ai-insights/{path}", json=body), 400, "validation_error"
        )
        assert any(field in d["field"] for d in error["details"]), error


async def test_a_disabled_module_answers_403(client: httpx.AsyncClient, owner: Account) -> None:
    co = await bk.fresh_company(owner, "No AI Co")
    data(await co.patch("/api/modules/licenses", json={"disable": ["ai-insights"]}))
    expect_error(await co.post("/api/ai-insights/analyse", json=JANUARY), 403, "module_disabled")
    expect_error(await co.get("/api/ai-insights/audit"), 403, "module_disabled")
    assert (await co.client.get("/api/ai-insights/status")).status_code == 200


async def test_analyse_waits_for_the_insight(
    worker: NumborsWorker, books: Account, client: httpx.AsyncClient
) -> None:
    status = data(await client.get("/api/ai-insights/status"))
    assert status["live_workers"] >= 1
    insight = data(await books.post("/api/ai-insights/analyse", json=JANUARY), 201)
    assert insight["report"] == "profit_and_loss" and insight["provider"] == "offline"
    assert insight["validation"]["status"] == "passed"
    assert {"summary", "findings", "model", "usage", "facts_digest"} <= set(insight)
    job = data(await books.get(f"/api/jobs/{insight['job_id']}"))
    assert job["status"] == "succeeded" and job["kind"] == "insight.analyse"


async def test_analyse_without_waiting_answers_the_job(
    worker: NumborsWorker, books: Account
) -> None:
    submitted = data(
        await books.post("/api/ai-insights/analyse", params={"wait": "false"}, json=JANUARY), 202
    )
    assert submitted["job"]["kind"] == "insight.analyse" and submitted["waited"] is False
    assert submitted["events_url"] == f"/api/jobs/{submitted['job']['id']}/events"


async def test_analyse_stream_streams_and_resumes(
    app: FastAPI, worker: NumborsWorker, books: Account
) -> None:
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        headers = {**books.headers, "Accept": "text/event-stream"}
        async with http.stream(
            "POST", "/api/ai-insights/analyse-stream", json=JANUARY, headers=headers
        ) as response:
            assert response.status_code == 201, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            job_id = response.headers["x-job-id"]
            from tests.jobs.support import iter_sse

            events = [e async for e in iter_sse(response) if e.comment is None]
        types = [e.event for e in events]
        assert {"progress", "fact", "token", "result"} <= set(types), types
        assert types[-1] == "result" and all(e.id for e in events)
        started = next(e.json() for e in events if e.event == "progress")
        assert started["job_id"] == job_id
        result = events[-1].json()
        assert result["id"] == job_id and result["validation"]["status"] == "passed"
        tokens = "".join(e.json()["text"] for e in events if e.event == "token")
        assert tokens.strip() == result["summary"]

        # A client that dropped resumes after the last event it saw, and misses nothing.
        middle = len(events) // 2
        rest = await read_sse(
            http, f"/api/jobs/{job_id}/events", books.headers, last_event_id=events[middle].id
        )
        assert rest.status == 200
        assert [e.id for e in rest.events] == [e.id for e in events[middle + 1 :]]


async def test_the_audit_lists_every_run_of_the_company(
    app: FastAPI, offline: Settings, books: Account, owner: Account, mallory: Account
) -> None:
    job = await new_job(app, books, REQUESTS["balance_sheet"])
    await run(app, offline, job)
    rows = data(await books.get("/api/ai-insights/audit", params={"limit": 200}))
    ours = next(r for r in rows if r["job_id"] == job["_id"])
    assert ours["user_id"] == owner.user_id and ours["user"]["name"] == "Ana Lyst"
    assert ours["input"] == REQUESTS["balance_sheet"] and ours["report"] == "balance_sheet"
    assert ours["provider"] == "offline" and ours["model"] == "numbors-offline-1"
    assert ours["validation"] == "passed" and len(ours["facts_digest"]) == 64
    assert "total_tokens" in ours["usage"] and ours["duration_ms"] >= 0
    assert all(r["company_id"] == books.company_id for r in rows)
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows), reverse=True)

    page = await books.get("/api/ai-insights/audit", params={"limit": 2, "page": 1})
    assert page.json()["meta"]["total"] == len(rows) and len(page.json()["data"]) == 2
    mine = data(await books.get("/api/ai-insights/audit", params={"user_id": owner.user_id}))
    assert len(mine) == min(len(rows), 25)
    nobody = data(await books.get("/api/ai-insights/audit", params={"user_id": mallory.user_id}))
    assert nobody == []
    today = ours["created_at"][:10]
    assert data(await books.get("/api/ai-insights/audit", params={"from": today}))
    assert data(await books.get("/api/ai-insights/audit", params={"to": "2000-01-01"})) == []
    expect_error(
        await books.get("/api/ai-insights/audit", params={"user_id": "nope"}), 400, "invalid_id"
    )

    theirs = data(await mallory.get("/api/ai-insights/audit", params={"limit": 200}))
    assert all(r["job_id"] != job["_id"] for r in theirs)
    assert all(r["company_id"] == mallory.company_id for r in theirs)


async def test_the_structured_path_through_the_job_runtime(
    app: FastAPI, offline: Settings, books: Account, fake: FakeLLM
) -> None:
    """`NUMBORS_AI_STRUCTURED_OUTPUT` on: the model cites fact keys, the server renders the
    figures; a malformed JSON answer is a model failure the job retries."""
    from arq import Retry

    from tests.ai.fake_llm import quote_claims

    own = with_llm(offline, fake, ai_structured_output=True)
    answers: list[Any] = ['{"sentences": [{"text": "Total income was {total_']

    def claims(body: Doc) -> Any:
        return answers.pop(0) if answers else quote_claims(body)

    fake.claims = claims
    job = await new_job(app, books, JANUARY)
    with pytest.raises(Retry):
        await run(app, own, job)
    outcome, stored = await run(app, own, job)
    assert outcome == "succeeded", stored
    insight = stored["result"]
    assert insight["summary"] == "Total income was 2,900.00 USD. Total expenses was 1,250.00 USD."
    assert insight["validation"] == {"status": "passed", "issues": []}
    [error] = stored["attempt_errors"]
    assert error["type"] == "TransientError" and "malformed JSON" in error["message"]
    assert stored["error"] is None
    assert all("response_format" in r["body"] for r in fake.requests)
    tokens = [d["text"] for t, d in await events_of(app, job["_id"]) if t == "token"]
    # The retry narrates afresh: its two rendered sentences end the stream.
    assert "".join(tokens[-2:]) == insight["summary"]
