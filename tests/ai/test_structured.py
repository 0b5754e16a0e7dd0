"""Structured narratives (`agents.claims`): sentences citing fact keys, figures rendered by the
server, played by the local OpenAI-compatible server in its structured-output mode (JSON
streamed in chunks that cut through keys and strings) and read through the real `openai`
client; then the analysis graph choosing the structured path, falling back to prose when the
endpoint refuses `response_format`, and treating malformed JSON as a model failure."""

from __future__ import annotations

from typing import Any

import pytest

from agents import analysis
from agents.claims import ClaimStream, response_format
from agents.facts import render
from agents.models import ModelUnavailable, OpenAICompatible, Prompt
from agents.offline import OfflineProvider
from agents.validation import outcome
from tests.ai.books import PLACES, REQUESTS, Books, Records, facts, scope
from tests.ai.fake_llm import MODEL, FakeLLM

Claim = dict[str, Any]


def s(text: str, *keys: str) -> Claim:
    return {"text": text, "facts": list(keys)}


# (book, sentences, the narrative the server renders): every figure is the fact's own
# rendering, with the currency as the offline provider writes it.
TRUTHFUL: list[tuple[str, list[Claim], str]] = [
    (
        "pnl",
        [
            s("Total income was {total_income} in January.", "total_income"),
            s(
                "Net profit rose by {net_profit_change} to {net_profit} against December.",
                "net_profit_change",
                "net_profit",
            ),
        ],
        "Total income was 2,900.00 USD in January. Net profit rose by 950.00 USD to "
        "1,650.00 USD against December.",
    ),
    (
        "pnl",
        [s("Net profit was {net_profit}, a net margin of {net_margin_pct}.", "net_profit")],
        "Net profit was 1,650.00 USD, a net margin of 56.9%.",
    ),
    (
        "pnl",
        [
            s(
                "Rent rose by {account_mover_2_change} compared with the prior period.",
                "account_mover_2_change",
            )
        ],
        "Rent rose by 500.00 USD compared with the prior period.",
    ),
    (
        "loss",
        [s("The company made a net loss of {net_profit:abs}.", "net_profit")],
        "The company made a net loss of 800.00 USD.",
    ),
    (
        "loss",
        [s("Wages were {top_expense_1}, {top_expense_1_share_pct} of expenses.", "top_expense_1")],
        "Wages were 1,500.00 USD, 83.3% of expenses.",
    ),
    (
        "balance",
        [s("Debt to equity is {debt_to_equity}.", "debt_to_equity")],
        "Debt to equity is 0.09.",
    ),
    (
        "cash",
        [
            s(
                "Inflows fell by {total_inflows_change:abs} against the previous period.",
                "total_inflows_change",
            )
        ],
        "Inflows fell by 4,000.00 USD against the previous period.",
    ),
    (
        "aged",
        [
            s("Studio 54 owes {top_overdue_contact}.", "top_overdue_contact"),
            s("{overdue_contacts} customers have overdue balances.", "overdue_contacts"),
        ],
        "Studio 54 owes 2,500.00 USD. 2 customers have overdue balances.",
    ),
]

# (book, the class of lie, one sentence): each must be replaced or dropped, and flagged.
INVENTED: list[tuple[str, str, Claim]] = [
    ("pnl", "unknown key", s("Revenue was {revenue} in January.", "revenue")),
    ("pnl", "unknown cited key", s("Total income was {total_income}.", "total_income", "ebitda")),
    ("pnl", "typed figure", s("Net profit was 1,950.00 USD.", "net_profit")),
    (
        "pnl",
        "typed figure beside a placed one",
        s("Income was {total_income}, up 5%.", "total_income"),
    ),
    ("pnl", "number in words", s("Net profit was nine thousand dollars.", "net_profit")),
    ("pnl", "date outside", s("On 15 March 2025 net profit was {net_profit}.", "net_profit")),
    ("pnl", "wrong label", s("Total expenses were {total_income}.", "total_income")),
    (
        "pnl",
        "comparison as current",
        s("Net profit was {previous_net_profit}.", "previous_net_profit"),
    ),
    ("pnl", "change as level", s("Total income was {total_income_change}.", "total_income_change")),
    ("cash", "direction", s("Inflows rose by {total_inflows_change:abs}.", "total_inflows_change")),
    ("loss", "sign", s("The company made a net profit of {net_profit:abs}.", "net_profit")),
    ("aged", "nothing overdue", s("Nothing is overdue.", "overdue_total")),
    ("aged", "wrong entity", s("Globex owes {top_overdue_contact}.", "top_overdue_contact")),
]


