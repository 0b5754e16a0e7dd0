"""The document-store port's contract: every adapter must give exactly these results.

Each test runs once per adapter (the `store` fixture in conftest.py). Filter, sort and
sum tests also run twice per adapter: on an undeclared collection (SQLite: `json_extract`)
and on a declared one (SQLite: indexed generated columns); both must answer the same.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from memory.store import (
    CollectionSpec,
    Doc,
    DocumentStore,
    DuplicateKeyError,
    Filter,
    QueryError,
    Sort,
    declare,
)
from tests.memory.backends import MONGO_URL_ENV, Backend, mongo_url, open_store

ROOT = Path(__file__).resolve().parents[2]
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")

THINGS = "conf_things"
PEOPLE_PLAIN = "conf_people"
PEOPLE_DECLARED = declare(
    CollectionSpec(
        "conf_people_declared",
        fields=("name", "n", "flag", "when", "opt", "tag", "meta.kind", "meta.level"),
    )
).name
LEDGER_PLAIN = "conf_ledger"
LEDGER_DECLARED = declare(
    CollectionSpec(
        "conf_ledger_declared",
        fields=("account", "side", "when", "amount", "qty", "dims.center"),
        indexes=(("account", "side"),),
    )
).name
USERS = declare(CollectionSpec("conf_users", fields=("email",), unique=(("email",),))).name
ENTRIES = declare(CollectionSpec("conf_entries", unique=(("company", "number", "branch"),))).name


class Boom(Exception):
    """Raised inside transactions to make them roll back."""


def oid(n: int) -> str:
    return f"{n:024x}"


def ids(docs: Sequence[Doc]) -> list[str]:
    return [doc["_id"] for doc in docs]


async def names(
    store: DocumentStore, collection: str, filter: Filter | None = None, sort: Sort = ()
) -> list[str]:
    return [doc["name"] for doc in await store.find(collection, filter, sort=sort)]


# --- insert, find, count ------------------------------------------------------------------


async def test_insert_one_assigns_a_24_hex_id_without_touching_the_argument(
    store: DocumentStore,
) -> None:
    original = {"name": "Ada", "meta": {"kind": "a"}}
    stored = await store.insert_one(THINGS, original)
    assert OBJECT_ID.match(stored["_id"])
    assert stored == {"_id": stored["_id"], "name": "Ada", "meta": {"kind": "a"}}
    assert original == {"name": "Ada", "meta": {"kind": "a"}}
    assert await store.find_one(THINGS, {"_id": stored["_id"]}) == stored


async def test_insert_one_keeps_a_given_id(store: DocumentStore) -> None:
    stored = await store.insert_one(THINGS, {"_id": oid(7), "name": "given"})
    assert stored == {"_id": oid(7), "name": "given"}
    assert await store.find(THINGS) == [{"_id": oid(7), "name": "given"}]


async def test_insert_many_assigns_distinct_ids_and_keeps_given_ones(store: DocumentStore) -> None:
    stored = await store.insert_many(
        THINGS, [{"name": "a"}, {"_id": oid(9), "name": "b"}, {"name": "c"}]
    )
    assert [doc["name"] for doc in stored] == ["a", "b", "c"]
    assert stored[1]["_id"] == oid(9)
    assert all(OBJECT_ID.match(doc["_id"]) for doc in stored)
    assert len(set(ids(stored))) == 3
    found = await store.find(THINGS)
    assert sorted(ids(found)) == sorted(ids(stored))
    assert {doc["_id"]: doc for doc in found} == {doc["_id"]: doc for doc in stored}


async def test_insert_many_of_nothing_inserts_nothing(store: DocumentStore) -> None:
    assert await store.insert_many(THINGS, []) == []
    assert await store.count(THINGS) == 0


async def test_find_find_one_and_count_on_an_empty_or_unknown_collection(
    store: DocumentStore,
) -> None:
    assert await store.find("conf_never_written") == []
    assert await store.find_one("conf_never_written") is None
    assert await store.count("conf_never_written") == 0


async def test_count_with_and_without_filter(store: DocumentStore) -> None:
    await store.insert_many(THINGS, [{"k": 1}, {"k": 2}, {"k": 2}, {"other": True}])
    assert await store.count(THINGS) == 4
    assert await store.count(THINGS, {}) == 4
    assert await store.count(THINGS, {"k": 2}) == 2
    assert await store.count(THINGS, {"k": {"$exists": False}}) == 1
    assert await store.count(THINGS, {"k": 3}) == 0


async def test_find_one_answers_the_first_match_in_sort_order_or_none(
    store: DocumentStore,
) -> None:
    await store.insert_many(
        THINGS,
        [
            {"_id": oid(1), "name": "a", "n": 2},
            {"_id": oid(2), "name": "b", "n": 3},
            {"_id": oid(3), "name": "c", "n": 1},
        ],
    )
    assert await store.find_one(THINGS) == {"_id": oid(1), "name": "a", "n": 2}
    first_by_n = await store.find_one(THINGS, {"n": {"$gte": 1}}, sort=[("n", -1)])
    assert first_by_n == {"_id": oid(2), "name": "b", "n": 3}
    assert await store.find_one(THINGS, {"name": "zzz"}) is None


async def test_iterate_pages_through_every_document_in_id_order(store: DocumentStore) -> None:
    await store.insert_many(THINGS, [{"_id": oid(i), "i": i} for i in range(7, 0, -1)])
    seen = [doc["i"] async for doc in store.iterate(THINGS, {"i": {"$ne": 4}}, batch=2)]
    assert seen == [1, 2, 3, 5, 6, 7]


# --- filters ------------------------------------------------------------------------------

PEOPLE: list[Doc] = [
    {
        "_id": oid(1),
        "name": "Ada",
        "n": 1,
        "flag": True,
        "when": "2024-01-15",
        "meta": {"kind": "a", "level": 1},
        "opt": None,
        "tag": "x",
    },
    {
        "_id": oid(2),
        "name": "bob",
        "n": 2,
        "flag": False,
        "when": "2024-02-01",
        "meta": {"kind": "b", "level": 2},
        "tag": "y",
    },
    {
        "_id": oid(3),
        "name": "Cleo",
        "n": 3,
        "flag": True,
        "when": "2024-02-29",
        "meta": {"kind": "a"},
        "opt": 0,
    },
    {"_id": oid(4), "name": "dan", "n": 4.5, "flag": False, "when": "2024-03-31T23:59:59Z"},
    {"_id": oid(5), "name": "Eve", "n": 10, "when": "2025-01-01", "opt": "set"},
]
ALL = ["Ada", "bob", "Cleo", "dan", "Eve"]

FILTER_CASES = [
    # whole collection
    pytest.param(None, ALL, id="none"),
    pytest.param({}, ALL, id="empty"),
    # equality on top-level and dotted paths, and on _id
    pytest.param({"name": "bob"}, ["bob"], id="eq-string"),
    pytest.param({"name": "Bob"}, [], id="eq-string-case-sensitive"),
    pytest.param({"n": 2}, ["bob"], id="eq-int"),
    pytest.param({"n": 4.5}, ["dan"], id="eq-float"),
    pytest.param({"n": 10.0}, ["Eve"], id="eq-float-matches-int"),
    pytest.param({"flag": True}, ["Ada", "Cleo"], id="eq-true"),
    pytest.param({"flag": False}, ["bob", "dan"], id="eq-false"),
    pytest.param({"meta.kind": "a"}, ["Ada", "Cleo"], id="eq-dotted"),
    pytest.param({"meta.level": 2}, ["bob"], id="eq-dotted-int"),
    pytest.param({"name": "Ada", "n": 1}, ["Ada"], id="eq-two-fields"),
    pytest.param({"name": "Ada", "n": 2}, [], id="eq-two-fields-no-match"),
    pytest.param({"_id": oid(3)}, ["Cleo"], id="eq-id"),
    pytest.param({"_id": {"$in": [oid(5), oid(1)]}}, ["Ada", "Eve"], id="in-id"),
    # None matches null and missing
    pytest.param({"opt": None}, ["Ada", "bob", "dan"], id="eq-none-null-and-missing"),
    pytest.param({"opt": {"$eq": None}}, ["Ada", "bob", "dan"], id="op-eq-none"),
    pytest.param({"meta.level": None}, ["Cleo", "dan", "Eve"], id="eq-none-dotted"),
    pytest.param({"opt": {"$ne": None}}, ["Cleo", "Eve"], id="ne-none"),
    # $eq / $ne ($ne matches missing)
    pytest.param({"n": {"$eq": 3}}, ["Cleo"], id="op-eq"),
    pytest.param({"n": {"$ne": 3}}, ["Ada", "bob", "dan", "Eve"], id="ne"),
    pytest.param({"tag": {"$ne": "x"}}, ["bob", "Cleo", "dan", "Eve"], id="ne-matches-missing"),
    pytest.param({"flag": {"$ne": True}}, ["bob", "dan", "Eve"], id="ne-bool-matches-missing"),
    pytest.param({"meta.kind": {"$ne": "a"}}, ["bob", "dan", "Eve"], id="ne-dotted"),
    # comparisons on numbers
    pytest.param({"n": {"$gt": 2}}, ["Cleo", "dan", "Eve"], id="gt"),
    pytest.param({"n": {"$gte": 2}}, ["bob", "Cleo", "dan", "Eve"], id="gte"),
    pytest.param({"n": {"$lt": 3}}, ["Ada", "bob"], id="lt"),
    pytest.param({"n": {"$lte": 4.5}}, ["Ada", "bob", "Cleo", "dan"], id="lte"),
    pytest.param({"n": {"$gt": 1, "$lt": 10}}, ["bob", "Cleo", "dan"], id="gt-lt-range"),
    pytest.param({"meta.level": {"$gte": 1}}, ["Ada", "bob"], id="gte-dotted-skips-missing"),
    # comparisons on strings and ISO dates
    pytest.param({"name": {"$gt": "c"}}, ["dan"], id="gt-string-binary-order"),
    pytest.param(
        {"when": {"$gte": "2024-02-01", "$lt": "2024-03-01"}}, ["bob", "Cleo"], id="date-range"
    ),
    pytest.param({"when": {"$gt": "2024-03-31"}}, ["dan", "Eve"], id="date-gt-day-vs-timestamp"),
    pytest.param({"when": {"$lte": "2024-12-31"}}, ["Ada", "bob", "Cleo", "dan"], id="date-lte"),
    # $in / $nin
    pytest.param({"n": {"$in": [1, 3, 99]}}, ["Ada", "Cleo"], id="in-int"),
    pytest.param({"name": {"$in": ["dan", "Ada", "zed"]}}, ["Ada", "dan"], id="in-string"),
    pytest.param({"flag": {"$in": [False]}}, ["bob", "dan"], id="in-bool"),
    pytest.param({"opt": {"$in": [None, 0]}}, ["Ada", "bob", "Cleo", "dan"], id="in-with-none"),
    pytest.param({"opt": {"$in": [None]}}, ["Ada", "bob", "dan"], id="in-only-none"),
    pytest.param({"n": {"$in": []}}, [], id="in-empty"),
    pytest.param({"n": {"$nin": [1, 3]}}, ["bob", "dan", "Eve"], id="nin-int"),
    pytest.param({"opt": {"$nin": [0]}}, ["Ada", "bob", "dan", "Eve"], id="nin-matches-missing"),
    pytest.param({"opt": {"$nin": [None]}}, ["Cleo", "Eve"], id="nin-none"),
    pytest.param({"opt": {"$nin": [None, "set"]}}, ["Cleo"], id="nin-none-and-value"),
    pytest.param({"n": {"$nin": []}}, ALL, id="nin-empty"),
    # $exists (a null value exists)
    pytest.param({"opt": {"$exists": True}}, ["Ada", "Cleo", "Eve"], id="exists-true-incl-null"),
    pytest.param({"opt": {"$exists": False}}, ["bob", "dan"], id="exists-false"),
    pytest.param({"meta.kind": {"$exists": False}}, ["dan", "Eve"], id="exists-false-dotted"),
    pytest.param({"meta.level": {"$exists": True}}, ["Ada", "bob"], id="exists-true-dotted"),
    # $regex, with $options "i"
    pytest.param({"name": {"$regex": "^[a-d]"}}, ["bob", "dan"], id="regex"),
    pytest.param({"name": {"$regex": "e"}}, ["Cleo", "Eve"], id="regex-unanchored"),
    pytest.param(
        {"name": {"$regex": "^[a-d]", "$options": "i"}},
        ["Ada", "bob", "Cleo", "dan"],
        id="regex-ignore-case",
    ),
    pytest.param(
        {"meta.kind": {"$regex": "^A$", "$options": "i"}}, ["Ada", "Cleo"], id="regex-dotted"
    ),
    pytest.param({"tag": {"$regex": "."}}, ["Ada", "bob"], id="regex-skips-missing"),
    # $and / $or, nested, mixed with plain fields
    pytest.param({"$or": [{"n": 1}, {"name": "Eve"}]}, ["Ada", "Eve"], id="or"),
    pytest.param(
        {"$and": [{"n": {"$gt": 1}}, {"n": {"$lt": 4}}]}, ["bob", "Cleo"], id="and-same-field"
    ),
    pytest.param(
        {"flag": True, "$or": [{"meta.kind": "b"}, {"n": {"$gte": 3}}]}, ["Cleo"], id="field-and-or"
    ),
    pytest.param(
        {"$or": [{"$and": [{"flag": False}, {"n": {"$lt": 3}}]}, {"opt": "set"}]},
        ["bob", "Eve"],
        id="or-of-and",
    ),
    pytest.param(
        {
            "name": {"$regex": "^[A-Z]"},
            "$or": [{"n": {"$in": [1, 10]}}, {"when": {"$gte": "2024-02-15"}}],
            "flag": {"$ne": False},
        },
        ["Ada", "Cleo", "Eve"],
        id="regex-or-in-ne-mixed",
    ),
]


@pytest.fixture(params=[PEOPLE_PLAIN, PEOPLE_DECLARED])
async def people(request: pytest.FixtureRequest, store: DocumentStore) -> str:
    collection: str = request.param
    await store.insert_many(collection, PEOPLE)
    return collection


@pytest.mark.parametrize(("filter", "expected"), FILTER_CASES)
async def test_filter(
    store: DocumentStore, people: str, filter: Filter | None, expected: list[str]
) -> None:
    assert await names(store, people, filter) == expected
    assert await store.count(people, filter) == len(expected)


async def test_filter_does_not_mutate_its_argument(store: DocumentStore, people: str) -> None:
    filter = {"opt": {"$in": [None, 0]}, "$or": [{"n": {"$gte": 1}}]}
    await store.find(people, filter)
    assert filter == {"opt": {"$in": [None, 0]}, "$or": [{"n": {"$gte": 1}}]}


# --- sort, skip, limit --------------------------------------------------------------------


async def test_default_order_is_by_id(store: DocumentStore, people: str) -> None:
    assert await names(store, people) == ALL


async def test_sort_ascending_and_descending(store: DocumentStore, people: str) -> None:
    assert await names(store, people, sort=[("n", -1)]) == ["Eve", "dan", "Cleo", "bob", "Ada"]
    assert await names(store, people, sort=[("when", 1)]) == ["Ada", "bob", "Cleo", "dan", "Eve"]
    assert await names(store, people, sort=[("name", 1)]) == ["Ada", "Cleo", "Eve", "bob", "dan"]
    assert await names(store, people, sort=[("_id", -1)]) == list(reversed(ALL))


async def test_sort_puts_missing_first_ascending_and_last_descending(
    store: DocumentStore, people: str
) -> None:
    ascending = await names(store, people, sort=[("meta.level", 1)])
    assert ascending == ["Cleo", "dan", "Eve", "Ada", "bob"]
    descending = await names(store, people, sort=[("meta.level", -1)])
    assert descending == ["bob", "Ada", "Eve", "dan", "Cleo"]  # ties: newest id first


async def test_sort_on_several_keys(store: DocumentStore, people: str) -> None:
    by_kind_then_n = await names(store, people, sort=[("meta.kind", 1), ("n", -1)])
    assert by_kind_then_n == ["Eve", "dan", "Cleo", "Ada", "bob"]
    by_flag_then_name = await names(store, people, sort=[("flag", -1), ("name", -1)])
    assert by_flag_then_name == ["Cleo", "Ada", "dan", "bob", "Eve"]


async def test_ties_follow_the_id_in_the_first_keys_direction(store: DocumentStore) -> None:
    ids = [await insert_thing(store, {"day": "2026-11-30", "n": n}) for n in range(3)]
    newest_first = await store.find(THINGS, sort=[("day", -1)])
    assert [d["_id"] for d in newest_first] == sorted(ids, reverse=True)
    oldest_first = await store.find(THINGS, sort=[("day", 1), ("n", -1)])
    assert [d["_id"] for d in oldest_first] == sorted(ids, reverse=True)  # n decides first
    assert [d["_id"] for d in await store.find(THINGS, sort=[("day", 1)])] == sorted(ids)


async def test_skip_and_limit(store: DocumentStore, people: str) -> None:
    by_n = [("n", 1)]
    assert [d["name"] for d in await store.find(people, sort=by_n, limit=2)] == ["Ada", "bob"]
    assert [d["name"] for d in await store.find(people, sort=by_n, skip=3)] == ["dan", "Eve"]
    page = await store.find(people, {"n": {"$gt": 1}}, sort=by_n, skip=1, limit=2)
    assert [d["name"] for d in page] == ["Cleo", "dan"]
    assert await store.find(people, sort=by_n, skip=5) == []
    assert len(await store.find(people, limit=10)) == 5


# --- updates ------------------------------------------------------------------------------


async def insert_thing(store: DocumentStore, doc: Doc) -> str:
    stored = await store.insert_one(THINGS, doc)
    return str(stored["_id"])


async def test_set_top_level_values_of_every_json_type(store: DocumentStore) -> None:
    doc_id = await insert_thing(store, {"name": "a", "n": 1})
    update = {"name": "b", "n": 2.5, "ok": False, "none": None, "list": [1, {"x": "y"}]}
    after = await store.update_one(THINGS, {"_id": doc_id}, {"$set": update})
    assert after == {"_id": doc_id, **update}
    assert await store.find_one(THINGS, {"_id": doc_id}) == after


async def test_set_dotted_path_creates_intermediate_objects_and_keeps_siblings(
    store: DocumentStore,
) -> None:
    doc_id = await insert_thing(store, {"meta": {"kind": "x"}})
    after = await store.update_one(
        THINGS, {"_id": doc_id}, {"$set": {"meta.level": 2, "deep.er.path": "v"}}
    )
    assert after == {
        "_id": doc_id,
        "meta": {"kind": "x", "level": 2},
        "deep": {"er": {"path": "v"}},
    }
    assert await store.count(THINGS, {"deep.er.path": "v", "meta.kind": "x"}) == 1


async def test_set_replaces_a_whole_object(store: DocumentStore) -> None:
    doc_id = await insert_thing(store, {"meta": {"kind": "x", "level": 1}})
    after = await store.update_one(THINGS, {"_id": doc_id}, {"$set": {"meta": {"other": True}}})
    assert after == {"_id": doc_id, "meta": {"other": True}}


async def test_inc_existing_missing_negative_float_and_nested(store: DocumentStore) -> None:
    doc_id = await insert_thing(store, {"n": 5, "f": 1.5, "sub": {"m": 1}})
    after = await store.update_one(
        THINGS,
        {"_id": doc_id},
        {"$inc": {"n": 2, "fresh": 3, "f": -0.5, "sub.m": -4, "sub.new.k": 7}},
    )
    assert after == {
        "_id": doc_id,
        "n": 7,
        "f": 1.0,
        "sub": {"m": -3, "new": {"k": 7}},
        "fresh": 3,
    }


async def test_push_onto_missing_and_existing_arrays(store: DocumentStore) -> None:
    doc_id = await insert_thing(store, {"tags": ["a"]})
    after = await store.update_one(
        THINGS, {"_id": doc_id}, {"$push": {"tags": "b", "log": {"at": 1}, "sub.list": 1}}
    )
    assert after == {"_id": doc_id, "tags": ["a", "b"], "log": [{"at": 1}], "sub": {"list": [1]}}
    again = await store.update_one(THINGS, {"_id": doc_id}, {"$push": {"log": {"at": 2}}})
    assert again is not None
    assert again["log"] == [{"at": 1}, {"at": 2}]


async def test_unset_top_level_nested_and_missing(store: DocumentStore) -> None:
    doc_id = await insert_thing(store, {"a": 1, "b": 2, "meta": {"kind": "x", "level": 1}})
    after = await store.update_one(
        THINGS, {"_id": doc_id}, {"$unset": {"a": "", "meta.level": "", "nothing": ""}}
    )
    assert after == {"_id": doc_id, "b": 2, "meta": {"kind": "x"}}
    assert await store.count(THINGS, {"a": {"$exists": True}}) == 0


async def test_several_operators_in_one_update(store: DocumentStore) -> None:
    doc_id = await insert_thing(store, {"n": 1, "tmp": True, "log": []})
    after = await store.update_one(
        THINGS,
        {"_id": doc_id},
        {"$set": {"state": "done"}, "$inc": {"n": 1}, "$push": {"log": "x"}, "$unset": {"tmp": ""}},
    )
    assert after == {"_id": doc_id, "n": 2, "log": ["x"], "state": "done"}


async def test_update_one_changes_only_the_first_match_by_id(store: DocumentStore) -> None:
    await store.insert_many(THINGS, [{"_id": oid(i), "k": "same"} for i in (3, 1, 2)])
    after = await store.update_one(THINGS, {"k": "same"}, {"$set": {"hit": True}})
    assert after == {"_id": oid(1), "k": "same", "hit": True}
    assert ids(await store.find(THINGS, {"hit": True})) == [oid(1)]


async def test_update_one_without_match_answers_none_and_creates_nothing(
    store: DocumentStore,
) -> None:
    await insert_thing(store, {"k": 1})
    assert await store.update_one(THINGS, {"k": 2}, {"$set": {"x": 1}}) is None
    assert await store.find(THINGS, {"x": 1}) == []
    assert await store.count(THINGS) == 1


async def test_update_many_answers_the_number_matched(store: DocumentStore) -> None:
    await store.insert_many(
        THINGS,
        [
            {"_id": oid(1), "k": 1, "n": 0},
            {"_id": oid(2), "k": 1, "n": 5},
            {"_id": oid(3), "k": 2, "n": 0},
        ],
    )
    assert await store.update_many(THINGS, {"k": 1}, {"$inc": {"n": 1}}) == 2
    assert [doc["n"] for doc in await store.find(THINGS)] == [1, 6, 0]
    assert await store.update_many(THINGS, {"k": 9}, {"$inc": {"n": 1}}) == 0


async def test_update_many_counts_documents_that_already_held_the_value(
    store: DocumentStore,
) -> None:
    await store.insert_many(THINGS, [{"state": "open"}, {"state": "done"}])
    assert await store.update_many(THINGS, {}, {"$set": {"state": "done"}}) == 2
    assert await store.count(THINGS, {"state": "done"}) == 2


# --- delete -------------------------------------------------------------------------------


async def test_delete_one_removes_only_the_first_match(store: DocumentStore) -> None:
    await store.insert_many(THINGS, [{"_id": oid(i), "k": "same"} for i in (2, 1, 3)])
    assert await store.delete_one(THINGS, {"k": "same"}) is True
    assert ids(await store.find(THINGS)) == [oid(2), oid(3)]
    assert await store.delete_one(THINGS, {"k": "other"}) is False
    assert await store.count(THINGS) == 2


async def test_delete_one_with_an_id_condition_removes_one_document(
    store: DocumentStore,
) -> None:
    await store.insert_many(THINGS, [{"_id": oid(1)}, {"_id": oid(2)}])
    assert await store.delete_one(THINGS, {"_id": {"$in": [oid(1), oid(2)]}}) is True
    assert ids(await store.find(THINGS)) == [oid(2)]


async def test_delete_many_answers_the_number_deleted(store: DocumentStore) -> None:
    await store.insert_many(THINGS, [{"k": 1}, {"k": 1}, {"k": 2}, {"other": 1}])
    assert await store.delete_many(THINGS, {"k": 1}) == 2
    assert await store.delete_many(THINGS, {"k": 1}) == 0
    assert [doc.get("k") for doc in await store.find(THINGS)] == [2, None]
    assert await store.delete_many(THINGS, {}) == 2
    assert await store.count(THINGS) == 0


# --- sum_by -------------------------------------------------------------------------------


def ledger_line(account: str, side: str, amount: int, when: str, qty: int | None = None) -> Doc:
    center = "north" if side == "credit" else "south"
    line: Doc = {"account": account, "side": side, "amount": amount, "when": when}
    line["dims"] = {"center": center}
    if qty is not None:
        line["qty"] = qty
    return line


LEDGER: list[Doc] = [
    ledger_line("4000", "credit", 1000, "2024-01-10", qty=1),
    ledger_line("4000", "credit", 2500, "2024-02-10", qty=2),
    ledger_line("4000", "debit", 300, "2024-02-11", qty=1),
    ledger_line("1200", "debit", 3200, "2024-02-12", qty=3),
    ledger_line("1200", "credit", 7, "2024-03-01"),  # no qty: it sums as nothing
]


@pytest.fixture(params=[LEDGER_PLAIN, LEDGER_DECLARED])
async def ledger(request: pytest.FixtureRequest, store: DocumentStore) -> str:
    collection: str = request.param
    await store.insert_many(collection, LEDGER)
    return collection


def by_keys(rows: list[Doc], keys: Sequence[str]) -> list[Doc]:
    return sorted(rows, key=lambda row: tuple(str(row[k]) for k in keys))


async def test_sum_by_one_key(store: DocumentStore, ledger: str) -> None:
    rows = await store.sum_by(ledger, None, ["account"], ["amount", "qty"])
    assert by_keys(rows, ["account"]) == [
        {"account": "1200", "amount": 3207, "qty": 3, "count": 2},
        {"account": "4000", "amount": 3800, "qty": 4, "count": 3},
    ]


async def test_sum_by_two_keys(store: DocumentStore, ledger: str) -> None:
    rows = await store.sum_by(ledger, {}, ["account", "side"], ["amount"])
    assert by_keys(rows, ["account", "side"]) == [
        {"account": "1200", "side": "credit", "amount": 7, "count": 1},
        {"account": "1200", "side": "debit", "amount": 3200, "count": 1},
        {"account": "4000", "side": "credit", "amount": 3500, "count": 2},
        {"account": "4000", "side": "debit", "amount": 300, "count": 1},
    ]


async def test_sum_by_a_dotted_key_with_a_filter(store: DocumentStore, ledger: str) -> None:
    filter = {"when": {"$gte": "2024-02-01", "$lt": "2024-03-01"}}
    rows = await store.sum_by(ledger, filter, ["dims.center"], ["amount", "qty"])
    assert by_keys(rows, ["dims.center"]) == [
        {"dims.center": "north", "amount": 2500, "qty": 2, "count": 1},
        {"dims.center": "south", "amount": 3500, "qty": 4, "count": 2},
    ]


async def test_sum_by_nothing_is_a_grand_total(store: DocumentStore, ledger: str) -> None:
    assert await store.sum_by(ledger, None, [], ["amount", "qty"]) == [
        {"amount": 7007, "qty": 7, "count": 5}
    ]
    assert await store.sum_by(ledger, {"side": "debit"}, [], ["amount"]) == [
        {"amount": 3500, "count": 2}
    ]


async def test_sum_by_counts_without_sums(store: DocumentStore, ledger: str) -> None:
    rows = await store.sum_by(ledger, {"account": "4000"}, ["side"], [])
    assert by_keys(rows, ["side"]) == [
        {"side": "credit", "count": 2},
        {"side": "debit", "count": 1},
    ]


async def test_sum_by_over_no_match_is_empty(store: DocumentStore, ledger: str) -> None:
    assert await store.sum_by(ledger, {"account": "9999"}, [], ["amount"]) == []
    assert await store.sum_by(ledger, {"account": "9999"}, ["side"], ["amount"]) == []


# --- unique indexes -----------------------------------------------------------------------


async def test_unique_index_rejects_a_duplicate_insert(store: DocumentStore) -> None:
    first = await store.insert_one(USERS, {"email": "a@x.io", "name": "first"})
    with pytest.raises(DuplicateKeyError) as caught:
        await store.insert_one(USERS, {"email": "a@x.io", "name": "second"})
    assert caught.value.collection == USERS
    assert caught.value.keys == ("email",)
    assert await store.find(USERS) == [first]


async def test_unique_index_ignores_missing_and_null_values(store: DocumentStore) -> None:
    await store.insert_many(
        USERS, [{"name": "a"}, {"name": "b"}, {"name": "c", "email": None}, {"email": None}]
    )
    assert await store.count(USERS) == 4


async def test_unique_index_rejects_an_update_into_a_taken_value(store: DocumentStore) -> None:
    await store.insert_one(USERS, {"email": "a@x.io"})
    other = await store.insert_one(USERS, {"email": "b@x.io"})
    with pytest.raises(DuplicateKeyError) as caught:
        await store.update_one(USERS, {"_id": other["_id"]}, {"$set": {"email": "a@x.io"}})
    assert caught.value.collection == USERS
    assert await store.find_one(USERS, {"_id": other["_id"]}) == other
    assert await store.count(USERS, {"email": "a@x.io"}) == 1


async def test_unique_index_frees_a_value_that_was_changed(store: DocumentStore) -> None:
    doc = await store.insert_one(USERS, {"email": "a@x.io"})
    await store.update_one(USERS, {"_id": doc["_id"]}, {"$set": {"email": "c@x.io"}})
    await store.insert_one(USERS, {"email": "a@x.io"})
    assert await store.count(USERS, {"email": {"$in": ["a@x.io", "c@x.io"]}}) == 2


async def test_composite_unique_key_with_an_absent_field(store: DocumentStore) -> None:
    await store.insert_many(
        ENTRIES,
        [
            {"company": "c1", "number": 1},
            {"company": "c1", "number": 1},
            {"company": "c1", "number": 1, "branch": "b1"},
            {"company": "c1", "number": 1, "branch": "b2"},
            {"company": "c2", "number": 1, "branch": "b1"},
        ],
    )
    with pytest.raises(DuplicateKeyError) as caught:
        await store.insert_one(ENTRIES, {"company": "c1", "number": 1, "branch": "b1"})
    assert caught.value.collection == ENTRIES
    assert caught.value.keys == ("company", "number", "branch")
    assert await store.count(ENTRIES) == 5


async def test_duplicate_id_is_a_duplicate_key(store: DocumentStore) -> None:
    await store.insert_one(THINGS, {"_id": oid(1), "v": 1})
    with pytest.raises(DuplicateKeyError) as caught:
        await store.insert_one(THINGS, {"_id": oid(1), "v": 2})
    assert caught.value.keys == ("_id",)
    assert await store.find(THINGS) == [{"_id": oid(1), "v": 1}]


# --- counters -----------------------------------------------------------------------------


async def test_next_value_counts_from_start_per_counter(store: DocumentStore) -> None:
    assert [await store.next_value("invoices") for _ in range(3)] == [1, 2, 3]
    assert await store.next_value("orders", start=100) == 100
    assert await store.next_value("orders", start=100) == 101
    assert await store.next_value("invoices", start=50) == 4
    assert await store.next_value("credit_notes", start=0) == 0
    assert await store.next_value("orders") == 102


async def test_raise_counter_only_moves_a_counter_up(store: DocumentStore) -> None:
    assert await store.raise_counter("invoices", 0) == 0
    assert await store.next_value("invoices") == 1
    assert await store.raise_counter("invoices", 10) == 10
    assert await store.raise_counter("invoices", 5) == 10
    assert await store.next_value("invoices") == 11
    assert await store.raise_counter("orders", 41) == 41
    assert await store.next_value("orders", start=1) == 42
    with pytest.raises(Boom):
        async with store.transaction():
            assert await store.raise_counter("invoices", 100) == 100
            raise Boom
    assert await store.next_value("invoices") == 12


# --- transactions -------------------------------------------------------------------------


async def test_transaction_rolls_back_every_write_on_error(store: DocumentStore) -> None:
    kept = await store.insert_one(THINGS, {"n": 1})
    number = await store.next_value("tx")
    with pytest.raises(Boom):
        async with store.transaction():
            await store.insert_many(THINGS, [{"new": 1}, {"new": 2}])
            await store.update_one(THINGS, {"_id": kept["_id"]}, {"$inc": {"n": 10}})
            await store.next_value("tx")
            assert await store.count(THINGS, {"new": {"$exists": True}}) == 2
            raise Boom
    assert await store.find(THINGS) == [kept]
    assert await store.next_value("tx") == number + 1


async def test_transaction_commits_every_write(store: DocumentStore) -> None:
    kept = await store.insert_one(THINGS, {"n": 1})
    async with store.transaction():
        await store.insert_one(THINGS, {"new": 1})
        await store.insert_one(THINGS, {"new": 2})
        await store.update_one(THINGS, {"_id": kept["_id"]}, {"$inc": {"n": 10}})
    assert await store.count(THINGS, {"new": {"$in": [1, 2]}}) == 2
    assert await store.find_one(THINGS, {"_id": kept["_id"]}) == {"_id": kept["_id"], "n": 11}


async def test_collection_first_used_in_a_rolled_back_transaction_works_after(
    store: DocumentStore,
) -> None:
    with pytest.raises(Boom):
        async with store.transaction():
            await store.insert_one(USERS, {"email": "a@x.io"})
            await store.insert_one(THINGS, {"n": 1})
            raise Boom
    assert await store.count(THINGS) == 0
    assert await store.find(USERS, {"email": "a@x.io"}) == []
    await store.insert_one(USERS, {"email": "a@x.io"})
    with pytest.raises(DuplicateKeyError):
        await store.insert_one(USERS, {"email": "a@x.io"})


async def test_nested_transaction_error_rolls_back_the_outer_one(store: DocumentStore) -> None:
    with pytest.raises(Boom):
        async with store.transaction():
            await store.insert_one(THINGS, {"step": "outer"})
            async with store.transaction():
                await store.insert_one(THINGS, {"step": "inner"})
                raise Boom
    assert await store.count(THINGS) == 0


async def test_nested_transaction_commits_only_with_the_outer_one(store: DocumentStore) -> None:
    with pytest.raises(Boom):
        async with store.transaction():
            async with store.transaction():
                await store.insert_one(THINGS, {"step": "inner"})
            await store.insert_one(THINGS, {"step": "outer"})
            raise Boom
    assert await store.count(THINGS) == 0
    async with store.transaction():
        async with store.transaction():
            await store.insert_one(THINGS, {"step": "inner"})
        await store.insert_one(THINGS, {"step": "outer"})
    assert sorted(doc["step"] for doc in await store.find(THINGS)) == ["inner", "outer"]


async def test_duplicate_key_in_a_transaction_rolls_back_its_earlier_writes(
    store: DocumentStore,
) -> None:
    await store.insert_one(USERS, {"email": "taken@x.io"})
    kept = await store.insert_one(THINGS, {"n": 1})
    with pytest.raises(DuplicateKeyError):
        async with store.transaction():
            await store.insert_one(THINGS, {"new": True})
            await store.update_one(THINGS, {"_id": kept["_id"]}, {"$set": {"n": 2}})
            await store.insert_one(USERS, {"email": "taken@x.io"})
    assert await store.find(THINGS) == [kept]
    assert await store.count(USERS) == 1


# --- errors -------------------------------------------------------------------------------

BAD_FILTERS = [
    pytest.param({"n": {"$near": 1}}, id="unknown-field-operator"),
    pytest.param({"$where": "true"}, id="unknown-top-level-operator"),
    pytest.param({"$or": [{"n": 1}, {"n": {"$size": 1}}]}, id="unknown-operator-inside-or"),
    pytest.param({"a;drop": 1}, id="bad-path"),
    pytest.param({"n": {"$gt": 1}, "x') OR 1=1 --": 1}, id="bad-path-injection"),
    pytest.param({"$and": [{"ok.b-c": 1}]}, id="bad-path-inside-and"),
]


@pytest.mark.parametrize("filter", BAD_FILTERS)
async def test_unsupported_filter_is_a_query_error(store: DocumentStore, filter: Filter) -> None:
    await insert_thing(store, {"n": 1})
    with pytest.raises(QueryError):
        await store.find(THINGS, filter)
    with pytest.raises(QueryError):
        await store.count(THINGS, filter)
    with pytest.raises(QueryError):
        await store.update_many(THINGS, filter, {"$set": {"x": 1}})
    with pytest.raises(QueryError):
        await store.delete_many(THINGS, filter)
    assert await store.find(THINGS, {"x": {"$exists": True}}) == []
    assert await store.count(THINGS) == 1


BAD_UPDATES = [
    pytest.param({"$rename": {"n": "m"}}, id="unknown-update-operator"),
    pytest.param({"$set": {"a;drop": 1}}, id="bad-path-in-set"),
    pytest.param({"$inc": {"n); DROP TABLE conf_things; --": 1}}, id="bad-path-in-inc"),
    pytest.param({"$set": {"_id": oid(5)}}, id="set-id"),
]


@pytest.mark.parametrize("update", BAD_UPDATES)
async def test_unsupported_update_is_a_query_error(store: DocumentStore, update: Doc) -> None:
    doc_id = await insert_thing(store, {"n": 1})
    with pytest.raises(QueryError):
        await store.update_one(THINGS, {"_id": doc_id}, update)
    with pytest.raises(QueryError):
        await store.update_many(THINGS, {}, update)
    assert await store.find(THINGS) == [{"_id": doc_id, "n": 1}]


# --- connection ---------------------------------------------------------------------------


async def test_ping(store: DocumentStore) -> None:
    await store.ping()


@pytest.mark.skipif(not mongo_url(), reason=f"{MONGO_URL_ENV} is not set: MongoStore untested")
async def test_mongodb_is_configured() -> None:
    store = open_store(Backend("mongo", mongo_url(), "conformance_ping"))
    try:
        await store.ping()
    finally:
        await store.close()


# --- several OS processes -----------------------------------------------------------------

ROUNDS = 1000
WORKERS = 2


def start_worker(backend: Backend, collection: str, doc_id: str) -> subprocess.Popen[str]:
    args = [backend.kind, backend.location, backend.database, collection, doc_id, str(ROUNDS)]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.memory.counter_worker", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line != "ready\n":
        proc.kill()
        _, stderr = proc.communicate()
        pytest.fail(f"worker did not start: {line!r}\n{stderr}")


def run_workers(backend: Backend, collection: str, doc_id: str) -> list[dict]:
    """Start the workers, release them together, answer each one's report."""
    procs = [start_worker(backend, collection, doc_id) for _ in range(WORKERS)]
    try:
        for proc in procs:
            wait_ready(proc)
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=60) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (_, stderr) in zip(procs, outputs, strict=True):
        assert (proc.returncode, stderr) == (0, "")
    return [json.loads(stdout) for stdout, _ in outputs]


async def test_processes_share_counters_and_increments_exactly(
    backend: Backend, store: DocumentStore
) -> None:
    doc = await store.insert_one(THINGS, {"n": 0})
    reports = await asyncio.to_thread(run_workers, backend, THINGS, doc["_id"])
    results = [report["values"] for report in reports]
    total = WORKERS * ROUNDS
    assert sorted(value for values in results for value in values) == list(range(1, total + 1))
    for values in results:
        assert values == sorted(values)
    # The workers ran at the same time (each began before the other ended). Whether their
    # values interleave is up to the lock's fairness: one may win every round.
    first, second = reports
    assert first["started"] < second["finished"] and second["started"] < first["finished"], (
        "the workers never ran at the same time"
    )
    assert await store.find_one(THINGS, {"_id": doc["_id"]}) == {"_id": doc["_id"], "n": total}
    assert await store.next_value("shared") == total + 1
