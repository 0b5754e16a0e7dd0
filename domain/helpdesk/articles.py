"""Knowledge-base articles: title, body (markdown), category, tags, locale, draft or
published, helpful votes.

Only published articles are searchable (`GET /api/helpdesk/articles/search?q=`, ranked by
the store's text index over title and body; `search.py`) and only they answer the public
support chat. The store keeps that index in step with every write (create, edit, publish,
unpublish, delete) inside the write's transaction; a search pins the company and the
published status in the index query itself. `?search=` on the list is a plain substring
filter over titles (drafts too), for the editors' own list.

Votes (`vote`: helpful or not) count on published articles; `helpful_count` and
`not_helpful_count` are atomic counters.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain import resources
from domain.context import Ctx
from domain.fields import Input, Name, ObjectIdStr, QueryInt, StrictBool
from domain.helpdesk import search
from domain.helpdesk.common import MODULE, TAG
from domain.references import referenced
from domain.resources import Action, Declared, Hooks, Lifecycle, Report, Resource, Server
from memory.ids import utcnow
from memory.store import CollectionSpec, TextIndex, declare

declare(
    CollectionSpec(
        "helpdesk_articles",
        fields=("company_id", "status", "title", "created_at"),
        indexes=(
            ("company_id", "status"),
            ("company_id", "category_id"),
            ("company_id", "locale"),
            ("company_id", "tags"),
            ("company_id", "title"),
            ("company_id", "helpful_count"),
            ("company_id", "published_at"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        text=TextIndex(
            fields=("title", "body"),
            weights=(search.TITLE_WEIGHT, 1),
            keys=("company_id", "status", "locale"),
        ),
    )
)

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Locale = Annotated[str, Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$", examples=["en", "pt-BR"])]
Body = Annotated[str, Field(min_length=1, max_length=100_000, description="Markdown")]


class ArticleFields(Declared):
    title: Name
    body: Body
    category_id: ObjectIdStr | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    locale: Locale = "en"
    status: Literal["draft", "published"] = Field(
        "draft", description="Created draft or published; then publish / unpublish"
    )
    published_at: Server[str | None] = None
    helpful_count: Server[int] = 0
    not_helpful_count: Server[int] = 0


async def _category(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("category_id"):
        await referenced(ctx, "helpdesk_categories", data["category_id"], "category_id", "category")
    return data


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    await _category(ctx, data)
    published = data.get("status") == "published"
    return {
        **data,
        "published_at": utcnow() if published else None,
        "helpful_count": 0,
        "not_helpful_count": 0,
    }


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    return await _category(ctx, changes)


async def _published(ctx: Ctx, doc: dict[str, Any], previous: str) -> None:
    await ctx.store.update_one(
        "helpdesk_articles", ctx.scope(_id=doc["_id"]), {"$set": {"published_at": utcnow()}}
    )


class VoteIn(Input):
    helpful: StrictBool


async def vote(ctx: Ctx, doc: dict[str, Any], body: VoteIn) -> dict[str, Any]:
    counter = "helpful_count" if body.helpful else "not_helpful_count"
    updated = await ctx.store.update_one(
        "helpdesk_articles", ctx.scope(_id=doc["_id"]), {"$inc": {counter: 1}}
    )
    assert updated is not None
    return updated


def _present(doc: dict[str, Any]) -> dict[str, Any]:
    return {"published_at": None, "category_id": None, **doc}


ARTICLES = Resource(
    name="helpdesk/articles",
    label="article",
    collection="helpdesk_articles",
    module=MODULE,
    tag=TAG,
    fields=ArticleFields,
    search=("title",),
    filters={"status": "eq", "category_id": "eq", "locale": "eq", "tags": "eq"},
    sort=("title", "helpful_count", "published_at", "created_at", "updated_at"),
    default_sort="-updated_at",
    date_field="created_at",
    hooks=Hooks(before_create=_before_create, before_update=_before_update),
    lifecycle=Lifecycle(
        states=("draft", "published"),
        initial=("draft", "published"),
        on_enter={"published": _published},
    ),
    actions=(
        Action("publish", "Publish an article", from_states=("draft",), to="published"),
        Action(
            "unpublish", "Take an article back to draft", from_states=("published",), to="draft"
        ),
        Action(
            "vote",
            "Vote an article helpful or not",
            run=vote,
            input=VoteIn,
            from_states=("published",),
            example={"helpful": True},
        ),
    ),
    present=_present,
    example={
        "title": "How do I change the VAT number on my invoices?",
        "body": "Open **Settings > Company** and edit *VAT number*.\n\n"
        "New invoices show the new number at once; invoices already sent keep the old one.",
        "tags": ["invoices", "vat"],
        "status": "published",
    },
)


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str = Field("", max_length=500, description="Words to find (none: no results)")
    locale: Locale | None = None
    limit: QueryInt = Field(10, ge=1, le=50)


class SearchHit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: float = Field(description="Relevance (bm25 in the embedded store); higher is better")
    snippet: str
    article: ARTICLES.read  # type: ignore[name-defined]


class SearchOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str
    results: list[SearchHit]


async def found(ctx: Ctx, text: str, locale: str | None, limit: int) -> list[dict[str, Any]]:
    """The published articles of the company matching `text`, best first, with their score."""
    pins: dict[str, Any] = {"status": "published", **({"locale": locale} if locale else {})}
    hits = await ctx.store.search_text(
        "helpdesk_articles", search.query(text), ctx.scope(**pins), limit=limit
    )
    return [{**hit.doc, "score": hit.score} for hit in hits]


async def run_search(ctx: Ctx, q: SearchQuery) -> dict[str, Any]:
    docs = await found(ctx, q.q, q.locale, q.limit)
    return {
        "query": q.q,
        "results": [
            {
                "score": doc["score"],
                "snippet": " ".join(search.passages(doc, q.q, most=1, chars=240)),
                "article": await resources.view(ctx, ARTICLES, doc),
            }
            for doc in docs
        ],
    }


SEARCH = Report(
    path="helpdesk/articles/search",
    summary="Search published articles (ranked)",
    module=MODULE,
    tag=TAG,
    query=SearchQuery,
    run=run_search,
    output=SearchOut,
)
