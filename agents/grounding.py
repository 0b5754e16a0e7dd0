"""Grounded checking: every figure of a narrative bound to the fact its sentence names.

The per-figure check it replaced asked only whether a number equals some fact; this one
asks whether it is the value of the fact its words name. A narrative is read sentence by
sentence (a sentence ends at `.`, `!` or `?` before a space, or at the end):

- Mentions: the labels and synonyms of the facts' concepts (income / revenue / sales,
  expenses / costs / spending, net profit / profit / net income / loss / result, margin,
  overdue / past due / late, receivables / owed to us, payables / we owe, ...) and the names
  the facts carry (`entity`: an account, contact or item). A fact answers to the concepts its
  own label mentions, so new facts need no table. Names are masked first: "Studio 54" is a
  name, not a figure.
- Figures: digits (thousands separators, decimals, `%`, `k` / `m` / `bn` / "thousand"),
  also when glued to letters, a currency code or markup (`USD1,200`, `1,200USD`), each end of
  a range (`1,000-2,000`, "between 1,000 and 2,000"), and numbers in words ("twelve hundred";
  a lone small number word counts only before a noun it counts: "two customers").
- Binding: a figure belongs to the nearest mention before it in its sentence (else the first
  one after it; a count to the noun after it; a sentence naming nothing continues the
  previous one). It passes only when one fact of that mention states it, and that fact's kind
  agrees with the words: a comparison fact (`previous_*`) needs comparison words ("previous",
  "prior", "last period", "compared", "against"...), a change fact (`*_change*`) change
  words, and direction words between the mention and the figure (rose / up / fell / down...)
  and "loss" / "profit" must agree with the fact's sign.
- Precision: an exact figure is the fact rounded to its written decimals (`1,235` states
  1,234.50); an approximation ("about", "roughly", a `k` scale, a number in words) is the fact
  rounded to its written significant digits: "about 1k" states 1,000 to 1,499 but not 600.
- Dates (ISO, "5 January 2025", "January 2025", "January 5, 2025") must lie in (or, a month,
  overlap) one of the report's periods; a bare year must be one of their years. Day counts
  naming ageing buckets ("31 to 60 days", "ninety days") are not figures.
- Claims of nothing ("nothing is overdue", "no expenses") fail when that concept's fact is
  not zero.

A failing sentence is never passed on and never edited in place: it is replaced by the
grounded sentence for its facts (the finding, written from templates, whose facts its
mentions name most), or dropped when there is none or that finding is already said; each is
listed with its reasons. An empty narrative is an issue of its own.

Structured claims (`Grounder.claim`, used by `agents.claims`): a sentence whose figures are
placeholders of the fact keys it cites is checked against those facts themselves: no
binding by proximity decides which fact a figure is, only whether the words around it name
that fact and agree with it (the same label, kind, direction and sign checks), and any
figure the model typed itself fails.

Known limits (a parser, not the structured path): figures listed after two labels ("income
and expenses were 2,900 and 1,250") bind to the nearer label and fail; a share stated "of
revenue" binds to revenue, not the margin; a name the facts do not carry ("Initech") is not
itself an error, only the figure it is given is checked.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Protocol

from agents.facts import DAY_WORDS, dec, quantize, render

Fact = dict[str, Any]

CONCEPTS: dict[str, tuple[str, ...]] = {
    "income": ("income", "incomes", "revenue", "revenues", "sales", "turnover", "takings"),
    "expenses": (
        "expenses",
        "expense",
        "costs",
        "cost",
        "spending",
        "spend",
        "spent",
        "expenditure",
        "outgoings",
    ),
    "profit": (
        "net profit",
        "profit",
        "profits",
        "net income",
        "net loss",
        "loss",
        "losses",
        "result",
        "bottom line",
        "earnings",
    ),
    "margin": ("net margin", "margin", "profit margin"),
    "assets": ("assets", "asset"),
    "liabilities": ("liabilities", "liability", "debts"),
    "equity": ("equity", "net worth"),
    "leverage": ("debt to equity", "debt-to-equity", "leverage", "gearing"),
    "cash": ("cash", "opening cash", "closing cash", "cash balance", "bank balance"),
    "opening": ("opening cash", "opening balance", "opening"),
    "closing": ("closing cash", "closing balance", "closing"),
    "net_change": ("net change", "net change in cash", "net cash flow", "net cash movement"),
    "inflows": ("inflows", "inflow", "cash in", "money in", "receipts"),
    "outflows": ("outflows", "outflow", "cash out", "money out"),
    "open": ("open", "outstanding", "owed", "owes", "owe", "owing", "owed to us", "we owe"),
    "receivables": ("receivables", "receivable", "owed to us", "debtors"),
    "payables": ("payables", "payable", "we owe", "creditors"),
    "overdue": ("overdue", "past due", "late", "in arrears"),
    "customers": ("customers", "customer", "clients", "client"),
    "suppliers": ("suppliers", "supplier", "vendors", "vendor"),
}
# Each phrase of a concept, with every concept it names.
CONCEPT_PHRASES: dict[str, tuple[frozenset[str], str | None]] = {
    word: (frozenset(c for c, words in CONCEPTS.items() if word in words), None)
    for words in CONCEPTS.values()
    for word in words
}
LOSS = re.compile(r"\b(?:loss|losses|deficit|negative|in the red)\b")
PROFIT_WORD = re.compile(r"\b(?:profit|profits|net income|earnings|in the black)\b")
UP = re.compile(
    r"\b(?:rose|rise|rises|risen|rising|increase|increased|increases|grew|grow|grown|growth|"
    r"up|higher|climbed|gained|jumped|more)\b"
)
DOWN = re.compile(
    r"\b(?:fell|fall|falls|fallen|falling|decrease|decreased|decreases|declined|decline|"
    r"dropped|drop|down|lower|shrank|shrunk|less|reduced)\b"
)
CHANGE_WORDS = re.compile(
    r"\b(?:change|changed|changes|by|difference|moved|swing)\b|" + UP.pattern + "|" + DOWN.pattern
)
COMPARISON = re.compile(
    r"\b(?:previous|previously|prior|last (?:period|month|quarter|year)|compared|comparison|"
    r"against|versus|vs|before|earlier|preceding|from)\b"
)
APPROX = re.compile(
    r"(?:\b(?:about|around|roughly|approximately|nearly|almost|circa|some|close to|"
    r"just over|just under|an estimated)|~)\s*$"
)
NEGATION = re.compile(r"\b(?:no|nothing|none|zero|nil)\b")
# Words that tell facts of one concept apart: "opening cash" is not the closing one.
QUALIFIERS = frozenset({"opening", "closing"})
MONTH_ALONE = re.compile(rf"\b(?P<month>{'|'.join(calendar.month_name[1:])})\b")
PLACEHOLDER = re.compile(r"\{(?P<key>[A-Za-z0-9_.-]+)(?P<abs>:abs)?\}")
SENTENCE = re.compile(r"[.!?](?=\s)")
CLAUSE = re.compile(r"[;:,](?=\s)|\s(?:while|whereas|but)\s")
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:T[\d:.]+Z?)?\b")
MONTHS = {name: i for i, name in enumerate(calendar.month_name) if name}
MONTHS |= {name: i for i, name in enumerate(calendar.month_abbr) if name}
MONTHS["Sept"] = 9
# Every month's name and abbreviation starts with one of these at a word boundary.
MONTH_START = re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)")
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
WORD_DATE = re.compile(
    rf"\b(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?)?(?P<month>{_MONTH})\b\.?"
    rf"(?:\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\b,?)?(?:\s+(?P<year>\d{{4}})\b)?"
)
# The leading lookahead only fails fast where no figure can start (about twice as fast).
NUMBER = re.compile(
    r"(?=[-\u2212+\d])(?:(?<![\w.,])(?P<sign>[-\u2212+]))?(?<![\d.,])"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<scale>(?:k|K|bn|BN|m|M)(?![A-Za-z])|\s*(?:thousand|million|billion)\b)?"
    r"(?P<pct>\s?%|\s*percent\b|\s*per\s+cent\b)?"
)
SCALES = {"k": 1000, "thousand": 1000, "m": 10**6, "million": 10**6, "bn": 10**9}
SCALES["billion"] = 10**9
DAYS_AFTER = re.compile(r"\s*(?:(?:-|\u2013|to|and)\s*\w+\s*)?\+?\s*days?\b")
LIST_MARKER = re.compile(r"^(\s*)\d+[.)](?=\s)", re.MULTILINE)
_UNIT_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
UNITS = {w: i for i, w in enumerate(_UNIT_WORDS.split())}
_TEN_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety"
TENS = {w: 10 * i for i, w in enumerate(_TEN_WORDS.split(), start=2)}
BIG = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_NUMWORD = "|".join(sorted([*UNITS, *TENS, *BIG], key=len, reverse=True))
WORD_NUMBER = re.compile(
    rf"\b(?:{_NUMWORD})(?:(?:\s+and\s+|[\s-]+)(?:{_NUMWORD}))*\b"
    r"(?P<pct>\s*(?:percent|per cent|%))?",
    re.IGNORECASE,
)
NUMBER_WORDS = frozenset([*UNITS, *TENS, *BIG])
WORDS = re.compile(r"[a-z]+")
SMALL_WORDS = frozenset(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
)


@dataclass(frozen=True)
class Scope:
    """What a grounded check needs beyond the facts: the report's periods (start, end as ISO
    dates; a report at a date has start = end) and the findings that replace a failing
    sentence."""

    periods: tuple[tuple[str, str], ...] = ()
    findings: tuple[dict[str, Any], ...] = ()

    @property
    def years(self) -> set[int]:
        return {int(d[:4]) for p in self.periods for d in p}


def scope_of(request: dict[str, Any], findings: list[dict[str, Any]]) -> Scope:
    """The periods of an analysis request (current and comparison)."""
    periods = []
    for start, end in (("from", "to"), ("compare_from", "compare_to")):
        if request.get(end):
            periods.append((str(request.get(start) or request[end]), str(request[end])))
    return Scope(tuple(periods), tuple(findings))


@dataclass(slots=True)
class Mention:
    start: int
    end: int
    concepts: frozenset[str]
    entity: str | None
    text: str


@dataclass(slots=True)
class Figure:
    start: int
    end: int
    raw: str
    value: Decimal
    signed: bool
    percent: bool
    exact_places: int | None  # decimals written, or None for an approximation
    significant: int
    count_like: bool
    size: float = field(init=False)  # abs(value) as a float (see `_states`)

    def __post_init__(self) -> None:
        self.size = abs(float(self.value))


@dataclass(slots=True)
class _Described:
    fact: Fact
    concepts: frozenset[str]
    entity: str | None
    kind: str  # level, previous, change
    value: Decimal = Decimal(0)
    unit: str = "money"
    size: float = 0.0  # abs(value) as a float, to rule out far figures without Decimals


class Grounder:
    """Checks a narrative sentence by sentence; keeps what a later sentence depends on (the
    last mention, the replacements already said), so a stream checks as the whole text."""

    def __init__(self, facts: list[Fact], places: int, scope: Scope):
        self.places, self.scope = places, scope
        entities = {str(f["entity"]) for f in facts if f.get("entity")}
        phrases = dict(CONCEPT_PHRASES)
        for name in entities:
            concepts, _ = phrases.get(name.lower(), (frozenset(), None))
            phrases[name.lower()] = (concepts, name)
            # Names are read with their digits masked ("Studio 54" is no figure).
            phrases[name.lower().translate(_DIGITS_OUT)] = (concepts, name)
        self.phrases = phrases
        self.mention_re = _mention_pattern(frozenset(phrases))
        # Names with digits, each read case-insensitively (compiled once, not per sentence).
        self.names = [
            re.compile(re.escape(n), re.IGNORECASE) for n in entities if any(c.isdigit() for c in n)
        ]
        self.keys = {str(f["key"]) for f in facts}
        self.years = scope.years
        self.facts = [self._describe(f) for f in facts]
        self.by_key = {d.fact["key"]: d for d in self.facts}
        self.finding_facts = [
            (finding, [self.by_key[k] for k in finding["facts"] if k in self.by_key])
            for finding in scope.findings
        ]
        self.periods = [
            (date.fromisoformat(a[:10]), date.fromisoformat(b[:10])) for a, b in scope.periods
        ]
        # Each level fact's change against the comparison period, where there is one.
        self.changes = {
            str(d.fact["key"]).removesuffix("_change"): d.value
            for d in self.facts
            if d.kind == "change" and str(d.fact["key"]).endswith("_change")
        }
        self.compared_months = _compared_months(scope.periods)
        self.last: Mention | None = None
        self.read: tuple[str, list[Mention]] | None = None  # the last sentence's mentions
        self.last_entities: set[str] = set()
        self.said: set[str] = set()
        self.emitted = False

    def _describe(self, fact: Fact) -> _Described:
        concepts: set[str] = set()
        for m in self.mention_re.finditer(str(fact["label"]).lower()):
            concepts |= self.phrases[m.group(0)][0]
        key = str(fact["key"])
        kind = "previous" if key.startswith("previous_") else "level"
        base = key.removesuffix("_pct").removesuffix("_change")
        if kind == "level" and base != key.removesuffix("_pct") and base in self.keys:
            kind = "change"  # `<key>_change` and `<key>_change_pct` of a fact `<key>`
        value = dec(fact["value"])
        return _Described(
            fact,
            frozenset(concepts),
            fact.get("entity"),
            kind,
            value,
            str(fact["unit"]),
            abs(float(value)),
        )

    # --- reading ---------------------------------------------------------------------------

    def mentions(self, text: str) -> list[Mention]:
        found = []
        # Read on the lowered text (same length: positions hold), faster than IGNORECASE.
        for m in self.mention_re.finditer(text.lower()):
            concepts, entity = self.phrases[m.group(0)]
            found.append(Mention(m.start(), m.end(), concepts, entity, text[m.start() : m.end()]))
        return found

    def dates(self, text: str) -> tuple[str, list[str]]:
        """The text with its dates blanked (positions kept) and the reasons for those that lie
        outside the report's periods."""
        problems: list[str] = []
        periods = self.periods

        def inside(first: date, last: date) -> bool:
            return not periods or any(first <= end and last >= start for start, end in periods)

        def iso(m: re.Match[str]) -> str:
            try:
                day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                problems.append(f"{m.group(0)} is not a date")
                return " " * len(m.group(0))
            if not inside(day, day):
                problems.append(f"the date {m.group(0)} lies outside the report's periods")
            return " " * len(m.group(0))

        def words(m: re.Match[str]) -> str:
            day_text, year_text = m.group("d1") or m.group("d2"), m.group("year")
            if not day_text and not year_text:
                return m.group(0)  # a month alone ("in January"), or "May" as a verb
            month = MONTHS[m.group("month")]
            years = [int(year_text)] if year_text else sorted(self.scope.years) or [2000]
            ok = False
            for year in years:
                last_day = calendar.monthrange(year, month)[1]
                if day_text:
                    d = int(day_text)
                    if not 1 <= d <= last_day:
                        continue
                    first = last = date(year, month, d)
                else:
                    first, last = date(year, month, 1), date(year, month, last_day)
                ok = ok or inside(first, last)
            if not ok:
                problems.append(f"the date {m.group(0).strip()} lies outside the report's periods")
            return " " * len(m.group(0))

        # Cheap tests first: an ISO date needs a dash, a date in words a month's name.
        if "-" in text:
            text = ISO_DATE.sub(iso, text)
        if MONTH_START.search(text):
            text = WORD_DATE.sub(words, text)
        return text, problems

    def figures(self, text: str, mentions: list[Mention]) -> list[Figure]:
        found: list[Figure] = []
        for m in NUMBER.finditer(text):
            whole_match, sign, num, scale_word, pct = m.group(0, "sign", "num", "scale", "pct")
            digits = num.replace(",", "")
            scale = SCALES.get(scale_word.strip().lower(), 1) if scale_word else 1
            value = Decimal(digits) * scale if scale != 1 else Decimal(digits)
            plain = not pct and scale == 1 and "." not in digits
            if plain:
                whole = int(digits)
                if whole in DAY_WORDS and DAYS_AFTER.match(text, m.end()):
                    continue
                if whole in self.years and "," not in num:
                    continue
            if sign in ("-", "\u2212"):
                value = -value
            start = m.start()
            approximate = scale != 1 or _approximate(text, start)
            places = len(digits.partition(".")[2])
            found.append(
                Figure(
                    start,
                    m.end(),
                    whole_match.strip(),
                    value,
                    bool(sign),
                    bool(pct),
                    None if approximate else places,
                    _significant(digits, approximate),
                    plain,
                )
            )
        if NUMBER_WORDS.isdisjoint(WORDS.findall(text.lower())):
            return found  # in the order of the text already
        starts = {m.start for m in mentions}
        for m in WORD_NUMBER.finditer(text):
            words = m.group(0).lower()
            value = _words_value(re.sub(r"\s*(percent|per cent|%)$", "", words))
            if value is None:
                continue
            after = text[m.end() :]
            if DAYS_AFTER.match(after) and value in DAY_WORDS:
                continue
            if words.strip() in SMALL_WORDS:
                # "one of", "three largest": a lone small word counts only before its noun.
                nxt = re.match(r"\s+", after)
                if not nxt or (m.end() + nxt.end()) not in starts:
                    continue
            digits = str(value)
            found.append(
                Figure(
                    m.start(),
                    m.end(),
                    m.group(0).strip(),
                    Decimal(value),
                    False,
                    bool(m.group("pct")),
                    None,
                    _significant(digits, True),
                    not m.group("pct"),
                )
            )
        return sorted(found, key=lambda f: f.start)

    # --- checking --------------------------------------------------------------------------

    def sentence(self, raw: str) -> tuple[list[str], list[dict[str, Any]]]:
        """The reasons `raw` (one sentence) fails, and its figures' bindings."""
        text = raw
        if "\n" in raw or raw.lstrip()[:1].isdigit():  # a list marker starts a line
            text = LIST_MARKER.sub(
                lambda m: m.group(1) + " " * (len(m.group(0)) - len(m.group(1))), raw
            )
        for name in self.names:
            text = name.sub(_masked_digits, text)
        text, problems = self.dates(text)
        mentions = self.mentions(text)
        # Unmasked, the sentence names the same: `replacement` may read these again.
        self.read = (raw, mentions) if text == raw else None
        lower = text.lower()
        entities = {m.entity for m in mentions if m.entity} | self.last_entities
        bindings = []
        # Where the sentence's clauses break, read once for all its figures.
        clauses = [(m.start(), m.end()) for m in CLAUSE.finditer(text)]
        clauses.append((len(text), len(text)))
        for figure in self.figures(text, mentions):
            mention = self._bind(figure, mentions, clauses)
            reason = self._check(figure, mention, mentions, lower, entities)
            if reason:
                problems.append(reason)
            bindings.append({"figure": figure.raw, "mention": mention.text if mention else None})
        problems += self._nothing(lower, mentions)
        if mentions:
            self.last = mentions[-1]
        self.last_entities = {m.entity for m in mentions if m.entity}
        return problems, bindings

    def _bind(
        self, figure: Figure, mentions: list[Mention], clauses: list[tuple[int, int]]
    ) -> Mention | None:
        """The mention a figure belongs to: its clause's (the nearest before it, else the
        first after it; a count's noun after it), else its sentence's, else the previous
        sentence's last."""
        # A clause break holds no figure's characters: the clause is the one between the
        # last break ending before the figure and the first starting after it.
        lo = max((end for _, end in clauses if end <= figure.start), default=0)
        hi = next(start for start, _ in clauses if start >= figure.end)
        before = [m for m in mentions if m.end <= figure.start]
        after = [m for m in mentions if m.start >= figure.end]
        if figure.count_like and after and after[0].concepts & {"customers", "suppliers"}:
            return after[0]
        for group in (
            [m for m in before if m.start >= lo][-1:],
            [m for m in after if m.end <= hi][:1],
            before[-1:],
            after[:1],
        ):
            if group:
                return group[0]
        if self.last is None:
            return None
        return Mention(0, 0, self.last.concepts, self.last.entity, self.last.text)

    def _check(
        self,
        figure: Figure,
        mention: Mention | None,
        mentions: list[Mention],
        lower: str,
        entities: set[str | None],
    ) -> str | None:
        if mention is None:
            return f"{figure.raw} names no fact"
        named, entity = mention.concepts, mention.entity
        qualified = named & QUALIFIERS
        candidates = [
            d
            for d in self.facts
            if (not d.concepts.isdisjoint(named) or (entity and d.entity == entity))
            and (not d.entity or d.entity in entities)
            and qualified <= d.concepts
        ]
        candidates += self._named_before(figure, mentions)
        stated = [d for d in candidates if _states(figure, d)]
        if not stated:
            real = next((d for d in self.facts if _states(figure, d)), None)
            if real is not None:
                return (
                    f"{figure.raw} is {real.fact['label']}, not what "
                    f"\u201c{mention.text}\u201d names"
                )
            return f"{figure.raw} is no fact of \u201c{mention.text}\u201d"
        span = lower[min(mention.start, figure.start) : figure.end]
        reasons = []
        for d in stated:
            reason = self._words_agree(figure, d, mention, lower, span)
            if reason is None:
                return None
            reasons.append(reason)
        return reasons[0]

    def _named_before(self, figure: Figure, mentions: list[Mention]) -> list[_Described]:
        """Facts of the last name before the figure when the words between name nothing
        else ("Studio 54 owes 2,500" states the fact "Studio 54 overdue")."""
        before = [m for m in mentions if m.end <= figure.start]
        named = [i for i, m in enumerate(before) if m.entity]
        if not named:
            return []
        at = named[-1]
        entity = before[at].entity
        between = (
            set().union(*(m.concepts for m in before[at + 1 :])) if at + 1 < len(before) else set()
        )
        return [d for d in self.facts if d.entity == entity and between <= (d.concepts | {"open"})]

    def _words_agree(
        self, figure: Figure, d: _Described, mention: Mention, lower: str, span: str
    ) -> str | None:
        value = d.value
        label = d.fact["label"]
        if d.kind == "previous" and not (COMPARISON.search(lower) or self._compared_month(lower)):
            return f"{figure.raw} is {label} (the comparison period), stated as the current one"
        if d.kind == "change" and not CHANGE_WORDS.search(lower):
            return f"{figure.raw} is {label}, stated as a level"
        if (
            d.kind != "change"
            and CHANGE_WORDS.search(span)
            and re.search(r"\bby\s*$", span[: figure.start - min(mention.start, figure.start)])
        ):
            return f"{figure.raw} is {label}, stated as a change"
        change = self.changes.get(str(d.fact["key"]))
        if d.kind != "change" and change is not None:
            up, down = _last(UP, span), _last(DOWN, span)
            if (up > down and change < 0) or (down > up and change > 0):
                return f"{label} {'rose' if change > 0 else 'fell'}, the sentence says otherwise"
        if d.kind == "change" and not figure.signed:
            up, down = _last(UP, span), _last(DOWN, span)
            if up > down and value < 0:
                return f"{label} fell ({value}), not rose"
            if down > up and value > 0:
                return f"{label} rose ({value}), not fell"
        if "profit" in d.concepts and d.kind != "change" and not figure.signed:
            if LOSS.search(span) and value > 0:
                return f"{label} is a profit ({value}), not a loss"
            if value < 0 and not LOSS.search(span) and PROFIT_WORD.search(span):
                return f"{label} is a loss ({value}), not a profit"
        return None

    def _compared_month(self, lower: str) -> bool:
        """Whether the sentence names a month of the comparison period only ("December's")."""
        return any(
            MONTHS[m.group("month")] in self.compared_months
            for m in MONTH_ALONE.finditer(lower.title())
        )

    def _nothing(self, lower: str, mentions: list[Mention]) -> list[str]:
        problems = []
        for neg in NEGATION.finditer(lower):
            window = [m for m in mentions if 0 <= m.start - neg.end() <= 25]
            for m in window[:1]:
                levels = [
                    d
                    for d in self.facts
                    if d.kind == "level"
                    and d.fact["unit"] in ("money", "count")
                    and d.concepts & m.concepts
                    and not d.entity
                ]
                wrong = [d for d in levels if d.value != 0]
                if wrong:
                    problems.append(
                        f"says there is {neg.group(0)} {m.text}, but {wrong[0].fact['label']} "
                        f"is {wrong[0].fact['value']}"
                    )
        return problems

    # --- structured claims -----------------------------------------------------------------

    def claim(self, text: str, cited: list[str], currency: str) -> tuple[str, list[str]]:
        """One structured sentence: `text` with `{key}` (or `{key:abs}`, without the sign)
        placeholders and the fact keys it cites. Answers the sentence with every placeholder
        rendered from its fact (as the offline provider writes it) and the reasons it fails:
        a cited or placed key that is no fact, a figure or a date outside the report's periods
        typed by the model itself, and, for each placed fact, words that name another fact
        or disagree with it (comparison, change, direction, sign), as the parser checks them,
        but against the cited fact only."""
        problems = [f"cites {key!r}, which is no fact" for key in cited if key not in self.by_key]
        pieces: list[str] = []
        placed: list[tuple[_Described, int, int, bool]] = []
        at = 0
        for m in PLACEHOLDER.finditer(text):
            pieces.append(text[at : m.start()])
            described = self.by_key.get(m.group("key"))
            if described is None:
                if m.group("key") not in cited:
                    problems.append(f"places {m.group('key')!r}, which is no fact")
                pieces.append(m.group(0))
            else:
                start = sum(map(len, pieces))
                shown = render(described.fact, currency, self.places, not m.group("abs"))
                pieces.append(shown)
                placed.append((described, start, start + len(shown), bool(m.group("abs"))))
            at = m.end()
        pieces.append(text[at:])
        rendered = "".join(pieces)
        # What the model typed itself: the sentence with the rendered figures blanked.
        typed = list(rendered)
        for _, start, end, _ in placed:
            typed[start:end] = " " * (end - start)
        own = "".join(typed)
        for name in self.names:
            own = name.sub(_masked_digits, own)
        own, dated = self.dates(own)
        problems += dated
        mentions = self.mentions(own)
        problems += [
            f"types the figure {f.raw} itself instead of citing its fact"
            for f in self.figures(own, mentions)
        ]
        lower = own.lower()
        clauses = [(m.start(), m.end()) for m in CLAUSE.finditer(own)]
        clauses.append((len(own), len(own)))
        for described, start, end, unsigned in placed:
            reason = self._placed(described, start, end, unsigned, mentions, clauses, lower)
            if reason:
                problems.append(reason)
        problems += self._nothing(lower, mentions)
        if mentions:
            self.last = mentions[-1]
        self.last_entities = {m.entity for m in mentions if m.entity}
        return rendered, problems

    def _placed(
        self,
        d: _Described,
        start: int,
        end: int,
        unsigned: bool,
        mentions: list[Mention],
        clauses: list[tuple[int, int]],
        lower: str,
    ) -> str | None:
        """Whether the words around a placed fact agree with it (see `claim`)."""
        key, label = d.fact["key"], d.fact["label"]
        value = abs(d.value) if unsigned else d.value
        # A change's direction is read from the words whatever its sign.
        signed = d.kind != "change" and value < 0
        figure = Figure(start, end, key, value, signed, d.unit == "percent", self.places, 1, False)
        mention = self._bind(figure, mentions, clauses) if mentions else None
        entities = {m.entity for m in mentions if m.entity} | self.last_entities
        if d.entity and d.entity not in entities:
            return f"{{{key}}} is {label}, but the sentence does not name {d.entity}"
        if mention is not None:
            named = (
                d.concepts & mention.concepts
                or (mention.entity is not None and d.entity == mention.entity)
                or d in self._named_before(figure, mentions)
            )
            if not named or not mention.concepts & QUALIFIERS <= d.concepts:
                return f"{{{key}}} is {label}, not what \u201c{mention.text}\u201d names"
        anchor = mention or Mention(start, start, frozenset(), None, "")
        span = lower[min(anchor.start, start) : end]
        reason = self._words_agree(figure, d, anchor, lower, span)
        return reason and reason.replace(figure.raw, f"{{{key}}}", 1)

    def replacement_for(self, keys: list[str]) -> str | None:
        """The finding that shares most of these fact keys, if not yet said."""
        wanted = set(keys)
        best, score = None, 0
        for finding, ds in self.finding_facts:
            s = sum(1 for d in ds if d.fact["key"] in wanted)
            if s > score:
                best, score = finding, s
        if best is None or best["text"] in self.said:
            return None
        return best["text"]

    # --- replacing -------------------------------------------------------------------------

    def verdict(self, body: str) -> tuple[list[str], Any]:
        problems, _ = self.sentence(body)
        return problems, None

    def instead(self, body: str, read: Any) -> str | None:
        return self.replacement(body)

    def accept(self, body: str, read: Any) -> None:
        self.said.add(body)

    def replacement(self, raw: str) -> str | None:
        """The finding whose facts this sentence's mentions name most, if not yet said."""
        read = self.read
        mentions = read[1] if read is not None and read[0] == raw else self.mentions(raw)
        concepts = frozenset().union(*(m.concepts for m in mentions))
        names = {m.entity for m in mentions if m.entity}
        lower = raw.lower()
        # Comparison and change facts count only for a sentence that compares or changes.
        kinds = {"level"}
        if COMPARISON.search(lower) or CHANGE_WORDS.search(lower):
            kinds |= {"previous", "change"}
        best, score = None, 0
        for finding, ds in self.finding_facts:
            s = 0
            for d in ds:
                if d.kind not in kinds:
                    continue
                if d.entity and d.entity in names:
                    s += 2
                elif not d.concepts.isdisjoint(concepts):
                    s += 1
            if s > score:
                best, score = finding, s
        if best is None or best["text"] in self.said:
            return None
        return best["text"]


