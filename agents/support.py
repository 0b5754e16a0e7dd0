"""The support chat's answer: grounded in the company's retrieved articles, or nothing.

`answer(model, question, passages)`:
- No passage retrieved: a fixed answer that says so and offers a person (no model call: a
  model with nothing to ground in would make something up), labelled offline.
- The offline provider (no model configured): the best passages themselves, each with its
  article's title and id, and a closing line saying no language model wrote it. What it
  says is what the articles say.
- A model (any OpenAI-compatible endpoint, `agents/models.py`): asked to answer only from
  the numbered passages and to cite each one it uses as `[<article id>]`. Its text is then
  checked, and passed on only if it holds: every cited id is a retrieved article, at least
  one is cited, and every figure it states is a figure of the passages (the shared
  validator, `agents/validation.py`, with the passages' numbers as the facts; an unverified
  figure is replaced by `[unverified figure]`). An answer that cites an article that was
  not retrieved, or none, is refused and the offline answer is given instead, labelled so
  (`grounded` false on the refused attempt is recorded in `issues`).

Citations in the text are masked while figures are checked (an id's digits are not
figures). The result names the provider and model that wrote the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agents import validation
from agents.models import ModelClient, Prompt, TokenSink
from agents.offline import MODEL as OFFLINE_MODEL

CITATION = re.compile(r"\[([0-9a-f]{24})\]")
FIGURE = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(\s?%)?")
NOT_FOUND = (
    "I could not find this in our help articles. You can ask to talk to a person: the "
    "conversation will be passed to our support team."
)
OFFLINE_NOTICE = (
    "Written by the offline provider from the help articles' own passages; no language "
    "model was configured or used."
)
NOT_FOUND_NOTICE = "A fixed answer: no help article matched the question; no model was used."
OFFLINE_CLOSING = (
    "(Offline answer: the passages of our help articles that best match your question.)"
)
SYSTEM = (
    "You are a customer support assistant. Answer the customer's question using only the "
    "passages below, in a few sentences. After each statement, cite the passage it comes "
    "from as [id], with the id exactly as given. Do not state any number that is not in "
    "the passages. If the passages do not answer the question, say so and offer to pass "
    "the conversation to a person."
)


@dataclass(frozen=True)
class Passage:
    id: str
    title: str
    text: str


@dataclass
class Answer:
    text: str
    citations: list[str]
    provider: str
    model: str
    offline: bool
    grounded: bool
    notice: str | None = None
    issues: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": self.citations,
            "provider": self.provider,
            "model": self.model,
            "offline": self.offline,
            "grounded": self.grounded,
            "notice": self.notice,
            "issues": self.issues,
        }


def prompt(question: str, passages: list[Passage]) -> Prompt:
    blocks = [f"[{p.id}] {p.title}\n{p.text}" for p in passages]
    user = "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"
    return Prompt(system=SYSTEM, user=user, subject={"kind": "support_answer"})


def offline_text(passages: list[Passage]) -> str:
    parts = ["Here is what our help articles say:"]
    parts += [f"{p.title} [{p.id}]: {p.text}" for p in passages]
    parts.append(OFFLINE_CLOSING)
    return "\n\n".join(parts)


def facts_of(passages: list[Passage]) -> list[dict[str, Any]]:
    """Every number of the passages, as facts the shared validator accepts."""
    facts: list[dict[str, Any]] = []
    for p in passages:
        for i, match in enumerate(FIGURE.finditer(p.text + " " + p.title)):
            value = Decimal(match.group(1).replace(",", ""))
            unit = "percent" if match.group(2) else "money" if "." in match.group(1) else "count"
            # No label: a wrong figure is flagged, never "corrected" to some passage's number.
            facts.append({"key": f"{p.id}:{i}", "label": "\x00", "value": value, "unit": unit})
    return facts


def check(text: str, passages: list[Passage]) -> tuple[str, list[str], list[dict[str, Any]], bool]:
    """(text to pass on, cited ids, issues, grounded)."""
    retrieved = {p.id for p in passages}
    cited = list(dict.fromkeys(CITATION.findall(text)))
    issues: list[dict[str, Any]] = []
    stray = [c for c in cited if c not in retrieved]
    if stray:
        issues.append({"status": "refused", "reason": "cites articles not retrieved", "ids": stray})
    if not cited:
        issues.append({"status": "refused", "reason": "cites no article"})
    if issues:
        return text, cited, issues, False
    marks = {c: f"[@{chr(ord('a') + i)}]" for i, c in enumerate(cited)}
    masked = CITATION.sub(lambda m: marks[m.group(1)], text)
    facts = facts_of(passages)
    checked, figures = validation.validate(masked, facts, places=2)
    checked, strays = _unlisted(checked, {Decimal(str(f["value"])) for f in facts})
    figures += strays
    for c, mark in marks.items():
        checked = checked.replace(mark, f"[{c}]")
    return checked, cited, figures, True


def _unlisted(text: str, values: set[Decimal]) -> tuple[str, list[dict[str, Any]]]:
    """Flag any figure the shared validator let through without a passage holding it (it
    reads "30 days" as the name of an ageing bucket, as reports write it)."""
    issues: list[dict[str, Any]] = []

    def flag(match: re.Match[str]) -> str:
        if Decimal(match.group(1).replace(",", "")) in values:
            return match.group(0)
        issues.append({"figure": match.group(0), "status": "flagged", "reason": "not in passages"})
        return validation.FLAG + (match.group(2) or "")

    return FIGURE.sub(flag, text), issues


async def answer(
    model: ModelClient, question: str, passages: list[Passage], on_token: TokenSink | None = None
) -> Answer:
    if not passages:
        return await _fixed(NOT_FOUND, [], on_token, NOT_FOUND_NOTICE)
    if model.offline:
        return await _offline(passages, on_token)
    completion = await model.complete(prompt(question, passages))
    text, cited, issues, grounded = check(completion.text.strip(), passages)
    if not grounded:
        fallback = await _offline(passages, on_token)
        fallback.issues = issues
        return fallback
    if on_token is not None:
        for chunk in re.findall(r"\S+\s*", text):
            await on_token(chunk)
    return Answer(text, cited, completion.provider, completion.model, False, True, None, issues)


async def _offline(passages: list[Passage], on_token: TokenSink | None) -> Answer:
    return await _fixed(offline_text(passages), [p.id for p in passages], on_token)


async def _fixed(
    text: str, citations: list[str], on_token: TokenSink | None, notice: str = OFFLINE_NOTICE
) -> Answer:
    """A text no model wrote (the passages themselves, or "not found"), labelled offline."""
    if on_token is not None:
        for chunk in re.findall(r"\S+\s*", text):
            await on_token(chunk)
    return Answer(text, citations, "offline", OFFLINE_MODEL, True, True, notice)