def claims_of(sentences: list[Claim]) -> dict[str, Any]:
    return {"sentences": sentences}


async def narrate(llm: FakeLLM, book: str, answer: Any) -> tuple[str, list[Any], list[str]]:
    """`answer` streamed by the server as structured output, read by the real client and
    checked as it arrives: the narrative, its issues and the pieces the stream released."""
    found, findings = facts(book)
    llm.claims = lambda body: answer
    pieces: list[str] = []

    async def sink(piece: str) -> None:
        pieces.append(piece)

    client = OpenAICompatible(llm.base_url, MODEL, max_retries=0)
    try:
        stream = ClaimStream(found, "USD", PLACES, scope(book), sink)
        prompt = Prompt("s", "u", found, findings, response_format=response_format(found))
        completion = await client.complete(prompt, stream.feed)
        assert completion.structured
        text, issues = await stream.close()
    finally:
        await client.close()
    return text, issues, pieces


@pytest.mark.parametrize("book,sentences,expected", TRUTHFUL, ids=lambda v: str(v)[:30])
async def test_truthful_structured_narratives_pass_rendered_exactly(
    fake: FakeLLM, book: str, sentences: list[Claim], expected: str
) -> None:
    text, issues, pieces = await narrate(fake, book, claims_of(sentences))
    assert issues == [] and outcome(issues) == "passed"
    assert text == expected
    # Streamed a sentence at a time, as each object completed.
    assert "".join(pieces) == text and len(pieces) == len(sentences)
    [request] = fake.requests
    schema = request["body"]["response_format"]
    assert schema["type"] == "json_schema" and schema["json_schema"]["strict"] is True
    found, _ = facts(book)
    item = schema["json_schema"]["schema"]["properties"]["sentences"]["items"]
    assert item["properties"]["facts"]["items"]["enum"] == [f["key"] for f in found]


@pytest.mark.parametrize("book,kind,claim", INVENTED, ids=lambda v: str(v)[:30])
async def test_a_lying_sentence_is_replaced_by_its_finding_and_flagged(
    fake: FakeLLM, book: str, kind: str, claim: Claim
) -> None:
    truthful = s("Total income was {total_income}.", "total_income")
    sentences = [claim, truthful] if book == "pnl" else [claim]
    text, issues, pieces = await narrate(fake, book, claims_of(sentences))
    assert outcome(issues) != "passed"
    [issue] = issues
    assert issue["sentence"] == claim["text"] and issue["reasons"], issue
    assert issue["status"] in ("replaced", "dropped")
    _, findings = facts(book)
    grounded = {f["text"] for f in findings}
    if issue["status"] == "replaced":
        assert issue["replacement"] in grounded and issue["replacement"] in text
    # Only grounded or checked sentences are passed on: never the lie, never garbled.
    assert "{" not in text and "".join(pieces) == text
    for typed in ("1,950", "5%", "nine thousand", "March"):
        assert typed not in text


async def test_the_reasons_name_what_failed(fake: FakeLLM) -> None:
    sentences = [
        s("Revenue was {revenue}.", "revenue"),
        s("Net profit was 1,950.00 USD.", "net_profit"),
        s("Net profit was {previous_net_profit}.", "previous_net_profit"),
    ]
    _, issues, _ = await narrate(fake, "pnl", claims_of(sentences))
    reasons = [" ".join(i["reasons"]) for i in issues]
    assert "'revenue', which is no fact" in reasons[0]
    assert "types the figure 1,950.00 itself" in reasons[1]
    assert "comparison period" in reasons[2]
    # The first is replaced by nothing it shares facts with: dropped; the second by the
    # period's result; the third's finding (net profit against the comparison) is new.
    assert [i["status"] for i in issues] == ["dropped", "replaced", "replaced"]


async def test_malformed_or_shapeless_json_is_a_model_failure(fake: FakeLLM) -> None:
    for answer in (
        '{"sentences": [{"text": "Total income was {total_income}.", "facts": ["total_',
        '{"summary": "Total income was high."}',
        '{"sentences": []}',
        '{"sentences": [{"facts": ["total_income"]}]}',
    ):
        with pytest.raises(ModelUnavailable):
            await narrate(fake, "pnl", answer)