_DIGITS_OUT = str.maketrans("0123456789", "##########")


@functools.lru_cache(maxsize=256)
def _mention_pattern(phrases: frozenset[str]) -> re.Pattern[str]:
    """Any of the phrases as a whole word (built once per set of phrases: one per company's
    names, the concepts being fixed)."""
    return re.compile(r"(?<![\w])(?:" + _trie(phrases) + r")(?![\w])")


def _trie(phrases: Iterable[str]) -> str:
    """A regex matching exactly the phrases, the longest first where several start at the same
    place (as a longest-first alternation would), written as a prefix tree: the engine reads
    each character once instead of trying every phrase at every position."""
    root: dict[str, Any] = {}
    for phrase in phrases:
        node = root
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(node[char]) for char in sorted(node) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(root)


def _masked_digits(m: re.Match[str]) -> str:
    return m.group(0).translate(_DIGITS_OUT)


@functools.lru_cache(maxsize=256)
def _compared_months(periods: tuple[tuple[str, str], ...]) -> frozenset[int]:
    """The months of the comparison periods that no day of the current period touches."""
    years = {int(d[:4]) for p in periods for d in p}
    return frozenset(
        month
        for month in range(1, 13)
        for year in years
        if _month_in(year, month, periods[1:]) and not _month_in(year, month, periods[:1])
    )


