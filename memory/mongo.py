"""The production document store: MongoDB through PyMongo's `AsyncMongoClient`.

Filters and updates pass through unchanged (the port is MongoDB's own language). `_id` is
kept as the 24-hex string so both adapters hand out the same ids. Multi-document
transactions need a replica set, which docker-compose.yml provides.

A declared `TextIndex` is the collection's one text index (named `text`, English stemming
and stop words, the fields' weights; rebuilt when the declaration changes; MongoDB indexes
the documents already there). `search_text` is a `$text` query of the words alone, each one
plain (no quotes, no `-`), with the key pins as equality conditions, sorted by `textScore`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from pymongo import ASCENDING, DESCENDING, TEXT, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, OperationFailure, PyMongoError
from pymongo.errors import DuplicateKeyError as MongoDuplicateKeyError

from memory.ids import new_id
from memory.store import (
    Doc,
    DocumentStore,
    DuplicateKeyError,
    Filter,
    QueryError,
    Sort,
    StoreBusyError,
    TextHit,
    TextIndex,
    Update,
    plain_indexes,
    spec_for,
    text_pins,
    text_words,
    tie_break,
)

PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
TEXT_INDEX = "text"
SCORE = "_text_score"
"""Where a found document carries its text score until it is answered (then removed)."""
INDEX_CONFLICTS = (85, 86)  # IndexOptionsConflict, IndexKeySpecsConflict
FIELD_OPERATORS = frozenset(
    ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex", "$options")
)


class MongoStore(DocumentStore):
    def __init__(self, url: str, database: str):
        self._client: AsyncMongoClient[Doc] = AsyncMongoClient(url, tz_aware=True)
        self._db = self._client[database]
        self._session: ContextVar[AsyncClientSession | None] = ContextVar(
            f"mongo_session_{id(self)}", default=None
        )
        self._ready: set[str] = set()

    async def _coll(self, name: str) -> Any:
        if name not in self._ready:
            spec = spec_for(name)
            for keys in plain_indexes(spec, unique_serves=False):
                await self._db[name].create_index([(k, ASCENDING) for k in keys])
            for keys in spec.unique:
                partial = {
                    k: {"$exists": True, "$type": ["string", "number", "bool"]} for k in keys
                }
                await self._db[name].create_index(
                    [(k, ASCENDING) for k in keys], unique=True, partialFilterExpression=partial
                )
            if spec.text is not None:
                await self._text_index(name, spec.text)
            self._ready.add(name)
        return self._db[name]

    async def _text_index(self, name: str, text: TextIndex) -> None:
        """The collection's text index as declared; one declared otherwise is replaced."""
        options: dict[str, Any] = {
            "name": TEXT_INDEX,
            "weights": dict(zip(text.fields, text.weights, strict=True)),
            "default_language": "english",
            "language_override": "_text_language",  # not a document's own `language`
        }
        keys = [(f, TEXT) for f in text.fields]
        try:
            await self._db[name].create_index(keys, **options)
        except OperationFailure as error:
            if error.code not in INDEX_CONFLICTS:
                raise
            await self._db[name].drop_index(TEXT_INDEX)
            await self._db[name].create_index(keys, **options)

    def _kw(self) -> dict[str, Any]:
        session = self._session.get()
        return {"session": session} if session is not None else {}

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if self._session.get() is not None:
            yield
            return
        try:
            async with self._client.start_session() as session, await session.start_transaction():
                token = self._session.set(session)
                try:
                    yield
                finally:
                    self._session.reset(token)
        except PyMongoError as error:
            if is_transient(error):
                raise StoreBusyError("a concurrent write conflicted with this one") from error
            raise

    async def insert_one(self, collection: str, doc: Doc) -> Doc:
        return (await self.insert_many(collection, [doc]))[0]

    async def insert_many(self, collection: str, docs: Sequence[Doc]) -> list[Doc]:
        stored = [doc if "_id" in doc else {"_id": new_id(), **doc} for doc in docs]
        if not stored:
            return []
        coll = await self._coll(collection)
        try:
            await coll.insert_many([dict(d) for d in stored], ordered=True, **self._kw())
        except BulkWriteError as error:
            first = (error.details.get("writeErrors") or [{}])[0]
            if first.get("code") == 11000:
                keys = tuple((first.get("keyPattern") or {}).keys())
                raise DuplicateKeyError(collection, keys) from error
            raise
        except MongoDuplicateKeyError as error:
            raise DuplicateKeyError(collection, _keys(error)) from error
        except OperationFailure as error:
            if error.code == 11000:
                raise DuplicateKeyError(collection, _keys(error)) from error
            raise
        return stored

    async def find(
        self,
        collection: str,
        filter: Filter | None = None,
        *,
        sort: Sort = (),
        skip: int = 0,
        limit: int = 0,
    ) -> list[Doc]:
        _check_filter(filter)
        coll = await self._coll(collection)
        order = [(p, DESCENDING if d < 0 else ASCENDING) for p, d in sort]
        if not any(p == "_id" for p, _ in sort):
            order.append(("_id", DESCENDING if tie_break(sort) < 0 else ASCENDING))
        cursor = coll.find(filter or {}, sort=order, skip=skip, limit=limit, **self._kw())
        return [doc async for doc in cursor]

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        _check_filter(filter)
        coll = await self._coll(collection)
        return await coll.count_documents(filter or {}, **self._kw())

    async def update_one(self, collection: str, filter: Filter, update: Update) -> Doc | None:
        _check_filter(filter)
        _check_update(update)
        coll = await self._coll(collection)
        try:
            return await coll.find_one_and_update(
                filter,
                update,
                sort=[("_id", ASCENDING)],
                return_document=ReturnDocument.AFTER,
                **self._kw(),
            )
        except MongoDuplicateKeyError as error:
            raise DuplicateKeyError(collection, _keys(error)) from error

    async def update_many(self, collection: str, filter: Filter, update: Update) -> int:
        _check_filter(filter)
        _check_update(update)
        coll = await self._coll(collection)
        try:
            result = await coll.update_many(filter, update, **self._kw())
        except MongoDuplicateKeyError as error:
            raise DuplicateKeyError(collection, _keys(error)) from error
        return result.matched_count

    async def delete_many(self, collection: str, filter: Filter) -> int:
        _check_filter(filter)
        coll = await self._coll(collection)
        return (await coll.delete_many(filter, **self._kw())).deleted_count

    async def sum_by(
        self, collection: str, filter: Filter | None, by: Sequence[str], sums: Sequence[str]
    ) -> list[Doc]:
        _check_filter(filter)
        coll = await self._coll(collection)
        group: dict[str, Any] = {"_id": {f"k{i}": f"${p}" for i, p in enumerate(by)} or None}
        for i, path in enumerate(sums):
            group[f"s{i}"] = {"$sum": f"${path}"}
        group["count"] = {"$sum": 1}
        pipeline = [{"$match": filter or {}}, {"$group": group}]
        out = []
        async for row in await coll.aggregate(pipeline, **self._kw()):
            values = {p: (row["_id"] or {}).get(f"k{i}") for i, p in enumerate(by)}
            values.update({p: row[f"s{i}"] for i, p in enumerate(sums)})
            values["count"] = row["count"]
            out.append(values)
        return out

    async def search_text(
        self, collection: str, text: str, filter: Filter | None = None, *, limit: int = 10
    ) -> list[TextHit]:
        pins = text_pins(spec_for(collection), filter)
        words = text_words(text)
        if not words or limit <= 0:
            return []
        coll = await self._coll(collection)
        cursor = coll.find(
            {"$text": {"$search": " ".join(words)}, **pins},
            {SCORE: {"$meta": "textScore"}},
            sort=[(SCORE, {"$meta": "textScore"}), ("_id", ASCENDING)],
            limit=limit,
            **self._kw(),
        )
        return [TextHit(doc, float(doc.pop(SCORE))) async for doc in cursor]

    async def next_value(self, counter: str, *, start: int = 1) -> int:
        counters = self._db["_counters"]
        doc = await counters.find_one_and_update(
            {"_id": counter},
            [{"$set": {"value": {"$add": [{"$ifNull": ["$value", start - 1]}, 1]}}}],
            upsert=True,
            return_document=ReturnDocument.AFTER,
            **self._kw(),
        )
        return int(doc["value"])

    async def raise_counter(self, counter: str, at_least: int) -> int:
        doc = await self._db["_counters"].find_one_and_update(
            {"_id": counter},
            {"$max": {"value": at_least}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            **self._kw(),
        )
        return int(doc["value"])

    async def ping(self) -> None:
        await self._client.admin.command("ping")

    async def close(self) -> None:
        await self._client.close()


def _check_path(path: str) -> None:
    if not PATH.match(path):
        raise QueryError(f"unsupported field path {path!r}")


def _check_filter(filter: Filter | None) -> None:
    """Reject what the port does not speak, as the SQLite adapter does, before MongoDB sees it."""
    for key, value in (filter or {}).items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise QueryError(f"{key} takes a non-empty list")
            for part in value:
                _check_filter(part)
        elif key.startswith("$"):
            raise QueryError(f"unsupported operator {key}")
        else:
            _check_path(key)
            if isinstance(value, dict) and any(op.startswith("$") for op in value):
                for op in value:
                    if op not in FIELD_OPERATORS:
                        raise QueryError(f"unsupported operator {op}")


def _check_update(update: Update) -> None:
    for op, fields in update.items():
        if op not in ("$set", "$inc", "$push", "$unset"):
            raise QueryError(f"unsupported update operator {op}")
        if "_id" in fields:
            raise QueryError("_id cannot be updated")
        for path in fields:
            _check_path(path)


def _keys(error: Any) -> tuple[str, ...]:
    details = getattr(error, "details", None) or {}
    return tuple((details.get("keyPattern") or {}).keys())


def is_transient(error: PyMongoError) -> bool:
    """A transaction MongoDB says may succeed if run again (a write conflict with another
    transaction, a commit whose outcome is unknown): the API answers 503 `store_busy`,
    which tells the client to retry, instead of an error of its own making."""
    return error.has_error_label("TransientTransactionError") or error.has_error_label(
        "UnknownTransactionCommitResult"
    )
