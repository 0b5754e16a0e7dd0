"""The validation step: one module checks every AI feature's text.

- Narratives over computed facts (insights, with a `Scope`: the report's periods and
  findings): `validate` and `StreamGuard` run the grounded check (`agents.grounding`): each
  figure bound to the fact its sentence names, a failing sentence replaced by its finding or
  dropped, an empty text an issue.
- Answers grounded in sources (the support chat's articles, Tai's bugs, features and
  sprints, the seed recommendation's scores): `check_answer` and `SourceGuard`
  (`agents.citations`): every cited id one of the sources retrieved for the answer, every
  figure held by a cited source or bound to the fact its words name, a failing sentence
  replaced by the grounded (offline provider's) sentence or dropped.

Either way `outcome` says `passed` only when nothing failed.

Plain text out: markup in a model's text is neutralised before anything is checked or
passed on (`plain_text`): every `<` that would open a tag, a comment or a declaration
becomes U+2039 (a single angle quote), so `<script>` reads as text wherever it is shown, even
by a client that renders the narrative as HTML, and nothing of what the model said is lost.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from agents.citations import Grounds, Source, SourceGuard, check_answer, plain_text
from agents.facts import Fact
from agents.grounding import Grounder, Scope, ground, scope_of

__all__ = ["EMPTY", "Grounds", "Scope", "Source", "SourceGuard", "StreamGuard", "check_answer"]
__all__ += ["outcome", "plain_text", "scope_of", "validate"]
EMPTY = "the narrative is empty"
SENTENCE_DONE = re.compile(r"[.!?](?=\s)")


def validate(
    text: str,
    facts: list[Fact],
    places: int,
    years: set[int] | None = None,
    *,
    scope: Scope,
) -> tuple[str, list[dict[str, Any]]]:
    """Check every figure of `text` against `facts` in `scope` (`agents.grounding`); answer
    the text to pass on and the issues found. (`years` is kept for callers: the scope's
    periods name the years.)"""
    text = plain_text(text)
    if not text.strip():
        return "", [{"status": "flagged", "reason": EMPTY}]
    return ground(Grounder(facts, places, scope), text)


class StreamGuard:
    """Passes a streamed narrative on a sentence at a time, each once checked: a wrong
    figure never reaches a listener either, and all released pieces joined are exactly what
    `validate` answers for the whole narrative."""

    def __init__(
        self,
        facts: list[Fact],
        places: int,
        years: set[int] | None,
        sink: Callable[[str], Awaitable[None]],
        *,
        scope: Scope,
    ):
        self.sink = sink
        self.raw = ""
        self.grounder = Grounder(facts, places, scope)
        self.done = 0

    async def feed(self, token: str) -> None:
        self.raw += token
        ends = [m.end() for m in SENTENCE_DONE.finditer(self.raw, self.done)]
        if ends:
            await self._sentences(ends[-1])

    async def close(self) -> None:
        await self._sentences(len(self.raw))

    async def _sentences(self, cut: int) -> None:
        text, _ = ground(self.grounder, plain_text(self.raw[self.done : cut]))
        self.done = cut
        if text:
            await self.sink(text)


def outcome(issues: list[dict[str, Any]]) -> str:
    """`passed` only when nothing was found; `flagged` when something was flagged or
    dropped; `corrected` when every issue was corrected or its sentence replaced."""
    if any(i["status"] in ("flagged", "dropped") for i in issues):
        return "flagged"
    return "corrected" if issues else "passed"
