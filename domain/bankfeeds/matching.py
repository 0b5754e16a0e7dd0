"""Suggestions: which open invoice (money in) or bill (money out) a feed line pays.

Candidates are the company's posted, unpaid documents (sent, viewed, partial) in the line's
currency whose amount due is at least the line's. Each is scored:

- 0.50 the line's amount equals what is due, to the currency's precision;
- 0.30 the document's number or reference appears in the line's text as a whole word;
- 0.15 the contact's name appears in the line's text;
- 0.05 the line's date is in the document's window (7 days before it was issued to 60 days
  after it was due); -0.20 outside it.

A candidate needs 0.30 or more (the amount, or the number with the name), so a line never
suggests a document only because it is a round sum; the three best are kept, highest first
(`confidence` is the score). Date plus amount alone is not proof (odoo #26394): a person
accepts, or a rule with `auto_create` does the categorising, never matching blindly.

The open documents are read once per batch (`OpenDocuments.load`), indexed by amount due and
by the words of number and reference, so matching 10,000 lines costs dictionary lookups.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from domain.context import Ctx
from domain.money import to_number

OPEN = ("sent", "viewed", "partial")
WORD = re.compile(r"[a-z0-9][a-z0-9\-/_.]*[a-z0-9]|[a-z0-9]")
THRESHOLD = 0.3
KEEP = 3
PER_AMOUNT = 50  # candidates of one amount scored, the earliest due first
BEFORE_ISSUE = timedelta(days=7)
AFTER_DUE = timedelta(days=60)


@dataclass
class OpenDocuments:
    by_amount: dict[tuple[str, str, int], list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    by_word: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    async def load(cls, ctx: Ctx) -> OpenDocuments:
        docs = await ctx.store.find(
            "documents", ctx.scope(status={"$in": list(OPEN)}), sort=[("due_at", 1)]
        )
        index = cls()
        for doc in docs:
            if doc["due"] <= 0:
                continue
            index.add(doc)
        return index

    def add(self, doc: dict[str, Any]) -> None:
        self.by_amount[(doc["type"], doc["currency"], doc["due"])].append(doc)
        for text in (doc.get("number"), doc.get("reference")):
            if text:
                self.by_word[text.lower()].append(doc)

    def suggest(self, line: dict[str, Any]) -> list[dict[str, Any]]:
        amount = line["amount"]
        if amount == 0 or line.get("pending"):
            return []
        kind = "invoice" if amount > 0 else "bill"
        size = abs(amount)
        text = " ".join(line.get(k) or "" for k in ("description", "counterparty", "reference"))
        text = text.lower()
        words = set(WORD.findall(text))
        candidates: dict[str, dict[str, Any]] = {}
        for doc in self.by_amount.get((kind, line["currency"], size), [])[:PER_AMOUNT]:
            candidates[doc["_id"]] = doc
        for word in words:
            for doc in self.by_word.get(word, ()):
                if doc["type"] == kind and doc["currency"] == line["currency"]:
                    candidates[doc["_id"]] = doc
        scored = [s for doc in candidates.values() if (s := _score(doc, line, size, text, words))]
        scored.sort(key=lambda s: (-s["confidence"], s["due_at"]))
        return scored[:KEEP]


def _score(
    doc: dict[str, Any], line: dict[str, Any], size: int, text: str, words: set[str]
) -> dict[str, Any] | None:
    if doc["due"] < size:
        return None
    score = 0.0
    reasons: list[str] = []
    if doc["due"] == size:
        score += 0.5
        reasons.append("amount")
    if any(t and t.lower() in words for t in (doc.get("number"), doc.get("reference"))):
        score += 0.3
        reasons.append("number")
    name = (doc.get("contact_name") or "").lower()
    if len(name) >= 3 and name in text:
        score += 0.15
        reasons.append("contact")
    day = date.fromisoformat(line["date"])
    issued = date.fromisoformat(doc["issued_at"])
    due = date.fromisoformat(doc["due_at"])
    if issued - BEFORE_ISSUE <= day <= due + AFTER_DUE:
        score += 0.05
        reasons.append("date")
    else:
        score -= 0.2
    if score < THRESHOLD - 1e-9:
        return None
    return {
        "type": doc["type"],
        "document_id": doc["_id"],
        "number": doc["number"],
        "contact_name": doc.get("contact_name"),
        "due": to_number(doc["due"], doc["precision"]),
        "due_at": doc["due_at"],
        "currency": doc["currency"],
        "confidence": round(min(score, 1.0), 2),
        "reasons": reasons,
    }
