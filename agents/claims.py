"""Structured narratives: every sentence bound to the facts it cites, every figure rendered
by the server.

Where the endpoint supports structured output (`NUMBORS_AI_STRUCTURED_OUTPUT`), the narrating
step asks for JSON (`response_format`, a strict JSON schema):

    {"sentences": [{"text": "Revenue was {total_income} in January.",
                    "facts": ["total_income"]}]}

Each sentence's text holds placeholders (`{key}`, or `{key:abs}` for the figure without its
sign) instead of figures, and `facts` lists the fact keys it cites (the schema's enum: the
facts of this analysis). The server renders every placeholder from its fact exactly as the
offline provider writes it (`1,650.00 USD`, `56.9%`), so the model never types a number.
A sentence fails (`grounding.Grounder.claim`) when it cites or places a key that is no fact,
types a figure (or a date outside the report's periods) itself, or its words name another
fact or disagree with the placed one (comparison, change, direction, sign). A failing
sentence is replaced by the grounded sentence (the finding) that shares most of its cited
facts, or dropped when there is none or it is already said, and listed with its reasons,
as on the prose path; the status is `passed` only when every sentence and fact checks.

The answer streams: `ClaimStream` reads the JSON as it arrives and releases each sentence,
checked and rendered, as soon as its object is complete. An answer that is not that JSON
(malformed, no sentences, a sentence without its text) is a model failure
(`ModelUnavailable`: retried, then the offline narrative).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from agents.facts import Fact
from agents.grounding import Grounder, Scope
from agents.models import ModelUnavailable
from agents.validation import plain_text

SCHEMA_NAME = "grounded_narrative"


def response_format(facts: list[Fact]) -> dict[str, Any]:
    """The OpenAI `response_format` asking for sentences that cite these facts' keys."""
    keys = [str(f["key"]) for f in facts]
    sentence = {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "facts": {"type": "array", "items": {"type": "string", "enum": keys}},
        },
        "required": ["text", "facts"],
        "additionalProperties": False,
    }
    schema = {
        "type": "object",
        "properties": {"sentences": {"type": "array", "items": sentence}},
        "required": ["sentences"],
        "additionalProperties": False,
    }
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema},
    }


def _sentence(item: Any) -> tuple[str, list[str]]:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise ModelUnavailable("the model's structured answer has a sentence without its text")
    cited = item.get("facts", [])
    if not isinstance(cited, list) or not all(isinstance(k, str) for k in cited):
        raise ModelUnavailable("the model's structured answer cites facts that are not keys")
    return item["text"], cited


def sentences_of(text: str) -> list[Any]:
    """The sentence objects of a whole structured answer (a model failure if it is none)."""
    try:
        answer = json.loads(text)
    except ValueError as error:
        raise ModelUnavailable(f"the model answered malformed JSON ({error})") from error
    items = answer.get("sentences") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise ModelUnavailable("the model's structured answer has no list of sentences")
    if not items:
        raise ModelUnavailable("the model's structured answer has no sentences")
    return items


class ClaimStream:
    """Checks and renders a structured answer as it streams (see the module's docstring).

    `feed` takes the raw JSON text as the model sends it; each sentence object, once its
    closing brace arrives, is checked and its rendered text (or replacement) passed to
    `sink`. `close` reads the whole answer (a model failure if it is not the schema's JSON),
    checks any sentence the scan did not release, and answers the narrative and its issues:
    all released pieces joined are exactly that narrative.
    """

    def __init__(
        self,
        facts: list[Fact],
        currency: str,
        places: int,
        scope: Scope,
        sink: Callable[[str], Awaitable[None]] | None = None,
    ):
        self.grounder = Grounder(facts, places, scope)
        self.currency, self.sink = currency, sink
        self.raw = ""
        self.scanned = 0
        self.depth = 0
        self.in_string = False
        self.escaped = False
        self.opened: int | None = None
        self.checked = 0
        self.parts: list[str] = []
        self.issues: list[dict[str, Any]] = []

    async def feed(self, token: str) -> None:
        self.raw += token
        for at in range(self.scanned, len(self.raw)):
            char = self.raw[at]
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif char == "\\":
                    self.escaped = True
                elif char == '"':
                    self.in_string = False
            elif char == '"':
                self.in_string = True
            elif char in "{[":
                self.depth += 1
                if self.depth == 3 and char == "{":
                    self.opened = at  # a sentence object inside {"sentences": [...]}
            elif char in "}]":
                if self.depth == 3 and char == "}" and self.opened is not None:
                    await self._object(self.raw[self.opened : at + 1])
                    self.opened = None
                self.depth -= 1
        self.scanned = len(self.raw)

    async def _object(self, text: str) -> None:
        try:
            item = json.loads(text)
        except ValueError:
            return  # `close` reads the whole answer and calls it malformed
        await self._check(item)

    async def _check(self, item: Any) -> None:
        text, cited = _sentence(item)
        self.checked += 1
        text = plain_text(text).strip()
        rendered, problems = self.grounder.claim(text, cited, self.currency)
        if problems:
            new = self.grounder.replacement_for(cited)
            issue: dict[str, Any] = {
                "status": "replaced" if new else "dropped",
                "sentence": text,
                "facts": cited,
                "reasons": problems,
            }
            if new:
                issue["replacement"] = new
            self.issues.append(issue)
            if not new:
                return
            rendered = new
        if not rendered:
            return
        self.grounder.said.add(rendered)
        piece = (" " if self.parts else "") + rendered
        self.parts.append(piece)
        if self.sink is not None:
            await self.sink(piece)

    async def close(self) -> tuple[str, list[dict[str, Any]]]:
        items = sentences_of(self.raw)
        for item in items[self.checked :]:
            await self._check(item)
        return "".join(self.parts), self.issues