def _month_in(year: int, month: int, periods: tuple[tuple[str, str], ...]) -> bool:
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    return any(
        first <= date.fromisoformat(end[:10]) and last >= date.fromisoformat(start[:10])
        for start, end in periods
    )


APPROX_WORDS = (
    "about",
    "around",
    "roughly",
    "approximately",
    "nearly",
    "almost",
    "circa",
    "some",
    "close to",
    "just over",
    "just under",
    "an estimated",
)


def _approximate(text: str, at: int) -> bool:
    """Whether an approximation word ends just before position `at` (`APPROX` over the 16
    characters before it, without a regex search: a test of the stripped window's end)."""
    window = text[max(0, at - 16) : at]
    tail = window.rstrip()
    if tail.endswith("~"):
        return True
    if not tail.endswith(APPROX_WORDS):
        return False
    for word in APPROX_WORDS:
        if tail.endswith(word):
            before = len(tail) - len(word) - 1
            if before < 0 or not (tail[before].isalnum() or tail[before] == "_"):
                return True
    return False


def _last(pattern: re.Pattern[str], text: str) -> int:
    found = [m.start() for m in pattern.finditer(text)]
    return found[-1] if found else -1


def _significant(digits: str, approximate: bool) -> int:
    body = digits.replace(".", "").lstrip("0")
    if approximate and "." not in digits:
        body = body.rstrip("0")
    return max(1, len(body))


