"""Text helpers of the knowledge base's ranked search (`articles.found`).

The search itself is the store port's (`DocumentStore.search_text` over the articles' text
index, declared in `articles.py`: SQLite FTS5 in the embedded store, a MongoDB text index in
production), which keeps the index in step with every write in the write's own transaction
and ranks by relevance (bm25; title words weigh `TITLE_WEIGHT` times body words). A search
pins the caller's company and `published` inside the index query, so only published articles
of that company can ever be found. This module drops a question's stop words before it
reaches the store (`query`) and picks the paragraphs of a found article that answer it
(`passages`).

Terms (`terms`, for passages): lower-cased words (letters and digits, any script), English
stop words dropped, a plural `s` folded (`invoices` finds `invoice`).
"""

from __future__ import annotations

import re
from typing import Any

from memory.store import text_words

TITLE_WEIGHT = 3
MOST_TERMS = 16
WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "than",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def fold(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    return [fold(w) for w in WORD.findall(text.lower()) if w not in STOP]


def query_terms(text: str) -> list[str]:
    return list(dict.fromkeys(terms(text)))[:MOST_TERMS]


def query(text: str) -> str:
    """The words of `text` a search looks for: stop words dropped (the index has none, and
    "how do I" would otherwise match every article)."""
    return " ".join([w for w in text_words(text) if w not in STOP][:MOST_TERMS])


def passages(article: dict[str, Any], text: str, most: int = 2, chars: int = 600) -> list[str]:
    """The article's paragraphs that share most terms with `text`, in their order."""
    wanted = set(query_terms(text))
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", article["body"]) if p.strip()]
    scored = [(len(wanted & set(terms(p))), i, p) for i, p in enumerate(paragraphs)]
    best = sorted(scored, key=lambda s: (-s[0], s[1]))[:most]
    chosen = [p for _, _, p in sorted(best, key=lambda s: s[1])]
    return [p if len(p) <= chars else p[: chars - 1].rsplit(" ", 1)[0] + "\u2026" for p in chosen]
