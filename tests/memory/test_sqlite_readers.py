"""SQLiteStore's reader pool: reads that may scan leave the event loop, point reads and
reads inside a transaction do not (see the rule in memory/sqlite.py's docstring).

A "heavy" query here is made to last exactly as long as the test wants, not by timing:
`$regex` runs the store's `regexp` SQL function for each row, and the tests swap it for
one that waits on an event. Had the query run on the loop, the loop could not tick (nor
set the event) until the wait gave up, and the test would fail.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from memory import sqlite
from memory.sqlite import SQLiteStore
from memory.store import CollectionSpec, declare

THINGS = declare(
    CollectionSpec(
        "reader_things",
        fields=("company", "n", "code"),
        unique=(("company", "code"),),
    )
).name
WAIT_S = 10.0


class Gate:
    """A `regexp` that holds its query inside SQLite until released, noting its thread."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.threads: list[int] = []
        self.nice: list[int] = []

    def __call__(self, pattern: str, value: Any) -> bool:
        self.threads.append(threading.get_ident())
        if sys.platform == "linux":
            self.nice.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        self.entered.set()
        self.release.wait(WAIT_S)
        return True


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Gate:
    gate = Gate()
    monkeypatch.setattr(sqlite, "_regexp", gate)
    return gate


@pytest.fixture
async def store(tmp_path: Path, gate: Gate) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "store.db")
    try:
        yield opened
    finally:
        gate.release.set()
        await opened.close()


async def until(event: threading.Event) -> None:
    """Wait on a thread's event without blocking the loop."""
    for _ in range(int(WAIT_S / 0.001)):
        if event.is_set():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the event was never set")


async def test_a_heavy_query_leaves_the_loop_ticking(store: SQLiteStore, gate: Gate) -> None:
    doc = await store.insert_one(THINGS, {"company": "c", "n": 1, "code": "a"})
    heavy = asyncio.create_task(store.find(THINGS, {"code": {"$regex": "a"}}))
    await until(gate.entered)  # the query is inside SQLite, in its regexp

    ticked = asyncio.Event()

    async def ticker() -> None:
        for _ in range(100):
            await asyncio.sleep(0)
        ticked.set()

    ticking = asyncio.create_task(ticker())
    await ticked.wait()  # a hundred turns of the loop while the query is held
    # Meanwhile a point read answers from the loop and another scan from the pool's other
    # reader, while the heavy query is still held.
    assert await store.find_one(THINGS, {"_id": doc["_id"]}) == doc
    assert await store.count(THINGS, {"n": {"$gte": 1}}) == 1
    assert not heavy.done()
    gate.release.set()
    assert await heavy == [doc]
    await ticking
    assert gate.threads and threading.get_ident() not in gate.threads
    if sys.platform == "linux":
        assert gate.nice == [sqlite.READER_NICE]


async def test_grouped_sums_run_on_the_pool(store: SQLiteStore, gate: Gate) -> None:
    await store.insert_many(THINGS, [{"company": "c", "n": i, "code": str(i)} for i in range(3)])
    summing = asyncio.create_task(
        store.sum_by(THINGS, {"code": {"$regex": "."}}, ["company"], ["n"])
    )
    await until(gate.entered)
    assert await store.find_one(THINGS, {"company": "c", "code": "2"}) is not None
    assert not summing.done()
    gate.release.set()
    assert await summing == [{"company": "c", "n": 3, "count": 3}]


async def test_reads_in_a_transaction_see_its_uncommitted_writes(store: SQLiteStore) -> None:
    async def outside(call: Any) -> Any:
        """The same read from a task that is not in the transaction."""
        return await asyncio.create_task(call(), context=contextvars.Context())

    def scan_count() -> Any:
        return store.count(THINGS, {"n": {"$gte": 0}})

    assert await scan_count() == 0  # the table exists before the transaction
    async with store.transaction():
        doc = await store.insert_one(THINGS, {"company": "c", "n": 5, "code": "x"})
        await store.update_many(THINGS, {"company": "c"}, {"$inc": {"n": 1}})
        assert await scan_count() == 1
        assert await store.find(THINGS, {"n": {"$gt": 5}}) == [{**doc, "n": 6}]
        assert await store.find(THINGS, sort=[("n", -1)], limit=5) == [{**doc, "n": 6}]
        assert await store.sum_by(THINGS, None, [], ["n"]) == [{"n": 6, "count": 1}]
        assert await store.find_one(THINGS, {"_id": doc["_id"]}) == {**doc, "n": 6}
        assert await outside(scan_count) == 0
        assert await outside(lambda: store.find_one(THINGS, {"_id": doc["_id"]})) is None
    assert await outside(scan_count) == 1
    assert await store.sum_by(THINGS, None, [], ["n"]) == [{"n": 6, "count": 1}]


async def test_a_write_is_seen_by_the_next_scan(store: SQLiteStore) -> None:
    for i in range(20):
        await store.insert_one(THINGS, {"company": "c", "n": i, "code": f"k{i}"})
        assert await store.count(THINGS, {"company": "c"}) == i + 1


