"""The embedded document store: one SQLite table per collection, the document as JSON.

Why it is shaped this way:
- Declared fields are VIRTUAL generated columns with ordinary indexes; grouped sums over
  them run as fast as over a relational table (json_extract expression indexes do not).
- Point reads run on the event loop: a primary-key read costs ~10 us, less than one hop to a
  thread (~120 us). Writes never wait inside SQLite (busy_timeout 0 on the writer); a locked
  database is retried with `asyncio.sleep`, so another process's write never blocks this
  loop and never surfaces as "database is locked".
- A query that may scan runs off the loop, so an 80 ms ageing report never stalls the
  requests that arrive meanwhile. The rule, decided from the filter alone:
  * a POINT READ pins `_id` (equality, or `$in` of at most `POINT_IN_MAX` ids) or every
    field of a declared unique index (equality, not null), at the top level or inside a
    top-level `$and`: at most a few rows, found by one index seek. `find` and `count` with
    such a filter run on the loop, on the loop's reader connection;
  * a SHORT SEEK (`find` only) pins by equality exactly the leading fields of a declared
    index, sorts by the index's next fields (one direction) or not at all, and reads at
    most `POINT_IN_MAX` rows (`skip + limit`): a user's first membership, the newest 25
    contacts of a company. It reads those rows down the index and stops, so it runs on the
    loop as well (a hop to a reader costs more than the read);
  * everything else may scan: `sum_by` always, and `find` / `count` with any other filter
    (a company's list, a date range, a search, paging through a collection). Those run on
    the reader pool: `READERS` query-only connections, each opened and used by its own
    worker thread (WAL lets them read while the writer writes). SQLite releases the GIL
    while it steps, so the loop keeps serving. On a core the loop shares with both
    readers, equal priority leaves the loop a third of it; the readers run at nice
    `READER_NICE` (Linux, per thread), which leaves it about 60% (scheduler weights 1024 vs
    2 x 335). Measured on 2 CPUs (`bench/mixed.py`, 2 rounds of 5 s, API pinned to one
    CPU), GET p99 under two report clients over alone, and aged receivables meanwhile:
    nice 0 x2.35, 440 ms; nice 5 x1.2-1.3, 860 ms; nice 10 x1.0-1.5, 1,450 ms (and it
    yields 90% of a core to any other process). A scan whose caller is cancelled is
    interrupted (`sqlite3_interrupt`).
  Inside a transaction every read goes through the writer connection on the loop, whatever
  its shape, so it sees the transaction's own uncommitted writes (read-your-writes).
- One writer connection, held by one transaction at a time through an asyncio lock.
- Checkpoints run on a thread of their own, never inside a commit. SQLite's automatic
  checkpoint runs in the COMMIT that crosses 1,000 WAL pages and calls `fdatasync` twice
  there (and once more when the WAL restarts), on the event loop: measured here about 5.5 ms
  each, so every ~70th write stalled every request for over 10 ms and a write's wall time was
  about twice its CPU time. The writer's automatic checkpoint is off; every
  `CHECKPOINT_EVERY` commits the writer wakes the checkpointer thread, which runs a PASSIVE
  checkpoint (it copies what it can and never blocks a writer). Under steady writes a
  PASSIVE checkpoint never finds the WAL wholly copied when a write begins, so the WAL would
  never restart and would grow without bound; once it holds `RESTART_FRAMES` pages the
  thread runs a RESTART checkpoint, which waits for the write lock (our writes meanwhile
  back off with `asyncio.sleep`, as they do for another process's write) and lets the next
  write start the WAL again from its beginning.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import random
import re
import sqlite3
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import orjson

from memory.ids import new_id
from memory.sqlite_text import TextTable
from memory.store import (
    CollectionSpec,
    Doc,
    DocumentStore,
    DuplicateKeyError,
    Filter,
    QueryError,
    Sort,
    StoreBusyError,
    TextHit,
    Update,
    plain_indexes,
    spec_for,
    tie_break,
)

log = logging.getLogger("numbors.sqlite")
PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
WRITE_DEADLINE_S = 30.0
COMPARE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
READERS = 2  # reader-pool connections (and threads) per store
READER_NICE = 5  # the reader threads' nice value: below the loop's CPU priority (Linux)
POINT_IN_MAX = 50  # an `_id` `$in` of at most this many ids is a point read
CHECKPOINT_EVERY = 64  # commits between the writer's wake-ups of the checkpointer thread
RESTART_FRAMES = 8192  # WAL pages (32 MiB at 4 KiB) after which the WAL is restarted
RESTART_WAIT_MS = 2000  # how long a RESTART checkpoint waits for the write lock
T = TypeVar("T")


def _json_path(path: str) -> str:
    if not PATH.match(path):
        raise QueryError(f"unsupported field path {path!r}")
    out = "$"
    for part in path.split("."):
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def _column(path: str) -> str:
    return "f_" + path.replace(".", "__")


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        raise QueryError("comparing whole objects or arrays is not supported")
    return value


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None


def _conjuncts(filter: Filter) -> Iterator[tuple[str, Any]]:
    """The (field, condition) pairs every match must meet: top level and top-level `$and`s."""
    for key, value in filter.items():
        if key == "$and" and isinstance(value, list):
            for part in value:
                if isinstance(part, dict):
                    yield from _conjuncts(part)
        elif not key.startswith("$"):
            yield key, value


def _scalar(value: Any) -> bool:
    return value is not None and not isinstance(value, (dict, list, tuple, set))


def _pins(condition: Any) -> bool:
    """An equality on one non-null value: `v` or `{"$eq": v}`."""
    if isinstance(condition, str):  # the usual case: an id, a company, an email
        return True
    if isinstance(condition, dict):
        return len(condition) == 1 and "$eq" in condition and _scalar(condition["$eq"])
    return _scalar(condition)


def _short_in(condition: Any) -> bool:
    if not isinstance(condition, dict) or len(condition) != 1 or "$in" not in condition:
        return False
    values = condition["$in"]
    return isinstance(values, (list, tuple)) and len(values) <= POINT_IN_MAX


class _Compiler:
    """Turns port filters and updates into SQL over one collection's table."""

    def __init__(self, spec: CollectionSpec):
        self.spec = spec
        self.columns = set(spec.all_fields)
        self.unique = [frozenset(key) for key in spec.unique]
        # The indexes the table gets (`plain_indexes`) and the unique ones.
        self.index_keys = [*plain_indexes(spec, unique_serves=True), *spec.unique]

    def point(self, filter: Filter | None) -> bool:
        """The filter pins at most a few rows through one index seek (see the module's rule):
        `_id` by equality or a short `$in`, or every field of a unique index by equality."""
        if not filter:
            return False
        by_id = filter.get("_id")  # the common case first: a read by id, in one lookup
        if by_id is not None and (_pins(by_id) or _short_in(by_id)):
            return True
        nested = "$and" in filter
        if not self.unique and not nested:
            return False
        pinned: set[str] = set()
        for key, value in _conjuncts(filter) if nested else filter.items():
            if key == "_id" and (_pins(value) or _short_in(value)):
                return True
            if _pins(value):
                pinned.add(key)
        return any(key <= pinned for key in self.unique)

    def seek(self, filter: Filter | None, sort: Sort, skip: int, limit: int) -> bool:
        """A short read down one index (see the module's rule): equality on exactly an
        index's leading fields, sorted by its next ones, at most `POINT_IN_MAX` rows."""
        if not filter or limit <= 0 or skip + limit > POINT_IN_MAX or "$and" in filter:
            return False
        if not all(_pins(value) for value in filter.values()):
            return False
        if len({direction for _, direction in sort}) > 1:
            return False
        pinned, order = set(filter), tuple(path for path, _ in sort)
        n = len(pinned)
        return any(
            set(key[:n]) == pinned and key[n : n + len(order)] == order
            for key in self.index_keys
            if len(key) >= n + len(order)
        )

    def expr(self, path: str) -> str:
        if path == "_id":
            return "id"
        if path in self.columns:
            return _column(path)
        return f"json_extract(doc, '{_json_path(path)}')"

    def where(self, filter: Filter | None) -> tuple[str, list[Any]]:
        if not filter:
            return "1", []
        params: list[Any] = []
        sql = self._and(filter, params)
        return sql, params

    def _and(self, filter: Filter, params: list[Any]) -> str:
        parts: list[str] = []
        for key, value in filter.items():
            if key in ("$and", "$or"):
                if not isinstance(value, list) or not value:
                    raise QueryError(f"{key} takes a non-empty list")
                joined = f" {key[1:].upper()} ".join(f"({self._and(f, params)})" for f in value)
                parts.append(f"({joined})")
            elif key.startswith("$"):
                raise QueryError(f"unsupported operator {key}")
            elif isinstance(value, dict) and value and all(k.startswith("$") for k in value):
                parts.append(self._field(key, value, params))
            else:
                parts.append(self._eq(self.expr(key), value, params))
        return " AND ".join(parts) or "1"

    def _eq(self, expr: str, value: Any, params: list[Any]) -> str:
        if value is None:
            return f"{expr} IS NULL"
        params.append(_param(value))
        return f"{expr} = ?"

    def _field(self, path: str, ops: dict[str, Any], params: list[Any]) -> str:
        expr = self.expr(path)
        parts: list[str] = []
        for op, value in ops.items():
            if op == "$eq":
                parts.append(self._eq(expr, value, params))
            elif op == "$ne":
                if value is None:
                    parts.append(f"{expr} IS NOT NULL")
                else:
                    params.append(_param(value))
                    parts.append(f"({expr} IS NULL OR {expr} != ?)")
            elif op in COMPARE:
                params.append(_param(value))
                parts.append(f"{expr} {COMPARE[op]} ?")
            elif op in ("$in", "$nin"):
                parts.append(self._in(expr, op, value, params))
            elif op == "$exists":
                test = "IS NOT NULL" if value else "IS NULL"
                target = "id" if path == "_id" else f"json_type(doc, '{_json_path(path)}')"
                parts.append(f"{target} {test}")
            elif op == "$regex":
                flags = ops.get("$options", "")
                prefix = "(?i)" if "i" in flags else ""
                params.append(prefix + str(value))
                parts.append(f"regexp(?, {expr})")
            elif op == "$options":
                continue
            else:
                raise QueryError(f"unsupported operator {op}")
        return " AND ".join(parts) or "1"

    def _in(self, expr: str, op: str, values: Any, params: list[Any]) -> str:
        if not isinstance(values, (list, tuple, set)):
            raise QueryError(f"{op} takes a list")
        present = [_param(v) for v in values if v is not None]
        has_null = len(present) != len(values)
        clauses = []
        if present:
            params.extend(present)
            clauses.append(f"{expr} IN ({','.join('?' * len(present))})")
        if has_null:
            clauses.append(f"{expr} IS NULL")
        matched = " OR ".join(clauses) or "0"
        if op == "$in":
            return f"({matched})"
        return f"NOT ({matched})" if has_null else f"(NOT ({matched}) OR {expr} IS NULL)"

    def order(self, sort: Sort) -> str:
        parts = [f"{self.expr(path)} {'DESC' if d < 0 else 'ASC'}" for path, d in sort]
        if not any(path == "_id" for path, _ in sort):
            parts.append(f"id {'DESC' if tie_break(sort) < 0 else 'ASC'}")
        return ", ".join(parts)

    def update(self, update: Update) -> tuple[str, list[Any]]:
        expr, params = "doc", []
        for op, fields in update.items():
            if not isinstance(fields, dict):
                raise QueryError(f"{op} takes an object")
            for path, value in fields.items():
                if path == "_id":
                    raise QueryError("_id cannot be updated")
                jp = _json_path(path)
                if op == "$set":
                    expr = f"json_set({expr}, ?, json(?))"
                    params += [jp, orjson.dumps(value).decode()]
                elif op == "$unset":
                    expr = f"json_remove({expr}, ?)"
                    params.append(jp)
                elif op == "$inc":
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        raise QueryError("$inc takes a number")
                    expr = f"json_set({expr}, ?, coalesce(json_extract(doc, ?), 0) + ?)"
                    params += [jp, jp, value]
                elif op == "$push":
                    expr = (
                        f"json_set({expr}, ?, json(json_insert("
                        f"coalesce(json_extract(doc, ?), '[]'), '$[#]', json(?))))"
                    )
                    params += [jp, jp, orjson.dumps(value).decode()]
                else:
                    raise QueryError(f"unsupported update operator {op}")
        return expr, params