def _words_value(words: str) -> int | None:
    total, current = 0, 0
    for word in re.split(r"[\s-]+", words):
        if word == "and" or not word:
            continue
        if word in UNITS:
            current += UNITS[word]
        elif word in TENS:
            current += TENS[word]
        elif word == "hundred":
            current = (current or 1) * 100
        elif word in BIG:
            total += (current or 1) * BIG[word]
            current = 0
        else:
            return None
    return total + current


def _round_significant(value: Decimal, digits: int) -> Decimal:
    if value == 0:
        return value
    exponent = value.adjusted() - digits + 1
    return value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)


def _states(figure: Figure, described: _Described) -> bool:
    unit, value = described.unit, described.value
    if figure.percent:
        if unit == "ratio":
            value *= 100
        elif unit != "percent":
            return False
    elif unit == "percent" or (unit == "count" and not figure.count_like):
        return False
    # A quick float test first: an exact figure is within half a unit of the fact, an
    # approximation within half the fact's size (rounding to one significant digit at worst).
    size = described.size * 100 if figure.percent and unit == "ratio" else described.size
    gap = abs(size - figure.size)
    if gap > (1.01 if figure.exact_places is not None else 0.51 * max(size, figure.size) + 1e-9):
        return False
    if figure.exact_places is not None and abs(abs(value) - abs(figure.value)) > 1:
        return False  # rounding to the written places moves a value by half a unit at most
    targets = (value,) if figure.signed else (value, abs(value))
    try:
        for target in targets:
            if figure.exact_places is not None:
                if quantize(target, figure.exact_places) == figure.value:
                    return True
            elif _round_significant(target, figure.significant) == figure.value:
                return True
    except InvalidOperation:
        return False
    return False


