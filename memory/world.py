"""World memory: the facts agents share, per company.

A fact is `(company_id, namespace, key)` -> a JSON value, with its `source`, a `version`
that grows by one on every change, `created_at`, `updated_at` and an optional `expires_at`.

- Durable: collection `facts`, one document per key holding its current state, unique on
  `(company_id, namespace, key)`. Every write is a conditional update on the version it read
  (or an insert guarded by the unique index), so of two writers that read the same version
  exactly one wins; with `expected_version` the other gets `StaleVersion`, without it the
  loser re-reads and writes the next version (last writer wins, versions never repeat).
- Expiry keeps the document as a tombstone (`expires_at` in the past) so the version keeps
  counting; an expired fact reads as absent everywhere, and `expected_version=0` ("create
  only if absent") accepts it.
- Hot copy: one Redis hash per company, field `namespace\\x1fkey`, value `version|json`.
  A Lua script writes a field only when its version is newer, so a slow writer or a cache
  fill never puts an older state over a newer one. The hash expires `hot_ttl_s` after it was
  created; `recall` fills it from the store (and marks it complete) when it is missing.
- Changes: the same script publishes `{"namespace", "key", "version", "op"}` (`op`: `put`
  or `expire`) on `numbors:facts:{company_id}`, after the store write has committed. Inside
  `transaction()`, publication waits for the outermost commit and is dropped on rollback.
- Redis is optional: without it reads go to the store and nothing is published. A Redis
  failure after a durable write is logged, not raised: the write stands, and the hot copy
  heals when its hash expires.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from redis.asyncio import Redis

from memory.ids import new_id, stamp, utcnow
from memory.store import CollectionSpec, DocumentStore, DuplicateKeyError, declare

log = logging.getLogger("numbors.world")

COLLECTION = "facts"
declare(
    CollectionSpec(
        COLLECTION,
        indexes=(("company_id", "updated_at"), ("company_id", "namespace", "updated_at")),
        unique=(("company_id", "namespace", "key"),),
    )
)

# A namespace is '/'-joined labels (LangGraph's tuple, joined); labels exclude '/' and
# control characters. Keys exclude control characters: '\x1f' separates them in Redis.
NAMESPACE_PATTERN = r"^[^/\x00-\x1f\x7f]{1,100}(/[^/\x00-\x1f\x7f]{1,100}){0,15}$"
KEY_PATTERN = r"^[^\x00-\x1f\x7f]{1,300}$"
_NAMESPACE = re.compile(NAMESPACE_PATTERN)
_KEY = re.compile(KEY_PATTERN)
_VALUE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMPARE = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})
SEP = "\x1f"
COMPLETE = "complete"  # the hot hash's marker field: it holds every live fact
WRITE_ATTEMPTS = 8
SORTABLE = ("updated_at", "created_at", "namespace", "key", "version")

_HOT_WRITE = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
local newer = true
if current then
  local v = tonumber(string.match(current, '^(%d+)|'))
  if v and v >= tonumber(ARGV[2]) then newer = false end
end
if newer then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
  if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
end
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
if newer then return 1 end
return 0
"""

_HOT_LOAD = """
for i = 3, #ARGV, 3 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  local v = current and tonumber(string.match(current, '^(%d+)|'))
  if not v or v < tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1] .. '|' .. ARGV[i + 2])
  end
end
redis.call('HSET', KEYS[1], ARGV[2], '1')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""

Fact = dict[str, Any]


class InvalidFact(ValueError):
    """A namespace, key, value, TTL or filter the world memory does not accept."""


class StaleVersion(Exception):
    """`expected_version` is not the fact's live version (0 when absent or expired)."""

    def __init__(self, namespace: str, key: str, expected: int, current: int):
        self.namespace, self.key, self.expected, self.current = namespace, key, expected, current
        super().__init__(
            f"fact {namespace}/{key} is at version {current}, not {expected}; "
            "read it again and retry"
        )


def channel(company_id: str) -> str:
    return f"numbors:facts:{company_id}"


def hot_key(company_id: str) -> str:
    return f"numbors:facts:hot:{company_id}"


def is_live(fact: Fact, now: str) -> bool:
    expires = fact.get("expires_at")
    return expires is None or expires > now


def live_filter(now: str) -> dict[str, Any]:
    return {"$or": [{"expires_at": None}, {"expires_at": {"$gt": now}}]}


def present(doc: dict[str, Any]) -> Fact:
    return {
        "id": doc["_id"],
        "company_id": doc["company_id"],
        "namespace": doc["namespace"],
        "key": doc["key"],
        "value": doc["value"],
        "source": doc["source"],
        "version": doc["version"],
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
        "expires_at": doc.get("expires_at"),
    }


