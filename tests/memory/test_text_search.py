"""The port's full-text search (`TextIndex`, `search_text`): every adapter must rank, isolate,
follow writes and transactions, and take any user text without a query error.

Each test runs once per adapter (the `store` fixture in conftest.py: SQLite FTS5 always,
a MongoDB text index when NUMBORS_TEST_MONGODB_URL is set).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memory import sqlite
from memory.sqlite import SQLiteStore
from memory.store import (
    CollectionSpec,
    DocumentStore,
    QueryError,
    TextHit,
    TextIndex,
    declare,
    text_words,
)
from tests.memory.backends import Backend, open_store

ARTICLES = declare(
    CollectionSpec(
        "conf_articles",
        fields=("company_id",),
        text=TextIndex(fields=("title", "body"), weights=(3, 1), keys=("company_id", "status")),
    )
).name
PLAIN = "conf_plain_text"
FILLER = [
    "Opening hours of the office",
    "Printing a statement",
    "Changing the company logo",
    "Inviting a colleague",
    "Closing a financial year",
]


class Boom(Exception):
    """Raised inside transactions to make them roll back."""


def titles(hits: list[TextHit]) -> list[str]:
    return [hit.doc["title"] for hit in hits]


async def add(store: DocumentStore, title: str, body: str, company: str = "c1", **more) -> str:
    doc = {"company_id": company, "status": "published", "title": title, "body": body, **more}
    return (await store.insert_one(ARTICLES, doc))["_id"]


async def library(store: DocumentStore, company: str = "c1") -> None:
    await store.insert_many(
        ARTICLES,
        [
            {"company_id": company, "status": "published", "title": t, "body": t + "."}
            for t in FILLER
        ],
    )
    await add(
        store,
        "Refund policy",
        "Refunds are paid within 14 days. A refund goes back to the card that paid.",
        company,
    )
    await add(
        store, "Shipping times", "Orders ship in 2 days. Refund questions: see policy.", company
    )
    await add(store, "Password reset", "Reset your password from the sign-in page.", company)


async def search(store: DocumentStore, text: str, company: str = "c1", **pins) -> list[str]:
    pinned = {"company_id": company, "status": "published", **pins}
    return titles(await store.search_text(ARTICLES, text, pinned))


# --- ranking ------------------------------------------------------------------------------


async def test_ranked_best_first_with_scores(store: DocumentStore) -> None:
    await library(store)
    hits = await store.search_text(ARTICLES, "refund", {"company_id": "c1"})
    assert titles(hits) == ["Refund policy", "Shipping times"]
    assert hits[0].score > hits[1].score > 0
    assert hits[0].doc["body"].startswith("Refunds are paid")
    assert set(hits[0].doc) == {"_id", "company_id", "status", "title", "body"}


async def test_any_word_matches_and_more_words_rank_higher(store: DocumentStore) -> None:
    await library(store)
    assert sorted(await search(store, "password card")) == ["Password reset", "Refund policy"]
    assert await search(store, "refund card") == ["Refund policy", "Shipping times"]


async def test_a_title_word_weighs_more_than_a_body_word(store: DocumentStore) -> None:
    await library(store)
    await add(store, "Card", "Alpha beta gamma.")
    await add(store, "Alpha", "Card beta gamma.")
    assert await search(store, "card") == ["Card", "Alpha", "Refund policy"]


async def test_words_are_stemmed_and_case_and_accents_folded(store: DocumentStore) -> None:
    await library(store)
    await add(store, "Café opening", "The café opens at nine.")
    assert await search(store, "REFUNDS") == ["Refund policy", "Shipping times"]
    assert await search(store, "cafe") == ["Café opening"]


async def test_a_word_in_most_documents_still_matches(store: DocumentStore) -> None:
    for n in range(9):
        await add(store, f"Invoice {n}", f"Every invoice, number {n}.")
    await add(store, "Invoice VAT", "An invoice with VAT.")
    assert (await search(store, "vat invoice"))[0] == "Invoice VAT"
    hits = await store.search_text(ARTICLES, "vat invoice", {"company_id": "c1"}, limit=1)
    assert titles(hits) == ["Invoice VAT"]
    every = await search(store, "invoice vat")
    assert every[0] == "Invoice VAT" and len(every) == 10
    assert sorted(every[1:]) == [f"Invoice {n}" for n in range(9)]


async def test_limit_keeps_the_best(store: DocumentStore) -> None:
    await library(store)
    hits = await store.search_text(ARTICLES, "refund password", {"company_id": "c1"}, limit=1)
    assert len(hits) == 1
    assert (
        titles(hits)
        == titles(await store.search_text(ARTICLES, "refund password", {"company_id": "c1"}))[:1]
    )
    assert await store.search_text(ARTICLES, "refund", {"company_id": "c1"}, limit=0) == []


async def test_no_word_no_match(store: DocumentStore) -> None:
    await library(store)
    assert await search(store, "") == []
    assert await search(store, "  ?! ... ") == []
    assert await search(store, "zebra") == []


# --- filters and tenancy ------------------------------------------------------------------


async def test_a_company_finds_only_its_own_documents(store: DocumentStore) -> None:
    await library(store, "c1")
    await add(store, "Zebra refunds", "Refund refund refund the zebras.", "c2")
    assert await search(store, "zebra") == []
    assert await search(store, "refund") == ["Refund policy", "Shipping times"]
    assert await search(store, "zebra refund", "c2") == ["Zebra refunds"]
    assert await search(store, "refund", "c3") == []
    every = titles(await store.search_text(ARTICLES, "zebra refund"))
    assert sorted(every) == ["Refund policy", "Shipping times", "Zebra refunds"]


async def test_every_pinned_key_must_match(store: DocumentStore) -> None:
    await library(store)
    await add(store, "Refund draft", "Refund refund.", status="draft")
    await add(store, "Refund without status", "Refund.", status=None)
    assert await search(store, "refund") == ["Refund policy", "Shipping times"]
    assert await search(store, "refund", status="draft") == ["Refund draft"]
    assert await search(store, "refund", status=None) == ["Refund without status"]


async def test_key_values_of_each_scalar_type_are_told_apart(store: DocumentStore) -> None:
    for company in ["1", 1, True, False, "", "true", "ação-7"]:
        await add(store, f"Refund {company!r}", "Refund.", company)  # type: ignore[arg-type]
    for company in ["1", 1, True, False, "", "true", "ação-7"]:
        hits = await store.search_text(ARTICLES, "refund", {"company_id": company})
        assert titles(hits) == [f"Refund {company!r}"], company


BAD_PINS = [
    pytest.param({"title": "Refund policy"}, id="not-a-key"),
    pytest.param({"company_id": {"$ne": "c1"}}, id="operator"),
    pytest.param({"company_id": ["c1", "c2"]}, id="list"),
    pytest.param({"company_id": 1.5}, id="float"),
    pytest.param({"$or": [{"company_id": "c1"}]}, id="or"),
]


@pytest.mark.parametrize("filter", BAD_PINS)
async def test_a_filter_other_than_key_equality_is_a_query_error(
    store: DocumentStore, filter: dict
) -> None:
    await library(store)
    with pytest.raises(QueryError):
        await store.search_text(ARTICLES, "refund", filter)


async def test_a_collection_without_a_text_index_is_a_query_error(store: DocumentStore) -> None:
    await store.insert_one(PLAIN, {"title": "Refund"})
    with pytest.raises(QueryError):
        await store.search_text(PLAIN, "refund")


# --- writes -------------------------------------------------------------------------------


async def test_updates_are_reflected(store: DocumentStore) -> None:
    await library(store)
    doc_id = await add(store, "Two-factor login", "Turn on two-factor login.")
    assert await search(store, "factor") == ["Two-factor login"]
    await store.update_one(ARTICLES, {"_id": doc_id}, {"$set": {"title": "Passkeys"}})
    assert await search(store, "passkeys") == ["Passkeys"]
    await store.update_one(ARTICLES, {"_id": doc_id}, {"$set": {"body": "Use a passkey."}})
    assert await search(store, "factor") == []
    await store.update_one(ARTICLES, {"_id": doc_id}, {"$inc": {"votes": 1}})
    assert await search(store, "passkey") == ["Passkeys"]
    await store.update_many(ARTICLES, {"_id": doc_id}, {"$set": {"status": "draft"}})
    assert await search(store, "passkey") == []
    assert await search(store, "passkey", status="draft") == ["Passkeys"]
    await store.update_many(ARTICLES, {"company_id": "c1"}, {"$set": {"company_id": "c9"}})
    assert await search(store, "refund") == []
    assert await search(store, "refund", "c9") == ["Refund policy", "Shipping times"]


async def test_deletes_are_reflected(store: DocumentStore) -> None:
    await library(store)
    assert await store.delete_one(ARTICLES, {"title": "Refund policy"})
    assert await search(store, "refund") == ["Shipping times"]
    await store.delete_many(ARTICLES, {"company_id": "c1"})
    assert await search(store, "refund shipping password") == []
    await add(store, "Refund policy", "Refunds again.")
    assert await search(store, "refund") == ["Refund policy"]


async def test_a_rolled_back_transaction_leaves_the_index_unchanged(store: DocumentStore) -> None:
    await library(store)
    before = await store.search_text(ARTICLES, "refund shipping zebra", {"company_id": "c1"})
    with pytest.raises(Boom):
        async with store.transaction():
            await add(store, "Zebra refunds", "Refund the zebras.")
            await store.update_one(
                ARTICLES, {"title": "Shipping times"}, {"$set": {"title": "Delivery"}}
            )
            await store.delete_many(ARTICLES, {"title": "Refund policy"})
            inside = await search(store, "refund shipping zebra")
            assert inside == ["Zebra refunds", "Delivery"]  # the transaction's own writes
            raise Boom
    after = await store.search_text(ARTICLES, "refund shipping zebra", {"company_id": "c1"})
    assert [(h.doc, round(h.score, 9)) for h in after] == [
        (h.doc, round(h.score, 9)) for h in before
    ]


async def test_a_committed_transaction_is_reflected(store: DocumentStore) -> None:
    await library(store)
    async with store.transaction():
        await add(store, "Zebra refunds", "Refund the zebras.")
        await store.delete_many(ARTICLES, {"title": "Shipping times"})
    assert await search(store, "zebra shipping") == ["Zebra refunds"]


# --- user text is words, never query syntax -----------------------------------------------

HOSTILE = [
    '"refund',
    'refund"',
    '"refund" "policy',
    "refund*",
    "*",
    "ref*",
    "NEAR(refund policy)",
    "refund NEAR policy",
    "NEAR",
    "-refund",
    "refund -policy",
    "(refund",
    "refund)",
    "((refund OR policy)",
    "refund AND",
    "OR refund",
    "NOT refund",
    "AND OR NOT",
    "^refund",
    "t0: refund",
    "k : refund",
    "{t0 t1}: refund",
    "title:refund",
    "refund'); DROP TABLE conf_articles; --",
    "$where refund",
    "\\refund\\",
    "refund\x00policy",
    "+refund",
    "refund~2",
    "refund^3",
    "…refund…",
]


@pytest.mark.parametrize("text", HOSTILE)
async def test_any_user_text_searches_its_words(store: DocumentStore, text: str) -> None:
    await library(store)
    words = " ".join(text_words(text))
    expected = await search(store, words) if words else []
    assert await search(store, text) == expected
    if "refund" in words:
        assert "Refund policy" in expected
    assert await store.count(ARTICLES) == len(FILLER) + 3


def test_text_words_are_letters_and_digits_lowered_once() -> None:
    assert text_words('"Refund" NEAR(a-b) *x* refund 14 días_ok') == [
        "refund",
        "near",
        "a",
        "b",
        "x",
        "14",
        "días",
        "ok",
    ]
    assert len(text_words(" ".join(f"w{i}" for i in range(100)))) == 32


# --- declaration --------------------------------------------------------------------------


async def test_existing_documents_are_indexed_when_the_index_is_declared(
    backend: Backend,
) -> None:
    name = "conf_late_text"
    declare(CollectionSpec(name, fields=("company_id",)))
    first = open_store(backend)
    try:
        await first.insert_many(
            name,
            [
                {"company_id": "c1", "title": "Refund policy", "body": "Refunds in 14 days."},
                {"company_id": "c1", "title": "Shipping", "body": "Parcels leave in 2 days."},
                {"company_id": "c2", "title": "Refunds elsewhere", "body": "Not yours."},
            ],
        )
    finally:
        await first.close()
    declare(
        CollectionSpec(
            name, fields=("company_id",), text=TextIndex(("title",), keys=("company_id",))
        )
    )
    second = open_store(backend)
    try:
        hits = await second.search_text(name, "refund", {"company_id": "c1"})
        assert titles(hits) == ["Refund policy"]
        assert await second.search_text(name, "parcels", {"company_id": "c1"}) == []
    finally:
        await second.close()
    declare(
        CollectionSpec(
            name,
            fields=("company_id",),
            text=TextIndex(("title", "body"), keys=("company_id",)),
        )
    )
    third = open_store(backend)
    try:  # a changed declaration: the index is built again with the body
        assert titles(await third.search_text(name, "parcels", {"company_id": "c1"})) == [
            "Shipping"
        ]
        await third.insert_one(name, {"company_id": "c1", "title": "Late", "body": "Parcels."})
        found = titles(await third.search_text(name, "parcels", {"company_id": "c1"}))
        assert sorted(found) == ["Late", "Shipping"]
    finally:
        await third.close()


def test_a_text_index_declaration_is_checked() -> None:
    with pytest.raises(ValueError):
        TextIndex(fields=())
    with pytest.raises(ValueError):
        TextIndex(fields=("title", "body"), weights=(3,))
    with pytest.raises(ValueError):
        TextIndex(fields=("title",), weights=(0,))
    with pytest.raises(ValueError):
        TextIndex(fields=("title",), keys=("a", "b", "c", "d", "e"))
    assert TextIndex(fields=("title", "body")).weights == (1, 1)


# --- SQLite: where a search runs, and the FTS5 index against its rows --------------------


async def test_sqlite_searches_on_the_reader_pool_and_keeps_fts5_consistent(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "text.db")
    try:
        await library(store)
        doc_id = await add(store, "Two-factor login", "Turn on two-factor login.")
        await store.update_one(ARTICLES, {"_id": doc_id}, {"$set": {"body": "Passkeys."}})
        await store.update_one(ARTICLES, {"_id": doc_id}, {"$inc": {"votes": 1}})
        await store.delete_many(ARTICLES, {"title": "Shipping times"})
        assert store._pool.threads == []  # writes and point reads only so far
        assert await search(store, "passkeys") == ["Two-factor login"]
        assert len(store._pool.threads) == sqlite.READERS
        # FTS5's own check of the index against the rows it was built from (the view).
        fts = f"{ARTICLES}__text"
        store._writer.execute(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")
    finally:
        await store.close()
