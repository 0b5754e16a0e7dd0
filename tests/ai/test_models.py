"""The model layer: the real `openai` client streaming from a local OpenAI-compatible server
(tests/ai/fake_llm.py), its retries and error mapping, the offline provider, and the
validation of a narrative's figures against computed facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents import facts as F
from agents.models import (
    OFFLINE,
    OPENAI_COMPATIBLE,
    ModelError,
    ModelUnavailable,
    OpenAICompatible,
    Prompt,
    describe,
    model_client,
)
from agents.offline import NOTICE, OfflineProvider
from agents.validation import StreamGuard, scope_of, validate
from settings import Settings
from supervisor import free_port
from tests.ai.fake_llm import MODEL, FakeLLM


@pytest.fixture
def fake(llm: FakeLLM) -> FakeLLM:
    llm.reset()
    llm.narrate = lambda body: "Net profit was 1,250.00 USD, up 25.0% on the previous period."
    return llm


def client(fake: FakeLLM, **options: float) -> OpenAICompatible:
    return OpenAICompatible(fake.base_url, MODEL, "test-key", **options)  # type: ignore[arg-type]


PROMPT = Prompt(system="Be brief.", user="FACTS:\n- Net profit: 1,250.00 USD")


async def test_the_client_streams_tokens_and_records_usage(fake: FakeLLM) -> None:
    tokens: list[str] = []

    async def sink(token: str) -> None:
        tokens.append(token)

    model = client(fake)
    try:
        completion = await model.complete(PROMPT, sink)
    finally:
        await model.close()
    expected = "Net profit was 1,250.00 USD, up 25.0% on the previous period."
    assert completion.text == expected
    assert "".join(tokens) == expected and len(tokens) > 5, tokens
    assert completion.provider == OPENAI_COMPATIBLE and completion.model == MODEL
    usage = completion.usage.as_dict()
    assert usage["reported"] is True
    assert usage["completion_tokens"] == len(tokens)
    assert usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    [request] = fake.requests
    body = request["body"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == MODEL
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert request["headers"]["authorization"] == "Bearer test-key"


async def test_a_429_is_retried_then_succeeds(fake: FakeLLM) -> None:
    fake.fail_next(429)
    model = client(fake, max_retries=2)
    try:
        completion = await model.complete(PROMPT)
    finally:
        await model.close()
    assert completion.text.startswith("Net profit was 1,250.00 USD")
    assert len(fake.requests) == 2


async def test_5xx_beyond_the_retries_is_unavailable(fake: FakeLLM) -> None:
    fake.fail_next(503, 502, 500)
    model = client(fake, max_retries=2)
    try:
        with pytest.raises(ModelUnavailable, match="500"):
            await model.complete(PROMPT)
    finally:
        await model.close()
    assert len(fake.requests) == 3


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("malformed", "malformed chunk"),
        ("empty", "empty completion"),
        ("truncated", "cut off by the token limit"),
    ],
)
async def test_a_completion_that_is_no_narrative_is_unavailable(
    fake: FakeLLM, fault: str, says: str
) -> None:
    fake.break_next(fault)
    model = client(fake, max_retries=0)
    with pytest.raises(ModelUnavailable, match=says):
        await model.complete(PROMPT)
    # the next answer is whole again
    assert (await model.complete(PROMPT)).text.startswith("Net profit was 1,250.00 USD")


async def test_a_refusal_is_not_retried(fake: FakeLLM) -> None:
    fake.fail_next(401)
    model = client(fake, max_retries=2)
    try:
        with pytest.raises(ModelError, match="401"):
            await model.complete(PROMPT)
    finally:
        await model.close()
    assert len(fake.requests) == 1


async def test_an_endpoint_that_is_down_is_unavailable() -> None:
    model = OpenAICompatible(f"http://127.0.0.1:{free_port()}/v1", MODEL, max_retries=0)
    try:
        assert await model.probe() is False
        with pytest.raises(ModelUnavailable):
            await model.complete(PROMPT)
    finally:
        await model.close()


async def test_probe_answers_for_a_live_endpoint(fake: FakeLLM) -> None:
    model = client(fake)
    try:
        assert await model.probe() is True
    finally:
        await model.close()


def test_the_provider_follows_the_settings(tmp_path: Path) -> None:
    bare = Settings(var_dir=tmp_path, llm_base_url=None, llm_api_key=None)
    assert isinstance(model_client(bare), OfflineProvider)
    assert describe(bare)["provider"] == OFFLINE
    configured = Settings(var_dir=tmp_path, llm_base_url="http://127.0.0.1:9/v1", llm_model="m")
    chosen = model_client(configured)
    assert isinstance(chosen, OpenAICompatible) and chosen.model == "m"
    assert describe(configured) == {
        "provider": OPENAI_COMPATIBLE,
        "model": "m",
        "base_url": "http://127.0.0.1:9/v1",
    }
    keyed = Settings(var_dir=tmp_path, llm_base_url=None, llm_api_key="sk-test")
    assert describe(keyed)["base_url"] == "https://api.openai.com/v1"


# --- the offline provider -------------------------------------------------------------------


def pnl_facts() -> tuple[list[F.Fact], list[F.Finding]]:
    report = {
        "currency": "USD",
        "income": [
            {"account_id": "a1", "name": "Sales", "amount": 2500.0, "previous": 1000.0},
        ],
        "expenses": [
            {"account_id": "a2", "name": "General expenses", "amount": 1250.0, "previous": 300.0},
        ],
        "total_income": 2500.0,
        "total_expenses": 1250.0,
        "net_profit": 1250.0,
        "comparison": {"total_income": 1000.0, "total_expenses": 300.0, "net_profit": 700.0},
    }
    return F.compute("profit_and_loss", report, None, 2)


def offline_prompt() -> Prompt:
    found, findings = pnl_facts()
    subject = {
        "report": "profit_and_loss",
        "from": "2025-01-01",
        "to": "2025-01-31",
        "compare_from": "2024-12-01",
        "compare_to": "2024-12-31",
    }
    return Prompt("", "", found, findings, subject)


async def test_the_offline_provider_is_deterministic_and_grounded() -> None:
    runs = []
    for _ in range(2):
        tokens: list[str] = []

        async def sink(token: str, into: list[str] = tokens) -> None:
            into.append(token)

        completion = await OfflineProvider().complete(offline_prompt(), sink)
        runs.append((completion.text, tokens))
        assert "".join(tokens) == completion.text
        assert completion.provider == OFFLINE and completion.notice == NOTICE
        assert completion.usage.completion_tokens == len(tokens)
        assert "without a language model" in completion.text
    assert runs[0] == runs[1]
    text = runs[0][0]
    assert "1,250.00 USD" in text and "2,500.00 USD" in text
    prompt = offline_prompt()
    scope = scope_of(prompt.subject, prompt.findings)
    _, issues = validate(text, prompt.facts, 2, scope=scope)
    assert issues == [], issues


# --- validation -------------------------------------------------------------------------------
# (the grounded check's own cases are tests/ai/test_grounding.py and its corpus)


async def test_markup_from_the_model_is_neutralised_not_lost() -> None:
    facts = [{"key": "net_profit", "label": "Net profit", "value": 1250.0, "unit": "money"}]
    text = 'Net profit was <b>1,250.00</b> USD.<script>alert("x")</script>'
    scope = scope_of({"from": "2025-01-01", "to": "2025-01-31"}, [])
    summary, issues = validate(text, facts, 2, scope=scope)
    assert (
        summary
        == 'Net profit was \u2039b>1,250.00\u2039/b> USD.\u2039script>alert("x")\u2039/script>'
    )
    assert issues == []
    released: list[str] = []

    async def sink(piece: str) -> None:
        released.append(piece)

    guard = StreamGuard(facts, 2, None, sink, scope=scope)
    for token in text.split(" "):
        await guard.feed(token + " ")
    await guard.close()
    assert "<" not in "".join(released) and "".join(released).strip() == summary
