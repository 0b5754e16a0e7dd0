"""The validation step: every figure in a narrative must be a computed fact.

Each number the text states is read (thousands separators, decimals, `%`, `k`/`million`
scales) and compared with the facts at the precision it was written: `1,235 USD` states
1234.50 truly (rounded half-up), `1,234 USD` does not. Percentages may also state a ratio
fact times 100. A figure may be written without its sign ("a decrease of 200" for a change
of -200).

A figure that matches no fact is never passed on: when the words just before it name
exactly one fact of its kind (the longest label found closest to the number wins), the
number is replaced by that fact's value (`corrected`); otherwise it is replaced by
`[unverified figure]` (`flagged`). Dates, the years of the analysed periods and the day
counts that name ageing buckets are not figures.

Plain text out: markup in a model's text is neutralised before anything is checked or
passed on (`plain_text`): every `<` that would open a tag, a comment or a declaration
becomes U+2039 (a single angle quote), so `<script>` reads as text wherever it is shown, even
by a client that renders the narrative as HTML, and nothing of what the model said is lost.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from agents.facts import DAY_WORDS, Fact, dec, format_number, quantize
from agents.grounding import Grounder, Scope, ground, scope_of

__all__ = ["FLAG", "Edit", "Scope", "StreamGuard", "apply", "check", "outcome", "plain_text"]
__all__ += ["scope_of", "validate"]
EMPTY = "the narrative is empty"

FLAG = "[unverified figure]"
WINDOW = 80
NUMBER = re.compile(
    r"(?<![\w.,\-\u2212])(?P<sign>[-\u2212+])?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<scale>(?:[kK]|bn|BN|[mM])\b|\s+(?:thousand|million|billion)\b)?"
    r"(?P<pct>\s?%|\s+percent\b|\s+per\s+cent\b)?"
)
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:T[\d:.]+Z?)?\b")
LIST_MARKER = re.compile(r"^(\s*)\d+[.)](?=\s)", re.MULTILINE)
DAYS_AFTER = re.compile(r"\s*(?:(?:-|\u2013|to)\s*\d+\s*)?\+?\s*days?\b")
SCALES = {
    "k": Decimal(1000),
    "thousand": Decimal(1000),
    "m": Decimal(10**6),
    "million": Decimal(10**6),
    "bn": Decimal(10**9),
    "billion": Decimal(10**9),
}
SENTENCE_END = re.compile(r"[.!?;:]\s")
WORD = re.compile(r"\S+")
SENTENCE_DONE = re.compile(r"[.!?](?=\s)")
TAG_OPENER = re.compile(r"<(?=[A-Za-z/!?])")


def plain_text(text: str) -> str:
    """`text` with its markup neutralised (see the module's docstring)."""
    if "<" not in text:
        return text
    return TAG_OPENER.sub("\u2039", text)


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group(0))


def _masked(text: str) -> str:
    """The text with dates and list markers blanked out, positions unchanged."""
    text = DATE.sub(_blank, text)
    return LIST_MARKER.sub(lambda m: m.group(1) + " " * (len(m.group(0)) - len(m.group(1))), text)


class _Figure:
    def __init__(self, match: re.Match[str]):
        self.match = match
        self.raw = match.group(0)
        self.sign = match.group("sign") or ""
        self.digits = match.group("num").replace(",", "")
        self.places = len(self.digits.partition(".")[2])
        scale = (match.group("scale") or "").strip().lower()
        self.scale = SCALES.get(scale, Decimal(1))
        self.percent = bool(match.group("pct"))
        self.value = Decimal(self.digits)
        if self.sign in ("-", "\u2212"):
            self.value = -self.value

    def states(self, fact_value: Decimal) -> bool:
        """Whether this figure, as written, is `fact_value` rounded to its precision."""
        try:
            signed = quantize(fact_value / self.scale, self.places)
            if signed == self.value:
                return True
            return (
                not self.sign and quantize(abs(fact_value) / self.scale, self.places) == self.value
            )
        except InvalidOperation:
            return False


def _candidates(facts: list[Fact], percent: bool) -> list[tuple[Fact, Decimal]]:
    out = []
    for fact in facts:
        value = dec(fact["value"])
        if percent and fact["unit"] == "percent":
            out.append((fact, value))
        elif percent and fact["unit"] == "ratio":
            out.append((fact, value * 100))
        elif not percent and fact["unit"] in ("money", "count", "ratio"):
            out.append((fact, value))
    return out


def _named(text: str, start: int, candidates: list[tuple[Fact, Decimal]]) -> list[Fact]:
    """The facts whose label the words before position `start` name, best first."""
    window_start = max(0, start - WINDOW)
    window = text[window_start:start]
    ends = list(SENTENCE_END.finditer(window))
    if ends:
        window = window[ends[-1].end() :]
    window = window.lower()
    found: list[tuple[int, int, Fact]] = []
    for fact, _ in candidates:
        label = fact["label"].lower()
        at = window.rfind(label)
        if at >= 0:
            found.append((at + len(label), len(label), fact))
    if not found:
        return []
    best_end = max(f[0] for f in found)
    closest = [f for f in found if f[0] == best_end]
    longest = max(f[1] for f in closest)
    return [f[2] for f in closest if f[1] == longest]


