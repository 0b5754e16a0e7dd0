"""The shared check for answers grounded in sources (`agents/citations.py`), unit level:
cited ids must be retrieved, figures held by the cited source or bound to the fact their
words name; a failing sentence is replaced or dropped, streamed exactly as checked whole.
(The support, Tai and seed tests drive it through the real `openai` client.)"""

from __future__ import annotations

import pytest

from agents.validation import Grounds, Source, SourceGuard, check_answer, outcome

REFUND = Source("a" * 24, "Refund policy", "Refunds are paid within 30 days.", "article")
SHIP = Source("b" * 24, "Shipping", "Orders ship in 2 days, 5% of them by air.", "article")
ARTICLES = Grounds(
    (REFUND, SHIP),
    (),
    (
        {
            "text": f"Refund policy [{REFUND.id}]: Refunds are paid within 30 days.",
            "facts": [],
            "sources": [REFUND.id],
        },
    ),
    require_citation=True,
)
FACTS = (
    {"key": "open_bugs", "label": "Open bugs", "value": 12, "unit": "count"},
    {"key": "open_critical", "label": "Critical open bugs", "value": 3, "unit": "count"},
    {"key": "open_high", "label": "High open bugs", "value": 4, "unit": "count"},
    {"key": "sprint_items", "label": "Sprint items", "value": 8, "unit": "count"},
    {"key": "sprint_done", "label": "Sprint items done", "value": 3, "unit": "count"},
    {"key": "sprint_percent", "label": "Sprint progress", "value": 37.5, "unit": "percent"},
)
TRACKER = Grounds(
    (),
    FACTS,
    ({"text": "There are 12 open bugs (3 critical, 4 high).", "facts": ["open_bugs"]},),
)


@pytest.mark.parametrize(
    "text",
    [
        f"Refunds are paid within 30 days [{REFUND.id}].",
        f"Refunds are paid within 30 days. [{REFUND.id}]",
        f"Orders ship in 2 days [{SHIP.id}], 5% by air.",
    ],
)
def test_truthful_answers_pass(text: str) -> None:
    checked, issues, cited = check_answer(text, ARTICLES)
    assert (checked, issues, outcome(issues)) == (text, [], "passed") and cited


def test_a_figure_of_another_article_fails_and_is_replaced() -> None:
    text = f"Refunds are paid within 2 days [{REFUND.id}]."
    checked, issues, _ = check_answer(text, ARTICLES)
    assert checked == ARTICLES.replacements[0]["text"]
    assert issues[0]["reasons"] == ["2 is not a figure of the cited articles"]
    assert outcome(issues) == "corrected"


def test_an_article_not_retrieved_fails_and_nothing_cited_is_an_issue() -> None:
    stray = "c" * 24
    checked, issues, cited = check_answer(f"Warranty lasts a year [{stray}].", ARTICLES)
    assert checked == "" and cited == [] and outcome(issues) == "flagged"
    assert issues[0]["status"] == "dropped"
    assert issues[0]["reasons"] == [
        f"cites {stray}, which is not a source retrieved for this answer"
    ]
    assert issues[1] == {"status": "flagged", "reason": "the answer is empty"}


@pytest.mark.parametrize(
    "text",
    [
        "There are 12 open bugs (3 critical, 4 high).",
        "There are 3 open critical bugs and 4 high ones.",
        "The sprint has 3 of 8 items done (37.5%).",
    ],
)
def test_counts_bound_to_their_facts_pass(text: str) -> None:
    assert check_answer(text, TRACKER)[1] == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("There are 4 open critical bugs.", "4 is not Critical open bugs (3)"),  # high's count
        ("There are 3 open bugs.", "3 is not Open bugs (12)"),  # the critical count
        ("The sprint has 8 items done.", "8 is not Sprint items done (3)"),
        ("The sprint is 40% done.", "40% is not Sprint progress (37.5)"),
        ("We fixed 7 things.", "7 names no fact"),
    ],
)
def test_wrong_or_misplaced_counts_fail(text: str, reason: str) -> None:
    checked, issues, _ = check_answer(text, TRACKER)
    assert issues[0]["reasons"] == [reason]
    assert text not in checked


@pytest.mark.parametrize("size", [1, 4, 9])
async def test_the_stream_releases_exactly_the_checked_answer(size: int) -> None:
    raw = (
        f"Refunds are paid within 30 days. [{REFUND.id}] Shipping is free [{'d' * 24}]. "
        f"Orders ship in 2 days [{SHIP.id}]. <b>Done</b>."
    )
    pieces: list[str] = []

    async def sink(piece: str) -> None:
        pieces.append(piece)

    guard = SourceGuard(ARTICLES, sink)
    for i in range(0, len(raw), size):
        await guard.feed(raw[i : i + size])
    streamed = await guard.close()
    assert streamed == check_answer(raw, ARTICLES)
    assert "".join(pieces) == streamed[0] and "d" * 24 not in streamed[0]
    assert "<b>" not in streamed[0] and len(pieces) >= 3
