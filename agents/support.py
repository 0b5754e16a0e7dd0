"""The support chat's answer: grounded in the company's retrieved articles, or nothing.

`answer(model, question, passages)`:
- No passage retrieved: a fixed answer that says so and offers a person (no model call: a
  model with nothing to ground in would make something up), labelled offline.
- The offline provider (no model configured): the best passages themselves, each with its
  article's title and id, and a closing line saying no language model wrote it. What it
  says is what the articles say.
- A model (any OpenAI-compatible endpoint, `agents/models.py`): asked to answer only from
  the numbered passages and to cite each one it uses as `[<article id>]`. Its text is then
  checked by the shared validator for answers grounded in sources (`validation.check_answer`,
  `agents/citations.py`), the retrieved passages being the sources: every cited id must be a
  retrieved article, every figure must be one of the cited article's (or, in a sentence
  citing none, a retrieved one's). A failing sentence is replaced by the passage it speaks
  of ("Title [id]: text", the offline provider's wording) or dropped, and listed in
  `issues`; `validation` is `passed` only when every sentence checks. An answer left citing
  no retrieved article (or empty) is refused: the offline answer is given instead, labelled
  so, with the refused attempt's issues.

The result names the provider and model that wrote the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agents import validation
from agents.models import ModelClient, Prompt, TokenSink
from agents.offline import MODEL as OFFLINE_MODEL

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

    @property
    def validation(self) -> str:
        """`passed` only when every sentence of the model's answer checked (see the module)."""
        return validation.outcome(self.issues)

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
            "validation": self.validation,
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


def grounds(passages: list[Passage]) -> validation.Grounds:
    """The retrieved articles as the sources of an answer, each passage as the grounded
    sentence that replaces a failing one."""
    sources = tuple(validation.Source(p.id, p.title, p.text, "article") for p in passages)
    sentences = tuple(
        {"text": f"{p.title} [{p.id}]: {p.text}", "facts": [], "sources": [p.id]} for p in passages
    )
    return validation.Grounds(sources, (), sentences, require_citation=True)


def check(text: str, passages: list[Passage]) -> tuple[str, list[str], list[dict[str, Any]]]:
    """(text to pass on, cited ids, issues)."""
    checked, issues, cited = validation.check_answer(text, grounds(passages))
    return checked, cited, issues


async def answer(
    model: ModelClient, question: str, passages: list[Passage], on_token: TokenSink | None = None
) -> Answer:
    if not passages:
        return await _fixed(NOT_FOUND, [], on_token, NOT_FOUND_NOTICE)
    if model.offline:
        return await _offline(passages, on_token)
    completion = await model.complete(prompt(question, passages))
    text, cited, issues = check(completion.text.strip(), passages)
    if not cited:  # nothing grounded is left: the offline answer, with the refused attempt's
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