def _connect(path: Path, busy_ms: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # Switching a new file to WAL takes a lock another process opening it may hold.
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    conn.create_function("regexp", 2, _regexp, deterministic=True)
    return conn


def _is_busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


class _Job:
    """One query for the pool: run by a reader thread, settled on the caller's loop."""

    __slots__ = ("call", "conn", "dropped", "future", "lock", "loop")

    def __init__(self, call: Callable[[sqlite3.Connection], Any], loop: asyncio.AbstractEventLoop):
        self.call = call
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()
        self.conn: sqlite3.Connection | None = None
        self.dropped = False
        self.lock = threading.Lock()

    def run(self, conn: sqlite3.Connection) -> None:
        with self.lock:
            if self.dropped:
                return
            self.conn = conn
        try:
            result, error = self.call(conn), None
        except BaseException as raised:
            result, error = None, raised
        finally:
            with self.lock:
                self.conn = None
        with suppress(RuntimeError):  # the caller's loop is closed: nobody waits for this
            self.loop.call_soon_threadsafe(self._settle, result, error)

    def _settle(self, result: Any, error: BaseException | None) -> None:
        if self.future.done():
            return
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(result)

    def drop(self) -> None:
        """The caller gave up: skip the query, or interrupt it if it is running."""
        with self.lock:
            self.dropped = True
            if self.conn is not None:
                self.conn.interrupt()


class _ReaderPool:
    """Query-only connections for reads that may scan, each opened and used by one thread.

    Threads start with the first query (a store that never scans costs no thread) and take
    jobs from one queue, so a free thread takes the next query.
    """

    def __init__(self, path: Path, size: int):
        self.path = path
        self.size = size
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.closed = False
        self._start = threading.Lock()

    async def run(self, call: Callable[[sqlite3.Connection], T]) -> T:
        if self.closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        if not self.threads:
            self._start_threads()
        job = _Job(call, asyncio.get_running_loop())
        self.jobs.put(job)
        try:
            return await job.future
        except asyncio.CancelledError:
            job.drop()
            raise

    def _start_threads(self) -> None:
        with self._start:
            if self.threads:
                return
            for i in range(self.size):
                thread = threading.Thread(
                    target=self._serve, name=f"sqlite-reader-{i}", daemon=True
                )
                thread.start()
                self.threads.append(thread)

    def _serve(self) -> None:
        if sys.platform == "linux":  # a thread's own nice value (Linux schedules threads)
            with suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), READER_NICE)
        conn = _connect_reader(self.path)
        try:
            while (job := self.jobs.get()) is not None:
                job.run(conn)
        finally:
            conn.close()

    def close(self) -> None:
        """Let queued queries finish, then stop every thread and close its connection."""
        self.closed = True
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join()
        self.threads.clear()