SENTENCE_SPLIT = re.compile(r"(?<=[.!?])(?=\s)")


def sentences(text: str) -> list[str]:
    """The sentences of `text`, each with the whitespace before it; joined they are `text`."""
    parts = SENTENCE_SPLIT.split(text)
    return [p for p in parts if p]


class Checks(Protocol):
    """What `release` needs of a checker: the grounded one (`Grounder`) and the one of
    answers citing sources (`agents/citations.py`)."""

    emitted: bool

    def verdict(self, body: str) -> tuple[list[str], Any]:
        """The sentence's problems and what the check read of it."""
        ...

    def instead(self, body: str, read: Any) -> str | None:
        """The grounded sentence to say in place of a failing one, if any."""
        ...

    def accept(self, body: str, read: Any) -> None:
        """`body` is said (`read` is None when it is a replacement)."""
        ...


def release(checker: Checks, parts: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """Check `parts` (sentences, each with the whitespace before it) in order, continuing the
    checker's state: the text to pass on and an issue per replaced or dropped sentence."""
    out: list[str] = []
    issues: list[dict[str, Any]] = []
    for part in parts:
        lead = part[: len(part) - len(part.lstrip())]
        body = part[len(lead) :]
        if not body:
            if checker.emitted:
                out.append(lead)
            continue
        problems, read = checker.verdict(body)
        if problems:
            new = checker.instead(body, read)
            issue: dict[str, Any] = {
                "status": "replaced" if new else "dropped",
                "sentence": body,
                "reasons": problems,
            }
            issues.append(issue)
            if not new:
                continue
            issue["replacement"] = body = new
            read = None
        checker.accept(body, read)
        out.append((lead if checker.emitted else "") + body)
        checker.emitted = True
    return "".join(out), issues


def ground(grounder: Grounder, text: str) -> tuple[str, list[dict[str, Any]]]:
    """Check the sentences of `text` (continuing `grounder`'s state): the text to pass on and
    an issue per replaced or dropped sentence."""
    return release(grounder, sentences(text))