async def test_a_cancelled_scan_frees_its_reader(store: SQLiteStore, gate: Gate) -> None:
    await store.insert_one(THINGS, {"company": "c", "n": 1, "code": "a"})
    held = asyncio.create_task(store.find(THINGS, {"code": {"$regex": "a"}}))
    await until(gate.entered)
    held.cancel()
    with pytest.raises(asyncio.CancelledError):
        await held
    gate.release.set()  # the interrupted query ends; both readers serve again
    for _ in range(4):
        assert len(await store.find(THINGS, {"code": {"$regex": "a"}})) == 1


async def test_close_stops_the_readers(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "closing.db")
    await store.insert_one(THINGS, {"company": "c", "n": 1, "code": "a"})
    assert await store.count(THINGS, {"n": 1}) == 1
    threads = list(store._pool.threads)
    assert len(threads) == sqlite.READERS and all(t.is_alive() for t in threads)
    await store.close()
    assert not any(t.is_alive() for t in threads)
    with pytest.raises(Exception, match="closed"):
        await store.count(THINGS, {"n": 1})


async def test_a_store_that_never_scans_starts_no_thread(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "points.db")
    doc = await store.insert_one(THINGS, {"company": "c", "n": 1, "code": "a"})
    assert await store.find_one(THINGS, {"_id": doc["_id"]}) == doc
    assert store._pool.threads == []
    await store.close()


POINT = {"company": "c", "code": "a"}


@pytest.mark.parametrize(
    ("filter", "point"),
    [
        ({"_id": "0" * 24}, True),
        ({"_id": {"$eq": "0" * 24}, "n": {"$gt": 3}}, True),
        ({"company": "c", "_id": "0" * 24}, True),
        ({"_id": {"$in": ["0" * 24] * sqlite.POINT_IN_MAX}}, True),
        ({"_id": {"$in": ["0" * 24] * (sqlite.POINT_IN_MAX + 1)}}, False),
        ({"$and": [{"company": "c"}, {"code": {"$eq": "a"}}]}, True),
        (POINT, True),
        ({**POINT, "n": {"$lt": 2}}, True),
        ({"company": "c"}, False),
        ({"company": "c", "code": None}, False),  # NULLs are not unique
        ({"company": "c", "code": {"$in": ["a"]}}, False),
        ({"$or": [{"_id": "0" * 24}, {"n": 1}]}, False),
        ({"_id": {"$ne": "0" * 24}}, False),
        ({}, False),
        (None, False),
    ],
)
def test_the_point_read_rule(filter: Any, point: bool) -> None:
    compiler = sqlite._Compiler(CollectionSpec(THINGS, unique=(("company", "code"),)))
    assert compiler.point(filter) is point


SEEKING = CollectionSpec(
    "seeking", fields=("company", "n", "at"), indexes=(("company", "at"), ("company", "n", "at"))
)


@pytest.mark.parametrize(
    ("filter", "sort", "skip", "limit", "seek"),
    [
        ({"company": "c"}, [("at", -1)], 0, 25, True),  # the newest 25 of a company
        ({"company": "c"}, [("at", 1)], 0, 1, True),  # the first one
        ({"company": "c"}, [], 0, 1, True),
        ({"company": "c", "n": 3}, [("at", 1)], 0, 10, True),
        ({"company": "c"}, [("at", -1)], 25, 25, True),
        ({"company": "c"}, [("at", -1)], 26, 25, False),  # past POINT_IN_MAX rows
        ({"company": "c"}, [("at", -1)], 0, 0, False),  # every row
        ({"company": "c"}, [("n", 1)], 0, 25, True),  # company, n, at
        ({"company": "c"}, [("at", 1), ("n", 1)], 0, 25, False),  # no index sorts it so
        ({"company": "c"}, [("n", 1), ("at", -1)], 0, 25, False),  # two directions
        ({"n": 3}, [("at", 1)], 0, 1, False),  # not an index's leading field
        ({"company": "c", "at": {"$gte": "2026"}}, [("at", 1)], 0, 1, False),  # a range
        ({"company": None}, [], 0, 1, False),
        ({"$and": [{"company": "c"}]}, [], 0, 1, False),
    ],
)
def test_the_short_seek_rule(
    filter: Any, sort: list[tuple[str, int]], skip: int, limit: int, seek: bool
) -> None:
    assert sqlite._Compiler(SEEKING).seek(filter, sort, skip, limit) is seek


async def test_a_short_seek_runs_on_the_loop(tmp_path: Path) -> None:
    declare(SEEKING)
    store = SQLiteStore(tmp_path / "seek.db")
    for i in range(60):
        await store.insert_one("seeking", {"company": "c", "n": i % 3, "at": f"{i:03}"})
    newest = await store.find("seeking", {"company": "c"}, sort=[("at", -1)], limit=25)
    assert [d["at"] for d in newest] == [f"{i:03}" for i in range(59, 34, -1)]
    assert store._pool.threads == []  # served on the loop: no reader was needed
    everything = await store.find("seeking", {"company": "c"}, sort=[("at", -1)])
    assert len(everything) == 60 and len(store._pool.threads) == sqlite.READERS
    await store.close()
