"""The document-store port: a subset of MongoDB's query language that every adapter speaks.

Filters: equality on dotted paths and `$eq $ne $gt $gte $lt $lte $in $nin $exists $regex`
(with `$options`), combined with `$and $or`. Updates: `$set $inc $push $unset`.
Documents are plain JSON values (str, int, float, bool, None, list, dict); `_id` is a
24-hex string the store assigns when absent. Money is stored as integer minor units, dates
as ISO 8601 text, so both adapters compare and sum them the same way.

A collection is declared once with `CollectionSpec`: the fields it filters, sorts and
groups on (SQLite makes them indexed generated columns), its unique keys and optionally a
full-text index (`TextIndex`; SQLite FTS5, a MongoDB text index), searched by
`search_text`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]
Filter = dict[str, Any]
Update = dict[str, Any]
Sort = Sequence[tuple[str, int]]


def tie_break(sort: Sort) -> int:
    """The direction of the `_id` order that breaks ties: the first key's, so "newest first"
    lists two documents stamped in the same millisecond newest first too (ids grow)."""
    return sort[0][1] if sort else 1


class StoreError(Exception):
    """Base of the store's own errors."""


class DuplicateKeyError(StoreError):
    """A write would break a unique index."""

    def __init__(self, collection: str, keys: tuple[str, ...] = ()):
        self.collection = collection
        self.keys = keys
        super().__init__(f"duplicate key in {collection} {keys or ''}".strip())


class StoreBusyError(StoreError):
    """The store stayed locked by other writers for longer than the write deadline."""


class QueryError(StoreError, ValueError):
    """A filter, update or path the port does not speak."""


TEXT_MOST_KEYS = 4
"""Keys of a text index at most (SQLite indexes every combination of their values)."""


@dataclass(frozen=True)
class TextIndex:
    """A collection's full-text index: the text fields searched (dotted paths), each with its
    weight (an integer, 1 by default; a word in a field of weight 3 counts three times), and
    the keys a search may pin by equality (`company_id` for tenancy, a status, a locale).
    Keys hold scalars (text, integers, booleans or null); at most `TEXT_MOST_KEYS`."""

    fields: tuple[str, ...]
    weights: tuple[int, ...] = ()
    keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.fields:
            raise ValueError("a text index needs at least one field")
        if not self.weights:
            object.__setattr__(self, "weights", (1,) * len(self.fields))
        if len(self.weights) != len(self.fields) or min(self.weights) < 1:
            raise ValueError("one positive integer weight per text field")
        if len(self.keys) > TEXT_MOST_KEYS:
            raise ValueError(f"a text index has at most {TEXT_MOST_KEYS} keys")


@dataclass(frozen=True)
class TextHit:
    """A document found by `search_text` and its relevance (higher is better)."""

    doc: Doc
    score: float


TEXT_MOST_WORDS = 32
"""Words of a text search beyond this many are ignored (they bound a query's cost)."""
_WORD = re.compile(r"[^\W_]+")
TextKey = str | int | bool | None


