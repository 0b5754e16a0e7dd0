"""Answers grounded in sources: every cited id retrieved, every figure held, sentence by sentence.

The support chat answers from the knowledge-base articles retrieved for the question, Tai
from the tracker's bugs, features and sprints, the seed recommendation from its scores. Each
hands this check its `Grounds`: the sources retrieved for this answer (an id, a title, a
text), the facts computed for it (`{"key", "label", "value", "unit"}`, optionally `entity`:
the source id the fact is about, and `terms`: extra words that name it) and the grounded
sentences (the offline provider's: `{"text", "facts": [keys], "sources": [ids]}`) that may
replace a failing one. The answer is read sentence by sentence (`grounding.sentences`; a
sentence made only of citations belongs to the one before it):

- Citations: every 24-hex id (bare or as `[id]`) must be one of the sources' ids; an id that
  was not retrieved fails the sentence. Ids, quoted titles and ISO dates are masked before
  figures are read (an id's digits are not figures).
- Figures (digits, with decimals, thousands separators and `%`): each must be held by the
  facts or by the sources the sentence cites. Held by a source: the figure is among the
  numbers of a cited source's title or text ("the article says 30 days" needs a 30 in that
  article; a sentence citing nothing may use any retrieved source's). Held by a fact: the
  figure is bound to the facts its words name, not to any fact of the same value. Words are
  read in the figure's clause (split at `,` `;` `:` brackets and "and" / "but" / "while"),
  else the sentence: the facts whose label words (or `terms`) the clause holds most, then
  the sentence misses least, then the clause misses least ("3 open critical bugs" names
  "Critical open bugs", "12 open bugs (3 critical)" names "Open bugs" for 12); the
  whole of "A of B" (`3 of 8 items done`) may be any fact its clause
  names. A fact about a source (`entity`) is named only when the sentence (or the one
  before) names that source by id or quoted title. The figure must state the fact at its
  written precision (percent figures only percent or ratio facts).
- Citation required (`Grounds.require_citation`, the support chat): an answer that cites no
  retrieved source at all gets an issue of its own.

A failing sentence is never edited in place: it is replaced by the grounded sentence that
shares most of its sources and named facts (if not already said), or dropped, and listed with
its reasons, as the insights' grounded check does (`agents.grounding`); `validation.outcome`
says `passed` only when nothing failed. `SourceGuard` checks a streamed answer the same way,
releasing each sentence once it is complete and checked.

Known limits: numbers written in words are not read; a figure glued to letters ("v2") is a
name, not a figure.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from agents.facts import Fact, dec, quantize
from agents.grounding import release, sentences

TAG_OPENER = re.compile(r"<(?=[A-Za-z/!?])")


def plain_text(text: str) -> str:
    """`text` with its markup neutralised: every `<` that would open a tag becomes U+2039
    (`agents.validation` re-exports it; it lives here so both modules share it)."""
    if "<" not in text:
        return text
    return TAG_OPENER.sub("\u2039", text)


OBJECT_ID = re.compile(r"\[?\b([0-9a-f]{24})\b\]?")
QUOTED = re.compile(r"\"[^\"\n]*\"|\u201c[^\u201d\n]*\u201d")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?\b")
LIST_MARKER = re.compile(r"^(\s*)\d+[.)](?=\s)", re.MULTILINE)
FIGURE = re.compile(
    r"(?<![\w.,])(?<!\w[-\u2212/])(?P<sign>[-\u2212])?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?![\w])(?P<pct>\s?%|\s+percent\b|\s+per\s+cent\b)?"
)
CLAUSE = re.compile(r"[,;:()\[\]]|\b(?:and|but|while|whereas)\b")
WHOLE_OF = re.compile(r"\d\s+of\s+(?:its\s+|the\s+|all\s+)?$")
WORD = re.compile(r"[a-z]+")
_STOP_WORDS = "a an the of in on at for to by with and or is are was were be its it this that"
STOP = frozenset(_STOP_WORDS.split(" "))
SENTENCE_DONE = re.compile(r"[.!?](?=\s)")
CITES_NONE = "the answer cites none of the sources retrieved for it"
EMPTY = "the answer is empty"


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def terms_of(text: str) -> frozenset[str]:
    """The content words of a label or a clause, crudely singular ("bugs" is "bug")."""
    return frozenset(_stem(w) for w in WORD.findall(text.lower()) if w not in STOP)


@dataclass(frozen=True)
class Source:
    """One retrieved source: a help article, a bug, a feature, a sprint."""

    id: str
    title: str = ""
    text: str = ""
    kind: str = "source"

    def figures(self) -> frozenset[Decimal]:
        return frozenset(
            Decimal(m.group("num").replace(",", ""))
            for m in FIGURE.finditer(_masked(f"{self.title} {self.text}"))
        )


@dataclass(frozen=True)
class Grounds:
    """What an answer may rest on (see the module's docstring)."""

    sources: tuple[Source, ...] = ()
    facts: tuple[Fact, ...] = ()
    replacements: tuple[dict[str, Any], ...] = ()
    require_citation: bool = False


@dataclass(slots=True)
class _Fact:
    fact: Fact
    terms: frozenset[str]
    value: Decimal
    unit: str
    entity: str | None


def _masked(text: str) -> str:
    """Ids, quoted titles, ISO dates and list markers blanked out, positions unchanged."""
    blank = lambda m: " " * len(m.group(0))  # noqa: E731
    text = OBJECT_ID.sub(blank, text)
    text = QUOTED.sub(blank, text)
    text = ISO_DATE.sub(blank, text)
    return LIST_MARKER.sub(lambda m: m.group(1) + " " * (len(m.group(0)) - len(m.group(1))), text)


@dataclass
class Checker:
    """Checks an answer sentence by sentence, keeping what a later sentence depends on (the
    sources the previous one named, the sentences already said), so a stream checks as the
    whole text."""

    grounds: Grounds
    said: set[str] = field(default_factory=set)
    emitted: bool = False
    cited: list[str] = field(default_factory=list)
    last_named: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.by_id = {s.id: s for s in self.grounds.sources}
        self.held = {s.id: s.figures() for s in self.grounds.sources}
        self.titles = {s.title.lower(): s.id for s in self.grounds.sources if s.title}
        self.facts = [
            _Fact(
                f,
                terms_of(str(f["label"])) | terms_of(" ".join(f.get("terms", ()))),
                dec(f["value"]),
                str(f["unit"]),
                f.get("entity"),
            )
            for f in self.grounds.facts
        ]

    # --- one sentence ------------------------------------------------------------------------

    def sentence(self, raw: str) -> tuple[list[str], list[str], set[str]]:
        """The reasons `raw` fails, the retrieved ids it cites and the sources it names."""
        problems: list[str] = []
        cited: list[str] = []
        for m in OBJECT_ID.finditer(raw):
            ident = m.group(1)
            if ident in self.by_id:
                cited.append(ident)
            else:
                problems.append(f"cites {ident}, which is not a source retrieved for this answer")
        named = set(cited)
        for q in QUOTED.finditer(raw):
            ident = self.titles.get(q.group(0)[1:-1].strip().lower())
            if ident:
                named.add(ident)
        text = _masked(raw)
        entities = named | self.last_named
        for m in FIGURE.finditer(text):
            reason = self._figure(m, text, cited, entities)
            if reason:
                problems.append(reason)
        self.last_named = named
        return problems, list(dict.fromkeys(cited)), named

    def _figure(
        self, m: re.Match[str], text: str, cited: list[str], entities: set[str]
    ) -> str | None:
        raw = m.group(0).strip()
        try:
            value = Decimal(m.group("num").replace(",", ""))
        except InvalidOperation:
            return f"{raw} is not a number"
        percent = bool(m.group("pct"))
        places = len(m.group("num").partition(".")[2])
        signed = bool(m.group("sign"))
        if signed:
            value = -value
        # Held by a source the sentence cites (or any retrieved one, when it cites none).
        holders = cited or ([] if self.facts else list(self.by_id))
        if any(abs(value) in self.held[i] for i in holders):
            return None
        if not self.facts:
            where = "the cited articles" if cited else "the retrieved sources"
            return f"{raw} is not a figure of {where}"
        named = self._named(m, text, percent, entities)
        if not named:
            return f"{raw} names no fact"
        if any(_states(value, places, percent, signed, d) for d in named):
            return None
        d = named[0]
        return f"{raw} is not {d.fact['label']} ({d.fact['value']})"

    def _named(self, m: re.Match[str], text: str, percent: bool, entities: set[str]) -> list[_Fact]:
        """The facts the words around the figure name, best first (see the docstring)."""
        fitting = [
            d
            for d in self.facts
            if d.unit in (("percent", "ratio") if percent else ("count", "money", "ratio"))
            and (not d.entity or d.entity in entities)
        ]
        breaks = [b.start() for b in CLAUSE.finditer(text)]
        lo = max((b + 1 for b in breaks if b < m.start()), default=0)
        hi = min((b for b in breaks if b >= m.end()), default=len(text))
        whole_of = bool(WHOLE_OF.search(text[: m.start()]))
        clause, sentence = terms_of(text[lo:hi]), terms_of(text)
        scored = [
            (len(d.terms & clause), len(d.terms - sentence), len(d.terms - clause), d)
            for d in fitting
        ]
        named = [s for s in scored if s[0]] or [s for s in scored if len(s[3].terms) > s[1]]
        if not named:
            return []
        if whole_of:  # the whole of "A of B": any fact its words name
            return [s[3] for s in named]
        best = min((-s[0], s[1], s[2]) for s in named)
        return [s[3] for s in named if (-s[0], s[1], s[2]) == best]
        return []

    # --- replacing ---------------------------------------------------------------------------

    def verdict(self, body: str) -> tuple[list[str], tuple[list[str], set[str]]]:
        problems, cited, named = self.sentence(body)
        return problems, (cited, named)

    def instead(self, body: str, read: tuple[list[str], set[str]]) -> str | None:
        return self.replacement(body, *read)

    def accept(self, body: str, read: tuple[list[str], set[str]] | None) -> None:
        """Said: its citations (a replacement's own) count as cited."""
        cited = read[0] if read is not None else [m.group(1) for m in OBJECT_ID.finditer(body)]
        self.said.add(body)
        self.cited += [c for c in cited if c in self.by_id]

    def replacement(self, raw: str, cited: list[str], named: set[str]) -> str | None:
        """The grounded sentence sharing most of this one's sources and named facts, else
        most of its words, if not yet said."""
        words = terms_of(_masked(raw))
        keys = {str(d.fact["key"]) for d in self.facts if d.terms & words}
        best, score = None, (0, 0)
        for item in self.grounds.replacements:
            s = (
                2 * len(named & set(item.get("sources", ()))) + len(keys & set(item["facts"])),
                len(words & terms_of(_masked(item["text"]))),
            )
            if s > score and item["text"] not in self.said:
                best, score = item, s
        return None if best is None else str(best["text"])


def _states(value: Decimal, places: int, percent: bool, signed: bool, d: _Fact) -> bool:
    target = d.value * 100 if percent and d.unit == "ratio" else d.value
    try:
        rounded = quantize(target, places)
    except InvalidOperation:
        return False
    return rounded == value or (not signed and abs(rounded) == value)


def _parts(text: str) -> list[str]:
    """The sentences of `text`, a sentence of citations only joined to the one before."""
    out: list[str] = []
    for part in sentences(text):
        if out and part.strip() and not OBJECT_ID.sub("", part).strip(" \t\n.,;"):
            out[-1] += part
        else:
            out.append(part)
    return out


def ground(checker: Checker, text: str) -> tuple[str, list[dict[str, Any]]]:
    """Check the sentences of `text` (continuing `checker`'s state): the text to pass on and
    an issue per replaced or dropped sentence."""
    return release(checker, _parts(text))


def finish(checker: Checker, text: str) -> list[dict[str, Any]]:
    """The issues of the whole answer once checked: empty, or citing nothing when it must."""
    if not text.strip():
        return [{"status": "flagged", "reason": EMPTY}]
    if checker.grounds.require_citation and not checker.cited:
        return [{"status": "flagged", "reason": CITES_NONE}]
    return []


def check_answer(text: str, grounds: Grounds) -> tuple[str, list[dict[str, Any]], list[str]]:
    """The checked answer (markup neutralised), its issues and the retrieved ids it cites."""
    checker = Checker(grounds)
    checked, issues = ground(checker, plain_text(text))
    issues += finish(checker, checked)
    return checked, issues, list(dict.fromkeys(checker.cited))


class SourceGuard:
    """Passes a streamed answer on a sentence at a time, each once checked; all pieces joined
    are exactly what `check_answer` answers for the whole text."""

    def __init__(self, grounds: Grounds, sink: Callable[[str], Awaitable[None]]):
        self.checker = Checker(grounds)
        self.sink = sink
        self.raw = ""
        self.done = 0
        self.parts: list[str] = []
        self.issues: list[dict[str, Any]] = []

    async def feed(self, token: str) -> None:
        self.raw += token
        ends = [m.end() for m in SENTENCE_DONE.finditer(self.raw, self.done)]
        # The last complete sentence may still gain its citation ("... 30 days. [id]").
        ends = [e for e in ends if OBJECT_ID.sub("", self.raw[e:]).strip(" \t\n.,;")]
        if ends:
            await self._release(ends[-1])

    async def close(self) -> tuple[str, list[dict[str, Any]], list[str]]:
        await self._release(len(self.raw))
        text = "".join(self.parts)
        self.issues += finish(self.checker, text)
        return text, self.issues, list(dict.fromkeys(self.checker.cited))

    async def _release(self, cut: int) -> None:
        text, issues = ground(self.checker, plain_text(self.raw[self.done : cut]))
        self.done = cut
        self.issues += issues
        if text:
            self.parts.append(text)
            await self.sink(text)
