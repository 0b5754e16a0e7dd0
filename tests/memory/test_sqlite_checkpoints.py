"""SQLiteStore's checkpoints: never inside a commit on the event loop, done by a thread of
the store's own, and the WAL restarts under steady writes (see memory/sqlite.py)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from memory import sqlite
from memory.sqlite import SQLiteStore
from memory.store import CollectionSpec, declare

NOTES = declare(CollectionSpec("checkpoint_notes", fields=("company", "n"))).name
PADDING = "x" * 3000  # most of a page each, so every insert writes fresh pages


def checkpointers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sqlite-checkpointer"]


async def eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_a_commit_never_checkpoints_the_thread_does(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SQLiteStore(path)
    try:
        assert store._writer.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
        before = set(checkpointers())
        for n in range(sqlite.CHECKPOINT_EVERY - 1):
            await store.insert_one(NOTES, {"company": "c", "n": n, "pad": PADDING})
        assert set(checkpointers()) == before  # no checkpoint yet: the pages stay in the WAL
        size = path.stat().st_size
        await store.insert_one(NOTES, {"company": "c", "n": -1, "pad": PADDING})
        # the thread copies the WAL into the database file
        await eventually(lambda: path.stat().st_size > size + 32 * 4096)
        assert set(checkpointers()) - before
        with sqlite3.connect(path) as other:  # and another connection reads it all
            count = other.execute(f"SELECT count(*) FROM {NOTES}").fetchone()[0]
        assert count == sqlite.CHECKPOINT_EVERY
    finally:
        await store.close()


async def test_a_long_wal_is_restarted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under steady writes a PASSIVE checkpoint never lets the WAL start again from its
    beginning (the file grew to 37 MB for 1,500 writes here); once the WAL holds
    RESTART_FRAMES pages the thread runs a RESTART checkpoint."""
    monkeypatch.setattr(sqlite, "CHECKPOINT_EVERY", 8)
    monkeypatch.setattr(sqlite, "RESTART_FRAMES", 64)
    ran: list[str] = []
    connect = sqlite3.connect

    class Recording(sqlite3.Connection):
        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:  # type: ignore[override]
            ran.append(sql)
            return super().execute(sql, *args)  # type: ignore[arg-type]

    def recording(path: object, **kwargs: object) -> sqlite3.Connection:
        return connect(path, factory=Recording, **kwargs)  # type: ignore[arg-type,call-overload]

    store = SQLiteStore(tmp_path / "steady.db")
    monkeypatch.setattr(sqlite.sqlite3, "connect", recording)  # the checkpointer's connection
    try:
        for n in range(200):
            await store.insert_one(NOTES, {"company": "c", "n": n, "pad": PADDING})
        await eventually(lambda: "PRAGMA wal_checkpoint(RESTART)" in ran)
        assert "PRAGMA wal_checkpoint(PASSIVE)" in ran
        assert await store.count(NOTES, {"company": "c"}) == 200
    finally:
        await store.close()


async def test_close_stops_the_checkpointer(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "closing.db")
    for n in range(sqlite.CHECKPOINT_EVERY):
        await store.insert_one(NOTES, {"company": "c", "n": n})
    thread = store._checkpointer.thread
    assert thread is not None and thread.is_alive()
    await store.close()
    assert not thread.is_alive()


async def test_a_store_that_never_writes_starts_no_checkpointer(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "reads.db")
    assert await store.count(NOTES, {"company": "c"}) == 0
    assert store._checkpointer.thread is None
    await store.close()