def text_words(text: str) -> list[str]:
    """The words a text search looks for: runs of letters and digits (any script),
    lower-cased, each once, at most `TEXT_MOST_WORDS`. Nothing else of the text reaches an
    index's query language, so quotes, `*`, `-`, `NEAR`, `OR` or parentheses typed by a
    user are plain words or nothing."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))[:TEXT_MOST_WORDS]


def text_pins(spec: CollectionSpec, filter: Filter | None) -> dict[str, TextKey]:
    """A text search's filter, checked: equality on keys of the collection's text index."""
    if spec.text is None:
        raise QueryError(f"{spec.name} has no text index")
    pins: dict[str, TextKey] = {}
    for key, value in (filter or {}).items():
        if key not in spec.text.keys:
            raise QueryError(f"{key!r} is not a key of the text index of {spec.name}")
        if value is not None and not isinstance(value, (str, int, bool)):
            raise QueryError("a text search pins its keys by equality on a scalar")
        pins[key] = value
    return pins


@dataclass(frozen=True)
class CollectionSpec:
    """A collection's indexed fields, composite indexes and unique keys (dotted paths), and
    its full-text index if it has one."""

    name: str
    fields: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    text: TextIndex | None = None
    all_fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        seen: dict[str, None] = dict.fromkeys(self.fields)
        for key in (*self.indexes, *self.unique):
            seen.update(dict.fromkeys(key))
        seen.pop("_id", None)
        object.__setattr__(self, "all_fields", tuple(seen))


def plain_indexes(spec: CollectionSpec, unique_serves: bool) -> tuple[tuple[str, ...], ...]:
    """The non-unique indexes an adapter creates: the composite ones declared, or one per
    field, less each that leads another (an index on (a, b, c) serves every query (a) or
    (a, b) would, so the shorter one only costs a page on every write).

    `unique_serves`: whether the adapter's unique indexes serve queries too. SQLite's index
    every row, so they count among the longer ones. MongoDB's are partial (only documents
    that have the keys) and serve only queries that say so, so there each unique key also
    gets a plain index of its own."""
    declared = spec.indexes or tuple((f,) for f in spec.fields)
    wanted = list(dict.fromkeys([*declared, *(() if unique_serves else spec.unique)]))
    longer = [*wanted, *(spec.unique if unique_serves else ())]
    return tuple(
        keys
        for keys in wanted
        if not any(len(other) > len(keys) and other[: len(keys)] == keys for other in longer)
        and not (unique_serves and keys in spec.unique)
    )


_REGISTRY: dict[str, CollectionSpec] = {}


def declare(spec: CollectionSpec) -> CollectionSpec:
    """Register a collection so every adapter creates its indexes before first use."""
    _REGISTRY[spec.name] = spec
    return spec


def spec_for(name: str) -> CollectionSpec:
    return _REGISTRY.get(name) or CollectionSpec(name)


class DocumentStore(ABC):
    """What the domain needs from persistence; `tests/memory/test_conformance.py` defines it."""

    @abstractmethod
    async def insert_one(self, collection: str, doc: Doc) -> Doc: ...

    @abstractmethod
    async def insert_many(self, collection: str, docs: Sequence[Doc]) -> list[Doc]: ...

    @abstractmethod
    async def find(
        self,
        collection: str,
        filter: Filter | None = None,
        *,
        sort: Sort = (),
        skip: int = 0,
        limit: int = 0,
    ) -> list[Doc]: ...

    @abstractmethod
    async def count(self, collection: str, filter: Filter | None = None) -> int: ...

    @abstractmethod
    async def update_one(self, collection: str, filter: Filter, update: Update) -> Doc | None:
        """Update the first match; answer the document after the update, or None."""

    @abstractmethod
    async def update_many(self, collection: str, filter: Filter, update: Update) -> int: ...

    @abstractmethod
    async def delete_many(self, collection: str, filter: Filter) -> int: ...

    @abstractmethod
    async def sum_by(
        self,
        collection: str,
        filter: Filter | None,
        by: Sequence[str],
        sums: Sequence[str],
    ) -> list[Doc]:
        """Grouped sums: one row per distinct `by` tuple with each `sums` field totalled,
        plus `count`. Keys are the dotted paths themselves."""

    @abstractmethod
    async def search_text(
        self, collection: str, text: str, filter: Filter | None = None, *, limit: int = 10
    ) -> list[TextHit]:
        """The documents whose text fields (the collection's `TextIndex`) hold any word of
        `text` (`text_words`), best first, at most `limit`, each with its score (ties in a
        stable order). `filter` pins keys of the index by equality: `{"company_id": c}` keeps a
        search in one company. Words are stemmed as the index's language does (English).
        No word: no documents."""

    @abstractmethod
    async def next_value(self, counter: str, *, start: int = 1) -> int:
        """Atomically advance a named counter and answer its new value (first call: start)."""

    @abstractmethod
    async def raise_counter(self, counter: str, at_least: int) -> int:
        """Move a counter up to `at_least` (never down); answer its value."""

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Every store call inside commits together or not at all; nesting joins the outer."""

    @abstractmethod
    async def ping(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def find_one(
        self, collection: str, filter: Filter | None = None, *, sort: Sort = ()
    ) -> Doc | None:
        found = await self.find(collection, filter, sort=sort, limit=1)
        return found[0] if found else None

    async def delete_one(self, collection: str, filter: Filter) -> bool:
        found = await self.find(collection, filter, limit=1)
        if not found:
            return False
        return await self.delete_many(collection, {"$and": [{"_id": found[0]["_id"]}, filter]}) == 1

    async def iterate(
        self, collection: str, filter: Filter | None = None, *, batch: int = 500
    ) -> AsyncIterator[Doc]:
        skip = 0
        while True:
            page = await self.find(collection, filter, sort=[("_id", 1)], skip=skip, limit=batch)
            for doc in page:
                yield doc
            if len(page) < batch:
                return
            skip += batch
