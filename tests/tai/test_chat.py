"""Tai chat answers from the tracker's real state: offline (labelled, every figure a fact)
and through the OpenAI-compatible path (the fake server), where a wrong figure or an
invented id from the model never reaches the answer; threads keep their history and never
cross companies."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
from fastapi import FastAPI

from agents.models import model_client
from domain import jobs
from domain.context import Ctx
from domain.insights import Reachability
from domain.tai import chat
from memory.events import replay
from memory.queue import WORKER_KEY
from services import Services
from settings import Settings
from tests.accounting.conftest import new_company
from tests.ai.fake_llm import MODEL, FakeLLM
from tests.helpers import Account, data, expect_error
from workers.runtime import SERVICES, run_job

FAKE_WORKER = "tests-tai:in-process"


@pytest.fixture(scope="module")
def offline(settings: Settings) -> Settings:
    return settings.model_copy(update={"llm_base_url": None, "llm_api_key": None})


def with_llm(settings: Settings, fake: FakeLLM) -> Settings:
    return settings.model_copy(
        update={"llm_base_url": fake.base_url, "llm_model": MODEL, "llm_max_retries": 0}
    )


@asynccontextmanager
async def worker_services(app: FastAPI, settings: Settings) -> AsyncIterator[Services]:
    base: Services = app.state.services
    model = model_client(settings)
    try:
        yield replace(
            base,
            settings=settings,
            hub=None,
            model=model,
            reachability=Reachability(model),
            worker_id=FAKE_WORKER,
            owned=(),
        )
    finally:
        await model.close()


async def ask(
    app: FastAPI, settings: Settings, account: Account, message: str, thread_id: str | None = None
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    services: Services = app.state.services
    ctx = Ctx(services.store, account.user_id, account.company_id, "owner")
    job_input = await chat.prepare(ctx, chat.MessageIn(message=message, thread_id=thread_id))
    job = await jobs.create_job(ctx, chat.KIND, job_input)
    assert services.redis is not None
    await services.redis.set(WORKER_KEY + FAKE_WORKER, b"1", ex=60)
    async with worker_services(app, settings) as worker:
        outcome = await run_job({SERVICES: worker}, job["_id"])
    stored = await services.store.find_one("jobs", {"_id": job["_id"]})
    assert outcome == "succeeded", stored
    events = [(e.type, e.data) for e in await replay(services.redis, job["_id"], None)]
    return stored["result"], events


async def tracker(account: Account) -> dict[str, Any]:
    async def bug(title: str, **more: Any) -> dict[str, Any]:
        return data(await account.post("/api/tai/bug", json={"title": title, **more}), 201)

    made = {
        "crash": await bug("Checkout 500 on 3 items", severity="critical", domain="invoices"),
        "typo": await bug("Typo on login", severity="low", domain="auth"),
        "slow": await bug("Slow stock list", severity="high", domain="inventory"),
    }
    for _ in range(2):
        failure = {"test_id": "tests/e2e/invoices/pdf.spec.ts::renders", "message": "timeout 30s"}
        made["ci"] = data(await account.post("/api/tai/e2e-fix", json=failure), 201)["bug"]
    sprint = data(
        await account.post(
            "/api/tai/sprint",
            json={"name": "Sprint 7", "starts_at": "2026-12-07", "ends_at": "2026-12-18"},
        ),
        201,
    )
    for key in ("crash", "slow"):
        data(
            await account.put(f"/api/tai/bugs/{made[key]['id']}", json={"sprint_id": sprint["id"]})
        )
    data(await account.patch(f"/api/tai/sprint/{sprint['id']}", json={"status": "active"}))
    data(await account.post(f"/api/tai/bugs/{made['slow']['id']}/fix"))
    data(
        await account.post("/api/tai/feature", json={"title": "Dark mode", "priority": "high"}), 201
    )
    made["sprint"] = sprint
    return made


async def test_offline_answers_from_the_tracker_labelled(
    app: FastAPI, offline: Settings, books: Account
) -> None:
    made = await tracker(books)
    result, events = await ask(app, offline, books, "How many bugs are open, and the sprint?")
    assert result["offline"] is True and result["provider"] == "offline"
    assert result["notice"] and "Offline answer" in result["answer"]
    answer = result["answer"]
    assert "There are 3 open bugs (1 critical, 1 medium, 1 low)." in answer
    assert "0 regressed and 0 flaky." in answer
    assert f"Bug {made['ci']['id']}" in answer and "seen 2 times" in answer
    assert made["typo"]["id"] in answer and made["slow"]["id"] not in answer  # fixed: not open
    assert 'Sprint "Sprint 7" ends 2026-12-18: 1 of 2 items done (50.0%).' in answer
    assert result["validation"] == {"status": "passed", "issues": []}
    facts = {f["key"]: f["value"] for f in result["facts"]}
    assert facts["open_bugs"] == 3 and facts["sprint_done"] == 1
    assert "".join(d["text"] for t, d in events if t == "token") == answer
    steps = [d["step"] for t, d in events if t == "progress" and "progress" in d]
    assert steps == ["gather", "route", "compute_facts", "answer", "validate"]
    log = data(await books.get("/api/tai/log", params={"type": "message.answered"}))
    assert len(log) == 1


async def test_the_question_is_routed_to_its_expert(
    app: FastAPI, offline: Settings, books: Account
) -> None:
    await tracker(books)
    result, _ = await ask(app, offline, books, "Any invoice bugs?")
    assert result["expert"]["domain"] == "invoices"
    assert "There are 2 open bugs in invoices." in result["answer"]


async def test_the_model_path_never_passes_a_wrong_figure_or_id(
    app: FastAPI, offline: Settings, books: Account, fake: FakeLLM
) -> None:
    made = await tracker(books)
    crash = made["crash"]["id"]
    fake.narrate = lambda body: (
        f'There are 3 open bugs. Bug {crash} "Checkout 500 on 3 items" is critical. '
        "There are 17 flaky bugs. There are 3 open critical bugs. "
        "Bug 0123456789abcdef01234567 is new."
    )
    result, events = await ask(app, with_llm(offline, fake), books, "What about bugs?")
    assert result["provider"] == "openai-compatible" and result["offline"] is False
    answer = result["answer"]
    assert answer.startswith(f'There are 3 open bugs. Bug {crash} "Checkout 500 on 3 items"')
    # the wrong count is gone (a bug's random hex id may well contain the digits "17")
    assert not re.search(r"\b17\b", answer) and "0123456789abcdef01234567" not in answer
    assert "3 open critical" not in answer
    issues = result["validation"]["issues"]
    by_sentence = {i["sentence"]: i for i in issues}
    flaky = by_sentence["There are 17 flaky bugs."]
    assert flaky["status"] == "replaced" and flaky["replacement"] == "0 regressed and 0 flaky."
    assert flaky["reasons"] == ["17 is not Flaky bugs (0)"]
    # 3 is a real count (the open bugs), but not the critical ones' (1): the wrong label fails
    critical = by_sentence["There are 3 open critical bugs."]
    assert critical["reasons"] == ["3 is not Critical open bugs (1)"]
    assert critical["replacement"] == "There are 3 open bugs (1 critical, 1 medium, 1 low)."
    unknown = by_sentence["Bug 0123456789abcdef01234567 is new."]
    assert unknown["reasons"] == [
        "cites 0123456789abcdef01234567, which is not a source retrieved for this answer"
    ]
    assert len(issues) == 3 and result["validation"]["status"] in ("corrected", "flagged")
    assert "".join(d["text"] for t, d in events if t == "token") == answer
    user = fake.requests[-1]["body"]["messages"][1]["content"]
    assert "- There are 3 open bugs (1 critical, 1 medium, 1 low)." in user


async def test_a_truthful_model_answer_passes(
    app: FastAPI, offline: Settings, books: Account, fake: FakeLLM
) -> None:
    made = await tracker(books)
    crash = made["crash"]["id"]
    text = (
        f'There are 3 open bugs, 1 of them critical: bug {crash} ("Checkout 500 on 3 items"). '
        "None regressed."
    )
    fake.narrate = lambda body: text
    result, _ = await ask(app, with_llm(offline, fake), books, "What about bugs?")
    assert result["validation"] == {"status": "passed", "issues": []}
    assert result["answer"] == text


async def test_a_thread_keeps_its_history_within_its_company(
    app: FastAPI, offline: Settings, books: Account, owner: Account, fake: FakeLLM
) -> None:
    await tracker(books)
    first, _ = await ask(app, offline, books, "How is the sprint?")
    second, _ = await ask(app, with_llm(offline, fake), books, "And the bugs?", first["thread_id"])
    assert second["thread_id"] == first["thread_id"] and second["turns"] == 2
    user = fake.requests[-1]["body"]["messages"][1]["content"]
    assert "user: How is the sprint?" in user
    theirs = await new_company(owner)
    other, _ = await ask(app, offline, theirs, "And the bugs?", first["thread_id"])
    assert other["turns"] == 1 and "There are 0 open bugs." in other["answer"]


async def test_bad_messages_are_400(books: Account) -> None:
    expect_error(await books.post("/api/tai/message", json={}), 400, "validation_error")
    expect_error(
        await books.post("/api/tai/message", json={"message": "x", "thread_id": "nope"}),
        400,
        "validation_error",
    )


async def test_the_answer_is_what_the_openapi_says(
    app: FastAPI, offline: Settings, books: Account
) -> None:
    await tracker(books)
    result, _ = await ask(app, offline, books, "status?")
    chat.AnswerOut.model_validate(result)