# --- the analysis graph ----------------------------------------------------------------------


async def analyse(
    client: Any, fallback: Any = None
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    events: list[tuple[str, Any]] = []

    async def emit(kind: str, data: Any) -> None:
        events.append((kind, data))

    async def progress(value: float, step: str) -> None:
        events.append(("progress", {"step": step}))

    job = {"_id": "structured0000000000000", "created_by": "u", "created_at": "now"}
    deps = analysis.Deps("c", client, emit, progress, job, Books(), Records(), fallback=fallback)
    return await analysis.run(deps, REQUESTS["pnl"], None), events


async def test_the_graph_narrates_structured_and_streams_rendered_sentences(
    fake: FakeLLM,
) -> None:
    client = OpenAICompatible(fake.base_url, MODEL, max_retries=0)
    try:
        insight, events = await analyse(client)
    finally:
        await client.close()
    [request] = fake.requests
    assert "response_format" in request["body"]
    user = request["body"]["messages"][1]["content"]
    assert "- {net_profit} Net profit: 1,650.00 USD" in user
    found, _ = facts("pnl")
    by_key = {f["key"]: f for f in found}
    assert insight["summary"] == (
        f"Total income was {render(by_key['total_income'], 'USD', PLACES)}. "
        f"Total expenses was {render(by_key['total_expenses'], 'USD', PLACES)}."
    )
    assert insight["validation"] == {"status": "passed", "issues": []}
    tokens = [d["text"] for t, d in events if t == "token"]
    assert "".join(tokens) == insight["summary"] and len(tokens) == 2
    assert ("progress", {"step": "validated", "validation": "passed"}) in events


async def test_a_lie_in_the_graph_is_replaced_and_the_status_flags_it(fake: FakeLLM) -> None:
    fake.claims = lambda body: claims_of(
        [s("Total income was {total_income}.", "total_income"), s("Profit was 9k.", "net_profit")]
    )
    client = OpenAICompatible(fake.base_url, MODEL, max_retries=0)
    try:
        insight, events = await analyse(client)
    finally:
        await client.close()
    [issue] = insight["validation"]["issues"]
    assert insight["validation"]["status"] == "corrected" and issue["status"] == "replaced"
    assert insight["summary"] == f"Total income was 2,900.00 USD. {issue['replacement']}"
    assert "9k" not in "".join(d["text"] for t, d in events if t == "token")


async def test_an_endpoint_refusing_response_format_gets_prose(fake: FakeLLM) -> None:
    fake.structured = False  # answers 400 to a response_format
    client = OpenAICompatible(fake.base_url, MODEL, max_retries=0)
    try:
        insight, _ = await analyse(client)
        assert client.structured is False  # remembered: the next analysis asks in prose
        await analyse(client)
    finally:
        await client.close()
    first, prose, again = fake.requests
    assert "response_format" in first["body"]
    assert "response_format" not in prose["body"] and "response_format" not in again["body"]
    assert insight["summary"] == "Total income was 2,900.00 USD. Total expenses was 1,250.00 USD."
    assert insight["validation"]["status"] == "passed"


async def test_structured_output_off_asks_in_prose(fake: FakeLLM) -> None:
    client = OpenAICompatible(fake.base_url, MODEL, max_retries=0, structured=False)
    try:
        insight, _ = await analyse(client)
    finally:
        await client.close()
    [request] = fake.requests
    assert "response_format" not in request["body"]
    assert insight["validation"]["status"] == "passed"


async def test_malformed_json_on_the_last_attempt_gives_the_offline_narrative(
    fake: FakeLLM,
) -> None:
    fake.claims = lambda body: '{"sentences": [{"text": "Total income was {total_'
    client = OpenAICompatible(fake.base_url, MODEL, max_retries=0)
    try:
        with pytest.raises(ModelUnavailable, match="malformed JSON"):
            await analyse(client)  # not the last attempt: the job retries it
        insight, events = await analyse(client, fallback=OfflineProvider())
    finally:
        await client.close()
    assert (insight["provider"], insight["offline"]) == ("offline", True)
    assert "malformed JSON" in insight["notice"]
    assert [d for t, d in events if d.get("step") == "model_failed"]
    assert insight["validation"]["status"] == "passed"