def _replacement(figure: _Figure, fact: Fact, places: int) -> str:
    unit = fact["unit"]
    if figure.percent:
        value = dec(fact["value"]) * (100 if unit == "ratio" else 1)
        return f"{format_number(value, 1)}%"
    digits = {"money": places, "ratio": 2, "count": 0}[unit]
    return format_number(fact["value"], digits)


@dataclass
class Edit:
    """A figure that is not a fact: where it stands in the text and what replaces it."""

    start: int
    end: int
    replacement: str
    issue: dict[str, Any]


def check(text: str, facts: list[Fact], places: int, years: set[int] | None = None) -> list[Edit]:
    """Every figure of `text` that no fact states, with its correction or flag."""
    years = years or set()
    masked = _masked(text)
    edits: list[Edit] = []
    for match in NUMBER.finditer(masked):
        figure = _Figure(match)
        after = masked[match.end() :]
        if not figure.percent and figure.scale == 1 and figure.places == 0:
            whole = int(figure.value)
            if DAYS_AFTER.match(after) and abs(whole) in DAY_WORDS:
                continue
            if whole in years and "," not in figure.raw:
                continue
        candidates = _candidates(facts, figure.percent)
        if any(figure.states(value) for _, value in candidates):
            continue
        context = text[max(0, match.start() - 40) : match.end() + 20].strip()
        named = _named(masked, match.start(), candidates)
        issue: dict[str, Any] = {"figure": figure.raw.strip(), "context": context}
        if len(named) == 1:
            fact = named[0]
            replacement = _replacement(figure, fact, places)
            issue.update(status="corrected", fact=fact["key"], replacement=replacement)
        else:
            replacement = FLAG
            issue.update(
                status="flagged",
                reason="matches no computed fact" + ("; the phrase names several" if named else ""),
            )
        edits.append(Edit(match.start(), match.end(), replacement, issue))
    return edits


def apply(text: str, edits: list[Edit]) -> str:
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: edit.start] + edit.replacement + text[edit.end :]
    return text


def validate(
    text: str,
    facts: list[Fact],
    places: int,
    years: set[int] | None = None,
    *,
    scope: Scope | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Check every figure of `text` against `facts`; answer the text to pass on and the
    issues found. With a `scope` (the report's periods and findings) the check is grounded
    (`agents.grounding`: each figure bound to the fact its sentence names, a failing
    sentence replaced or dropped, an empty text an issue); without one, per figure (a wrong
    figure corrected to the fact its phrase names, or flagged)."""
    text = plain_text(text)
    if scope is not None:
        return grounded(text, facts, places, scope)
    edits = check(text, facts, places, years)
    return apply(text, edits), [edit.issue for edit in edits]


def grounded(
    text: str, facts: list[Fact], places: int, scope: Scope
) -> tuple[str, list[dict[str, Any]]]:
    if not text.strip():
        return "", [{"status": "flagged", "reason": EMPTY}]
    return ground(Grounder(facts, places, scope), text)


class StreamGuard:
    """Passes a streamed narrative on as it arrives, each figure only once it is checked.

    The last `HOLD` words stay back, since what follows a figure decides how it reads (a
    scale, a percent sign, "days"); what is released is the validated text, so a wrong
    figure never reaches a listener either, and all released pieces joined are exactly what
    `validate` answers for the whole narrative.
    """

    HOLD = 4

    def __init__(
        self,
        facts: list[Fact],
        places: int,
        years: set[int] | None,
        sink: Callable[[str], Awaitable[None]],
        *,
        scope: Scope | None = None,
    ):
        self.facts, self.places, self.years, self.sink = facts, places, years, sink
        self.raw = ""
        self.sent = 0
        # Grounded: whole sentences are released, each once checked (see `validate`).
        self.grounder = Grounder(facts, places, scope) if scope is not None else None
        self.done = 0

    async def feed(self, token: str) -> None:
        self.raw += token
        if self.grounder is not None:
            ends = [m.end() for m in SENTENCE_DONE.finditer(self.raw, self.done)]
            if ends:
                await self._sentences(ends[-1])
            return
        starts = [m.start() for m in WORD.finditer(self.raw)]
        if len(starts) > self.HOLD:
            await self._release(starts[-self.HOLD])

    async def close(self) -> None:
        if self.grounder is not None:
            await self._sentences(len(self.raw))
            return
        await self._release(len(self.raw))

    async def _sentences(self, cut: int) -> None:
        assert self.grounder is not None
        text, _ = ground(self.grounder, plain_text(self.raw[self.done : cut]))
        self.done = cut
        if text:
            await self.sink(text)

    async def _release(self, cut: int) -> None:
        raw = plain_text(self.raw)  # the same length: positions stay where they were
        edits = check(raw, self.facts, self.places, self.years)
        for edit in edits:
            if edit.start < cut < edit.end:
                cut = edit.start
        text = apply(raw[:cut], [e for e in edits if e.end <= cut])
        if len(text) > self.sent:
            piece, self.sent = text[self.sent :], len(text)
            await self.sink(piece)


def outcome(issues: list[dict[str, Any]]) -> str:
    """`passed` only when nothing was found; `flagged` when something was flagged or
    dropped; `corrected` when every issue was corrected or its sentence replaced."""
    if any(i["status"] in ("flagged", "dropped") for i in issues):
        return "flagged"
    return "corrected" if issues else "passed"
