"""The answer's grounding, through the real `openai` client against the fake
OpenAI-compatible server (the shared validator, `agents/citations.py`): a cited id must be
a retrieved article, a figure must be the cited article's, a failing sentence is replaced by
its passage or dropped; an answer left citing nothing falls back to the offline one.
Then the whole chat with a worker whose model is the fake server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agents import support
from agents.models import OpenAICompatible
from settings import Settings
from tests.ai.fake_llm import MODEL, FakeLLM
from tests.helpers import Account, data
from tests.jobs.support import run_worker
from tests.support.conftest import key_of, publish, say
from workers.runtime import NumborsWorker

REFUND = support.Passage("a" * 24, "Refund policy", "Refunds are paid within 14 days, to the card.")
SHIPPING = support.Passage("b" * 24, "Shipping", "Orders ship in 2 days.")
ID = re.compile(r"^\[([0-9a-f]{24})\]", re.MULTILINE)


@pytest.fixture
def model(llm: FakeLLM) -> OpenAICompatible:
    llm.reset()
    return OpenAICompatible(llm.base_url, MODEL, max_retries=0)


def cites_first(
    body: dict[str, Any], text: str = "Refunds are paid within {n} days [{id}]."
) -> str:
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    first = ID.search(user)
    assert first is not None
    return text.format(id=first.group(1), n=14)


async def test_a_grounded_answer_passes(llm: FakeLLM, model: OpenAICompatible) -> None:
    llm.narrate = cites_first
    tokens: list[str] = []

    async def sink(token: str) -> None:
        tokens.append(token)

    result = await support.answer(model, "When is my refund paid?", [REFUND, SHIPPING], sink)
    assert result.text == f"Refunds are paid within 14 days [{REFUND.id}]."
    assert (result.provider, result.model, result.offline, result.grounded) == (
        "openai-compatible",
        MODEL,
        False,
        True,
    )
    assert result.citations == [REFUND.id] and result.issues == []
    assert result.validation == "passed"
    assert "".join(tokens) == result.text
    sent = llm.requests[0]["body"]["messages"]
    assert "only" in sent[0]["content"] and f"[{REFUND.id}] Refund policy" in sent[1]["content"]


async def test_citing_an_article_not_retrieved_fails(llm: FakeLLM, model: OpenAICompatible) -> None:
    stray = "c" * 24
    llm.narrate = lambda body: (
        f"Refunds are paid within 14 days [{REFUND.id}]. Shipping is free [{stray}]."
    )
    result = await support.answer(model, "refund?", [REFUND, SHIPPING])
    assert not result.offline and result.validation == "corrected"
    # the sentence citing an article not retrieved is replaced by the passage it speaks of
    assert result.text == (
        f"Refunds are paid within 14 days [{REFUND.id}]. "
        f"Shipping [{SHIPPING.id}]: Orders ship in 2 days."
    )
    assert result.issues == [
        {
            "status": "replaced",
            "sentence": f"Shipping is free [{stray}].",
            "reasons": [f"cites {stray}, which is not a source retrieved for this answer"],
            "replacement": f"Shipping [{SHIPPING.id}]: Orders ship in 2 days.",
        }
    ]
    assert result.citations == [REFUND.id, SHIPPING.id]


async def test_an_answer_citing_only_unretrieved_articles_is_refused(
    llm: FakeLLM, model: OpenAICompatible
) -> None:
    llm.narrate = lambda body: f"Our warranty lasts a year [{'c' * 24}]."
    result = await support.answer(model, "warranty?", [REFUND])
    assert result.offline is True and result.provider == "offline"
    assert result.issues[0]["status"] == "dropped" and result.validation == "flagged"
    assert REFUND.text in result.text and result.citations == [REFUND.id]


async def test_an_answer_citing_nothing_is_refused(llm: FakeLLM, model: OpenAICompatible) -> None:
    llm.narrate = lambda body: "Refunds take a while."
    result = await support.answer(model, "refund?", [REFUND])
    assert result.offline
    assert result.issues == [
        {"status": "flagged", "reason": "the answer cites none of the sources retrieved for it"}
    ]


async def test_a_figure_the_cited_article_does_not_hold_fails(
    llm: FakeLLM, model: OpenAICompatible
) -> None:
    # 2 is a figure of the shipping article, not of the refund policy the sentence cites
    llm.narrate = lambda body: (
        f"Refunds are paid within 2 days [{REFUND.id}]. Orders ship in 2 days [{SHIPPING.id}]."
    )
    result = await support.answer(model, "refund?", [REFUND, SHIPPING])
    assert result.grounded and not result.offline and result.validation == "corrected"
    assert result.text == (
        f"Refund policy [{REFUND.id}]: Refunds are paid within 14 days, to the card. "
        f"Orders ship in 2 days [{SHIPPING.id}]."
    )
    assert result.issues[0]["reasons"] == ["2 is not a figure of the cited articles"]


async def test_nothing_retrieved_makes_no_model_call(llm: FakeLLM, model: OpenAICompatible) -> None:
    result = await support.answer(model, "anything", [])
    assert result.text == support.NOT_FOUND and result.offline and llm.requests == []


# --- the whole chat, the worker's model being the fake server ---------------------------


@pytest.fixture(scope="module")
async def worker(app: FastAPI, settings: Settings, llm: FakeLLM) -> AsyncIterator[NumborsWorker]:
    configured = settings.model_copy(
        update={"llm_base_url": llm.base_url, "llm_model": MODEL, "llm_max_retries": 0}
    )
    async with run_worker(configured) as running_worker:
        yield running_worker


async def test_chat_through_the_model(
    books: Account, client: httpx.AsyncClient, llm: FakeLLM, worker: NumborsWorker
) -> None:
    refund = await publish(books, "Refund policy", "Refunds are paid within 14 days, to the card.")
    llm.narrate = cites_first
    body = data(await say(client, await key_of(books), "When do I get my refund?"), 201)
    answer = body["answer"]
    assert answer["text"] == f"Refunds are paid within 14 days [{refund['id']}]."
    assert answer["provider"] == "openai-compatible" and answer["model"] == MODEL
    assert answer["citations"] == [{"id": refund["id"], "title": "Refund policy"}]
    llm.narrate = lambda request: "Refunds are instant [ffffffffffffffffffffffff]."
    again = data(await say(client, await key_of(books), "refund?"), 201)["answer"]
    # the sentence citing an article that was not retrieved is replaced by the passage
    assert again["offline"] is False and again["grounded"] is True
    assert again["text"] == (
        f"Refund policy [{refund['id']}]: Refunds are paid within 14 days, to the card."
    )