def normalise_time(value: str) -> str:
    """An ISO 8601 instant as stored (UTC, milliseconds, `Z`); naive means UTC."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as error:
        raise InvalidFact(
            f"{value!r} is not an ISO 8601 timestamp (like 2026-11-25T15:20:06Z)"
        ) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return stamp(moment)


def check_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
        raise InvalidFact(
            f"namespace {namespace!r} must be 1 to 16 labels joined by '/', each 1 to 100 "
            "characters without '/' or control characters"
        )
    return namespace


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidFact(f"key {key!r} must be 1 to 300 characters without control characters")
    return key


def value_conditions(filter: dict[str, Any], base: str = "value") -> list[dict[str, Any]]:
    """LangGraph's search filter (exact values, nested objects, `$eq $ne $gt $gte $lt $lte`)
    as store conditions on the fact's value."""
    out: list[dict[str, Any]] = []
    for name, wanted in filter.items():
        if not isinstance(name, str) or not _VALUE_PATH.match(name):
            raise InvalidFact(f"cannot filter on field {name!r}: use letters, digits and _")
        path = f"{base}.{name}"
        if isinstance(wanted, dict) and wanted and all(k.startswith("$") for k in wanted):
            unknown = set(wanted) - _COMPARE
            if unknown:
                raise InvalidFact(f"unsupported filter operator(s) {sorted(unknown)} on {name}")
            out.append({path: dict(wanted)})
        elif isinstance(wanted, dict):
            out.extend(value_conditions(wanted, path))
        elif isinstance(wanted, (list, tuple)):
            raise InvalidFact(f"cannot filter {name} by a list")
        else:
            out.append({path: wanted})
    return out