class _Checkpointer:
    """Copies the WAL back into the database on its own thread (see the module's docstring).

    The thread starts with the first wake-up, so a store that never writes costs no thread.
    """

    def __init__(self, path: Path):
        self.path = path
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.closed = False
        self._start = threading.Lock()

    def nudge(self) -> None:
        if self.thread is None:
            with self._start:
                if self.thread is None and not self.closed:
                    self.thread = threading.Thread(
                        target=self._serve, name="sqlite-checkpointer", daemon=True
                    )
                    self.thread.start()
        self.wake.set()

    def _serve(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
        try:
            while True:
                self.wake.wait()
                self.wake.clear()
                if self.closed:
                    return
                try:
                    _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if frames >= RESTART_FRAMES:
                        conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                except sqlite3.OperationalError as error:  # busy: the next wake-up tries again
                    if not _is_busy(error):
                        log.warning("checkpoint of %s failed: %s", self.path, error)
        finally:
            conn.close()

    def close(self) -> None:
        self.closed = True
        self.wake.set()
        if self.thread is not None:
            self.thread.join()


def _connect_reader(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA query_only=1")
    conn.create_function("regexp", 2, _regexp, deterministic=True)
    return conn


class SQLiteStore(DocumentStore):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = _connect(self.path, busy_ms=0)
        self._writer.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's (docstring)
        self._commits = 0
        self._checkpointer = _Checkpointer(self.path)
        self._reader = _connect(self.path, busy_ms=5000)
        self._ddl(
            "CREATE TABLE IF NOT EXISTS _counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
        )
        self._pool = _ReaderPool(self.path, READERS)
        self._lock: asyncio.Lock | None = None
        self._in_tx: ContextVar[bool] = ContextVar(f"sqlite_tx_{id(self)}", default=False)
        self._compilers: dict[str, _Compiler] = {}

    # --- schema -------------------------------------------------------------------------

    def _compiler(self, collection: str) -> _Compiler:
        compiler = self._compilers.get(collection)
        if compiler is None:
            compiler = self._ensure(spec_for(collection))
            self._compilers[collection] = compiler
        return compiler

    def _ensure(self, spec: CollectionSpec) -> _Compiler:
        if not re.match(r"^[a-z][a-z0-9_]*$", spec.name):
            raise QueryError(f"bad collection name {spec.name!r}")
        table = spec.name
        self._ddl(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
        existing = {row[1] for row in self._writer.execute(f"PRAGMA table_xinfo({table})")}
        for path in spec.all_fields:
            column = _column(path)
            if column not in existing:
                self._ddl(
                    f"ALTER TABLE {table} ADD COLUMN {column} GENERATED ALWAYS AS "
                    f"(json_extract(doc, '{_json_path(path)}')) VIRTUAL",
                    done_if="duplicate column name",  # another process added it meanwhile
                )
        indexes = plain_indexes(spec, unique_serves=True)
        for unique, keys in [(False, k) for k in indexes] + [(True, k) for k in spec.unique]:
            columns = [_column(k) if k != "_id" else "id" for k in keys]
            name = f"{'ux' if unique else 'ix'}_{table}_{'_'.join(columns)}"
            kind = "UNIQUE INDEX" if unique else "INDEX"
            self._ddl(f"CREATE {kind} IF NOT EXISTS {name} ON {table} ({', '.join(columns)})")
        if spec.text is not None:  # FTS5 and its triggers (memory/sqlite_text.py)
            TextTable(spec, _json_path).ensure(self._writer, self._ddl)
        return _Compiler(spec)

    def _ddl(self, sql: str, done_if: str | None = None) -> None:
        """Schema changes at first use; other processes may be writing, so retry briefly."""
        deadline = time.monotonic() + WRITE_DEADLINE_S
        while True:
            try:
                self._writer.execute(sql)
                return
            except sqlite3.OperationalError as error:
                if done_if and done_if in str(error):
                    return
                if not _is_busy(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    # --- transactions --------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if self._in_tx.get():
            yield
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._begin()
            token = self._in_tx.set(True)
            try:
                yield
            except BaseException:
                self._writer.execute("ROLLBACK")
                # Tables and indexes first created inside the transaction are gone too.
                self._compilers.clear()
                raise
            else:
                self._writer.execute("COMMIT")
                self._committed()
            finally:
                self._in_tx.reset(token)

    async def _begin(self) -> None:
        deadline = time.monotonic() + WRITE_DEADLINE_S
        delay = 0.0005
        while True:
            try:
                self._writer.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
                if time.monotonic() > deadline:
                    raise StoreBusyError("the database stayed locked by other writers") from error
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.05)

    def _committed(self) -> None:
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            self._checkpointer.nudge()

    def _idle_writer(self) -> bool:
        """No transaction open on the writer, ours or another task's."""
        if self._in_tx.get() or self._writer.in_transaction:
            return False
        return self._lock is None or not self._lock.locked()

    def _loop_conn(self, compiler: _Compiler, filter: Filter | None) -> sqlite3.Connection | None:
        """Where the module's rule runs a read on the loop: in a transaction the writer, a
        point read the loop's reader; None when it may scan (the reader pool runs it)."""
        if self._in_tx.get():
            return self._writer
        return self._reader if compiler.point(filter) else None

    def _write_alone(self, collection: str, sql: str, params: Sequence[Any]) -> list[Any] | None:
        """Run one write statement in autocommit and answer its rows, or None when it must
        go through `transaction()` instead: this process is writing already, or another
        process holds the lock (the transaction waits for it). One statement is atomic on its
        own, and nothing can interleave here (no await between the check and the commit), so
        it needs no BEGIN/COMMIT of its own."""
        if not self._idle_writer():
            return None
        try:
            rows = self._write(collection, sql, params).fetchall()
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
            return None
        self._committed()
        return rows

    def _write(self, collection: str, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
        try:
            return self._writer.execute(sql, params)
        except sqlite3.IntegrityError as error:
            if "UNIQUE" in str(error):
                raise DuplicateKeyError(collection, _unique_keys(str(error))) from error
            raise

    # --- the port ------------------------------------------------------------------------

    async def insert_one(self, collection: str, doc: Doc) -> Doc:
        return (await self.insert_many(collection, [doc]))[0]

    async def insert_many(self, collection: str, docs: Sequence[Doc]) -> list[Doc]:
        self._compiler(collection)
        stored = [doc if "_id" in doc else {"_id": new_id(), **doc} for doc in docs]
        rows = [(d["_id"], orjson.dumps(d).decode()) for d in stored]
        sql = f"INSERT INTO {collection} (id, doc) VALUES (?, ?)"
        if self._in_tx.get():  # the caller's transaction: no context of our own to enter
            for row in rows:
                self._write(collection, sql, row)
            return stored
        if len(rows) == 1 and self._write_alone(collection, sql, rows[0]) is not None:
            return stored
        async with self.transaction():
            for row in rows:
                self._write(collection, sql, row)
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
        compiler = self._compiler(collection)
        where, params = compiler.where(filter)
        sql = f"SELECT doc FROM {collection} WHERE {where} ORDER BY {compiler.order(sort)}"
        if limit or skip:
            sql += " LIMIT ? OFFSET ?"
            params += [limit or -1, skip]

        def run(conn: sqlite3.Connection) -> list[Doc]:
            return [orjson.loads(row[0]) for row in conn.execute(sql, params)]

        conn = self._loop_conn(compiler, filter)
        if conn is None and compiler.seek(filter, sort, skip, limit):
            conn = self._reader
        return run(conn) if conn is not None else await self._pool.run(run)

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        compiler = self._compiler(collection)
        where, params = compiler.where(filter)
        sql = f"SELECT count(*) FROM {collection} WHERE {where}"

        def run(conn: sqlite3.Connection) -> int:
            return conn.execute(sql, params).fetchone()[0]

        conn = self._loop_conn(compiler, filter)
        return run(conn) if conn is not None else await self._pool.run(run)

    async def update_one(self, collection: str, filter: Filter, update: Update) -> Doc | None:
        compiler = self._compiler(collection)
        where, params = compiler.where(filter)
        expr, update_params = compiler.update(update)
        sql = (
            f"UPDATE {collection} SET doc = {expr} WHERE id = "
            f"(SELECT id FROM {collection} WHERE {where} ORDER BY id LIMIT 1) RETURNING doc"
        )
        args = [*update_params, *params]
        if self._in_tx.get():
            row = self._write(collection, sql, args).fetchone()
            return orjson.loads(row[0]) if row else None
        rows = self._write_alone(collection, sql, args)
        if rows is not None:
            return orjson.loads(rows[0][0]) if rows else None
        async with self.transaction():
            row = self._write(collection, sql, args).fetchone()
        return orjson.loads(row[0]) if row else None

    async def update_many(self, collection: str, filter: Filter, update: Update) -> int:
        compiler = self._compiler(collection)
        where, params = compiler.where(filter)
        expr, update_params = compiler.update(update)
        sql = f"UPDATE {collection} SET doc = {expr} WHERE {where}"
        async with self.transaction():
            return self._write(collection, sql, [*update_params, *params]).rowcount

    async def delete_many(self, collection: str, filter: Filter) -> int:
        where, params = self._compiler(collection).where(filter)
        async with self.transaction():
            return self._write(
                collection, f"DELETE FROM {collection} WHERE {where}", params
            ).rowcount

    async def sum_by(
        self,
        collection: str,
        filter: Filter | None,
        by: Sequence[str],
        sums: Sequence[str],
    ) -> list[Doc]:
        compiler = self._compiler(collection)
        where, params = compiler.where(filter)
        keys = [compiler.expr(p) for p in by]
        totals = [f"coalesce(sum({compiler.expr(p)}), 0)" for p in sums]
        select = ", ".join([*keys, *totals, "count(*)"])
        sql = f"SELECT {select} FROM {collection} WHERE {where}"
        if keys:
            sql += f" GROUP BY {', '.join(keys)}"

        def run(conn: sqlite3.Connection) -> list[Doc]:
            out = []
            for row in conn.execute(sql, params):
                if not keys and row[-1] == 0:
                    continue
                values = dict(zip(by, row[: len(by)], strict=True))
                values.update(zip(sums, row[len(by) : -1], strict=True))
                values["count"] = row[-1]
                out.append(values)
            return out

        return run(self._writer) if self._in_tx.get() else await self._pool.run(run)

    async def search_text(
        self, collection: str, text: str, filter: Filter | None = None, *, limit: int = 10
    ) -> list[TextHit]:
        """FTS5 (memory/sqlite_text.py); a search may scan, so it runs on the reader pool."""
        compiler = self._compiler(collection)
        if compiler.spec.text is None:
            raise QueryError(f"{collection} has no text index")
        search = TextTable(compiler.spec, _json_path).plan(text, filter, limit, compiler.where)
        if search is None:
            return []
        return search.run(self._writer) if self._in_tx.get() else await self._pool.run(search.run)

    async def next_value(self, counter: str, *, start: int = 1) -> int:
        sql = (
            "INSERT INTO _counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value"
        )
        async with self.transaction():
            return self._writer.execute(sql, (counter, start)).fetchone()[0]

    async def raise_counter(self, counter: str, at_least: int) -> int:
        sql = (
            "INSERT INTO _counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value) RETURNING value"
        )
        async with self.transaction():
            return self._writer.execute(sql, (counter, at_least)).fetchone()[0]

    async def ping(self) -> None:
        self._reader.execute("SELECT 1").fetchone()

    async def close(self) -> None:
        self._checkpointer.close()
        self._pool.close()
        self._reader.close()
        self._writer.close()


def _unique_keys(message: str) -> tuple[str, ...]:
    """'UNIQUE constraint failed: users.f_email' -> ('email',)"""
    _, _, columns = message.partition(":")
    keys = []
    for column in columns.split(","):
        name = column.strip().split(".")[-1]
        keys.append("_id" if name == "id" else name.removeprefix("f_").replace("__", "."))
    return tuple(keys)
