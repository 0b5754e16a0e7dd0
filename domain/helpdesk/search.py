"""Ranked full-text search over a company's published articles, through the store port.

The port speaks MongoDB's query subset and has no text index (the embedded SQLite store
would use FTS5, MongoDB a text index; see the report of issue 15: the port should grow a
`text_search`), so the index is kept here in plain documents both adapters serve: one
posting per (article, term) in `helpdesk_article_terms`, with the term's frequency and the
article's length, written in the article's own transaction whenever a published article
changes and removed when it is unpublished or deleted. A search reads, per query term, its
`PER_TERM` (100) postings of highest frequency in the company (an index read on (company, term,
tf): a common word costs no more than a rare one; an article that holds a common word only
once or twice may then be ranked on its other words alone) and ranks them by BM25 (k1 1.2,
b 0.75; document frequencies from one grouped count; the mean length is that of the articles
read), so only published articles of the caller's company can ever be found.

Terms: lower-cased words (letters and digits, any script), English stop words dropped, a
plural `s` folded (`invoices` finds `invoice`). Title words count three times.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from domain.context import Ctx
from memory.ids import new_id
from memory.store import CollectionSpec, declare

POSTINGS = "helpdesk_article_terms"
TITLE_WEIGHT = 3
K1, B = 1.2, 0.75
MOST_TERMS = 16
PER_TERM = 100
"""Postings read per query term: its most frequent ones (an impact-ordered read)."""
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

declare(
    CollectionSpec(
        POSTINGS,
        fields=("company_id", "term", "article_id", "tf"),
        indexes=(("company_id", "term", "tf"), ("company_id", "article_id")),
    )
)


def fold(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    return [fold(w) for w in WORD.findall(text.lower()) if w not in STOP]


def query_terms(text: str) -> list[str]:
    return list(dict.fromkeys(terms(text)))[:MOST_TERMS]


async def unindex(ctx: Ctx, article_id: str) -> None:
    await ctx.store.delete_many(POSTINGS, ctx.scope(article_id=article_id))


async def index(ctx: Ctx, article: dict[str, Any]) -> None:
    """The article's postings, as it now stands (none unless published)."""
    await unindex(ctx, article["_id"])
    if article.get("status") != "published":
        return
    counts = Counter(terms(article["body"]))
    for term in terms(article["title"]):
        counts[term] += TITLE_WEIGHT
    length = sum(counts.values())
    if not counts:
        return
    await ctx.store.insert_many(
        POSTINGS,
        [
            {
                "_id": new_id(),
                "company_id": ctx.company_id,
                "article_id": article["_id"],
                "term": term,
                "tf": tf,
                "dl": length,
                "locale": article.get("locale"),
            }
            for term, tf in counts.items()
        ],
    )


@dataclass(frozen=True)
class Hit:
    article_id: str
    score: float


async def search(ctx: Ctx, text: str, *, locale: str | None = None, limit: int = 10) -> list[Hit]:
    """The published articles matching `text`, best first (BM25)."""
    wanted = query_terms(text)
    if not wanted:
        return []
    extra: dict[str, Any] = {"locale": locale} if locale else {}
    # One round of concurrent reads (the store runs scans on its reader threads): each
    # term's best postings, every term's document frequency, the number of articles.
    reads = await asyncio.gather(
        *(
            ctx.store.find(
                POSTINGS, ctx.scope(term=term, **extra), sort=[("tf", -1)], limit=PER_TERM
            )
            for term in wanted
        ),
        ctx.store.sum_by(POSTINGS, ctx.scope(term={"$in": wanted}, **extra), ("term",), ()),
        ctx.store.count("helpdesk_articles", ctx.scope(status="published")),
    )
    postings: list[dict[str, Any]] = [p for best in reads[: len(wanted)] for p in best]
    if not postings:
        return []
    df = {row["term"]: row["count"] for row in reads[len(wanted)]}
    total = reads[-1]
    lengths = {p["article_id"]: p["dl"] for p in postings}
    mean = sum(lengths.values()) / len(lengths)
    scores: dict[str, float] = defaultdict(float)
    for p in postings:
        n = df[p["term"]]
        idf = math.log(1 + (max(total, n) - n + 0.5) / (n + 0.5))
        tf = p["tf"]
        scores[p["article_id"]] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * p["dl"] / mean))
    ranked = sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
    return [Hit(article_id, round(score, 4)) for article_id, score in ranked]


def passages(article: dict[str, Any], text: str, most: int = 2, chars: int = 600) -> list[str]:
    """The article's paragraphs that share most terms with `text`, in their order."""
    wanted = set(query_terms(text))
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", article["body"]) if p.strip()]
    scored = [(len(wanted & set(terms(p))), i, p) for i, p in enumerate(paragraphs)]
    best = sorted(scored, key=lambda s: (-s[0], s[1]))[:most]
    chosen = [p for _, _, p in sorted(best, key=lambda s: s[1])]
    return [p if len(p) <= chars else p[: chars - 1].rsplit(" ", 1)[0] + "\u2026" for p in chosen]