class WorldMemory:
    def __init__(
        self,
        store: DocumentStore,
        redis: Redis | None,
        *,
        hot_ttl_s: int = 600,
        hot_max: int = 1000,
        max_value_bytes: int = 64 * 1024,
    ):
        self.store = store
        self.redis = redis
        self.hot_ttl_s = hot_ttl_s
        self.hot_max = hot_max
        self.max_value_bytes = max_value_bytes
        self._pending: ContextVar[list[tuple[str, Fact, str]] | None] = ContextVar(
            f"world_pending_{id(self)}", default=None
        )
        self._write_script = redis.register_script(_HOT_WRITE) if redis is not None else None
        self._load_script = redis.register_script(_HOT_LOAD) if redis is not None else None

    # --- writes --------------------------------------------------------------------------

    async def put(
        self,
        company_id: str,
        namespace: str,
        key: str,
        value: Any,
        source: str,
        expected_version: int | None = None,
        ttl_s: float | None = None,
    ) -> Fact:
        """Write a new version. `expected_version` (the version last read; 0: absent) makes
        it conditional: `StaleVersion` when another write came first."""
        check_namespace(namespace)
        check_key(key)
        if value is None:
            raise InvalidFact("a fact needs a value; expire it to remove it")
        try:
            size = len(orjson.dumps(value))
        except TypeError as error:
            raise InvalidFact(f"the value is not JSON: {error}") from None
        if size > self.max_value_bytes:
            raise InvalidFact(f"the value is {size} bytes; the limit is {self.max_value_bytes}")
        if ttl_s is not None and not (0 < ttl_s <= 10 * 365 * 86400):
            raise InvalidFact("ttl_s must be a positive number of seconds (at most ten years)")
        if expected_version is not None and expected_version < 0:
            raise InvalidFact("expected_version must be 0 or more")
        where = {"company_id": company_id, "namespace": namespace, "key": key}
        for _ in range(WRITE_ATTEMPTS):
            moment = datetime.now(UTC)
            now = stamp(moment)
            expires = stamp(moment + timedelta(seconds=ttl_s)) if ttl_s is not None else None
            current = await self.store.find_one(COLLECTION, where)
            live = current is not None and is_live(current, now)
            live_version = current["version"] if current is not None and live else 0
            if expected_version is not None and expected_version != live_version:
                raise StaleVersion(namespace, key, expected_version, live_version)
            fields = {
                "value": value,
                "source": source,
                "updated_at": now,
                "expires_at": expires,
            }
            if current is None:
                doc = {"_id": new_id(), **where, **fields, "version": 1, "created_at": now}
                try:
                    await self.store.insert_one(COLLECTION, doc)
                except DuplicateKeyError:
                    doc = None
            else:
                changes = {**fields, "version": current["version"] + 1}
                if not live:
                    changes["created_at"] = now  # an expired fact written again starts anew
                doc = await self.store.update_one(
                    COLLECTION, {**where, "version": current["version"]}, {"$set": changes}
                )
            if doc is not None:
                fact = present(doc)
                await self._changed(company_id, fact, "put")
                return fact
            if expected_version is not None:
                latest = await self.store.find_one(COLLECTION, where)
                version = latest["version"] if latest and is_live(latest, utcnow()) else 0
                raise StaleVersion(namespace, key, expected_version, version)
        raise StaleVersion(namespace, key, live_version, live_version)

    async def expire(
        self, company_id: str, namespace: str, key: str, source: str | None = None
    ) -> Fact | None:
        """Expire the live fact now (a new version); None when there is none."""
        check_namespace(namespace)
        check_key(key)
        where = {"company_id": company_id, "namespace": namespace, "key": key}
        for _ in range(WRITE_ATTEMPTS):
            now = utcnow()
            current = await self.store.find_one(COLLECTION, {"$and": [where, live_filter(now)]})
            if current is None:
                return None
            changes = {
                "version": current["version"] + 1,
                "source": source or current["source"],
                "updated_at": now,
                "expires_at": now,
            }
            doc = await self.store.update_one(
                COLLECTION, {**where, "version": current["version"]}, {"$set": changes}
            )
            if doc is not None:
                fact = present(doc)
                await self._changed(company_id, fact, "expire")
                return fact
        return None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Writes inside commit together (with any other store writes); their change
        notifications go out after the commit, and not at all on rollback."""
        if self._pending.get() is not None:
            async with self.store.transaction():
                yield
            return
        pending: list[tuple[str, Fact, str]] = []
        token = self._pending.set(pending)
        try:
            async with self.store.transaction():
                yield
        finally:
            self._pending.reset(token)
        for company_id, fact, op in pending:
            await self._announce(company_id, fact, op)

    async def _changed(self, company_id: str, fact: Fact, op: str) -> None:
        pending = self._pending.get()
        if pending is not None:
            pending.append((company_id, fact, op))
        else:
            await self._announce(company_id, fact, op)

    async def _announce(self, company_id: str, fact: Fact, op: str) -> None:
        if self._write_script is None:
            return
        message = {
            "namespace": fact["namespace"],
            "key": fact["key"],
            "version": fact["version"],
            "op": op,
        }
        try:
            await self._hot_write(company_id, fact, channel(company_id), orjson.dumps(message))
        except Exception:
            log.exception("could not update the hot copy of fact %s", fact["id"])

    async def _hot_write(
        self, company_id: str, fact: Fact, to: str = "", message: bytes = b""
    ) -> None:
        assert self._write_script is not None
        field = f"{fact['namespace']}{SEP}{fact['key']}"
        args = [field, fact["version"], orjson.dumps(fact), self.hot_ttl_s, to, message]
        await self._write_script(keys=[hot_key(company_id)], args=args)

    # --- reads ---------------------------------------------------------------------------

    async def get(self, company_id: str, namespace: str, key: str) -> Fact | None:
        """The live fact, from the hot copy when it holds the key, else from the store."""
        check_namespace(namespace)
        check_key(key)
        now = utcnow()
        if self.redis is not None:
            with _redis_optional("read"):
                raw = await self.redis.hget(hot_key(company_id), f"{namespace}{SEP}{key}")
                if raw is not None:
                    fact = _decode(raw)
                    return fact if is_live(fact, now) else None
        doc = await self.store.find_one(
            COLLECTION, {"company_id": company_id, "namespace": namespace, "key": key}
        )
        if doc is None:
            return None
        fact = present(doc)
        if self._write_script is not None:
            with _redis_optional("fill"):
                await self._hot_write(company_id, fact)
        return fact if is_live(fact, now) else None

    async def search(
        self,
        company_id: str,
        *,
        namespace: str | None = None,
        namespace_prefix: str | None = None,
        prefix: str | None = None,
        since: str | None = None,
        value_filter: dict[str, Any] | None = None,
        sort: str = "-updated_at",
        limit: int = 25,
        skip: int = 0,
    ) -> tuple[list[Fact], int]:
        """Live facts from the store (the authority), with their total for paging.
        `namespace` is exact; `namespace_prefix` also takes its sub-namespaces; `prefix`
        starts the key; `since` keeps facts updated at or after that instant."""
        conditions: list[dict[str, Any]] = [{"company_id": company_id}, live_filter(utcnow())]
        if namespace is not None:
            conditions.append({"namespace": check_namespace(namespace)})
        if namespace_prefix:
            check_namespace(namespace_prefix)
            below = "^" + re.escape(namespace_prefix + "/")
            conditions.append(
                {"$or": [{"namespace": namespace_prefix}, {"namespace": {"$regex": below}}]}
            )
        if prefix:
            conditions.append({"key": {"$regex": "^" + re.escape(prefix)}})
        if since is not None:
            conditions.append({"updated_at": {"$gte": normalise_time(since)}})
        if value_filter:
            conditions.extend(value_conditions(value_filter))
        field = sort.removeprefix("-")
        if field not in SORTABLE:
            raise InvalidFact(f"cannot sort facts by {field!r}; sortable: {', '.join(SORTABLE)}")
        filter = {"$and": conditions}
        docs = await self.store.find(
            COLLECTION,
            filter,
            sort=[(field, -1 if sort.startswith("-") else 1)],
            skip=skip,
            limit=limit,
        )
        total = await self.store.count(COLLECTION, filter)
        return [present(d) for d in docs], total

    async def recall(
        self, company_id: str, namespaces: Iterable[str] | None = None, limit: int = 50
    ) -> list[Fact]:
        """What an agent reads: live facts, newest first, in these namespaces (each with its
        sub-namespaces), from the hot copy when it is complete, else from the store (which
        then fills it)."""
        wanted = [check_namespace(n) for n in namespaces] if namespaces is not None else None
        now = utcnow()
        facts = await self._hot_all(company_id)
        if facts is None:
            facts = await self._fill(company_id, now)
        if facts is None:  # more live facts than the hot copy holds: ask the store
            found: list[Fact] = []
            for ns in wanted if wanted is not None else [None]:
                page, _ = await self.search(company_id, namespace_prefix=ns, limit=limit)
                found.extend(page)
            facts = found
        chosen = [
            f
            for f in facts
            if is_live(f, now)
            and (wanted is None or any(_within(f["namespace"], n) for n in wanted))
        ]
        chosen.sort(key=lambda f: (f["updated_at"], f["id"]), reverse=True)
        return chosen[:limit]

    async def namespaces(self, company_id: str) -> list[str]:
        """Every namespace holding a live fact."""
        rows = await self.store.sum_by(
            COLLECTION,
            {"$and": [{"company_id": company_id}, live_filter(utcnow())]},
            ["namespace"],
            [],
        )
        return sorted(row["namespace"] for row in rows if row["namespace"])

    @asynccontextmanager
    async def watch(self, company_id: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Subscribe to the company's change notifications; subscribed once this enters."""
        if self.redis is None:
            raise RuntimeError("world memory has no Redis: changes are not published")
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(channel(company_id))

        async def changes() -> AsyncIterator[dict[str, Any]]:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield orjson.loads(message["data"])

        try:
            yield changes()
        finally:
            await pubsub.aclose()

    async def _hot_all(self, company_id: str) -> list[Fact] | None:
        if self.redis is None:
            return None
        with _redis_optional("read"):
            fields = {
                _bytes(k): v for k, v in (await self.redis.hgetall(hot_key(company_id))).items()
            }
            if COMPLETE.encode() not in fields:
                return None
            return [_decode(v) for k, v in fields.items() if SEP.encode() in k]
        return None

    async def _fill(self, company_id: str, now: str) -> list[Fact] | None:
        docs = await self.store.find(
            COLLECTION,
            {"$and": [{"company_id": company_id}, live_filter(now)]},
            sort=[("updated_at", -1)],
            limit=self.hot_max + 1,
        )
        if len(docs) > self.hot_max:
            return None
        facts = [present(d) for d in docs]
        if self._load_script is not None:
            args: list[Any] = [self.hot_ttl_s, COMPLETE]
            for fact in facts:
                args += [f"{fact['namespace']}{SEP}{fact['key']}", fact["version"]]
                args.append(orjson.dumps(fact))
            with _redis_optional("fill"):
                await self._load_script(keys=[hot_key(company_id)], args=args)
        return facts


def _within(namespace: str, wanted: str) -> bool:
    return namespace == wanted or namespace.startswith(wanted + "/")


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _decode(raw: bytes | str) -> Fact:
    _version, _, payload = _bytes(raw).partition(b"|")
    return orjson.loads(payload)


@contextlib.contextmanager
def _redis_optional(what: str) -> Iterator[None]:
    """Redis is a cache here: when it fails, log and let the caller use the store."""
    try:
        yield
    except Exception:
        log.exception("world memory: Redis %s failed; using the store", what)
