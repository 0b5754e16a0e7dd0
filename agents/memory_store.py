"""World memory as a LangGraph `BaseStore`, for one company: graphs read and write shared
facts through LangGraph's own store interface (`store.aget`, `aput`, `asearch`, ...).

Mapping:
- a namespace tuple is the fact's namespace, its labels joined by '/' (so a label may not
  contain '/'); the item's key is the fact's key;
- `PutOp` writes a new fact version with this store's `source`; a value of None expires the
  fact; `ttl` (LangGraph's minutes) becomes the fact's expiry, counted from the write (reads
  do not extend it);
- `SearchOp` searches the namespace and everything below it, newest first, with LangGraph's
  filter (exact values, nested objects, `$eq $ne $gt $gte $lt $lte`) applied in the store;
  `query` (semantic search) is not supported and is ignored, so `score` is None;
- an item's value is the fact's value; a fact written elsewhere whose value is not an
  object reads as `{"value": <it>}`.

`abatch` runs the operations in order. `batch` (the sync API, which LangGraph uses for sync
nodes running in worker threads) hands them to the event loop this store was first used on.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from memory.world import Fact, WorldMemory


class WorldStore(BaseStore):
    supports_ttl = True

    def __init__(self, world: WorldMemory, company_id: str, *, source: str = "agent"):
        self.world = world
        self.company_id = company_id
        self.source = source
        self._loop: asyncio.AbstractEventLoop | None = None

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return [await self._run(op) for op in ops]

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "WorldStore.batch blocks; on the event loop use aget/aput/asearch/adelete"
            )
        if self._loop is None or not self._loop.is_running():
            raise RuntimeError(
                "WorldStore's sync API needs its event loop running in another thread; "
                "use the async API (aget, aput, asearch) from async code"
            )
        return asyncio.run_coroutine_threadsafe(self.abatch(list(ops)), self._loop).result()

    async def _run(self, op: Op) -> Result:
        if isinstance(op, GetOp):
            fact = await self.world.get(self.company_id, _namespace(op.namespace), op.key)
            return _item(fact) if fact is not None else None
        if isinstance(op, PutOp):
            namespace = _namespace(op.namespace)
            if op.value is None:
                await self.world.expire(self.company_id, namespace, op.key, self.source)
                return None
            ttl_s = max(1, math.ceil(op.ttl * 60)) if op.ttl is not None else None
            await self.world.put(
                self.company_id, namespace, op.key, dict(op.value), self.source, ttl_s=ttl_s
            )
            return None
        if isinstance(op, SearchOp):
            facts, _ = await self.world.search(
                self.company_id,
                namespace_prefix=_namespace(op.namespace_prefix) if op.namespace_prefix else None,
                value_filter=op.filter,
                limit=op.limit,
                skip=op.offset,
            )
            return [_search_item(f) for f in facts]
        if isinstance(op, ListNamespacesOp):
            return await self._namespaces(op)
        raise ValueError(f"unsupported store operation {type(op).__name__}")

    async def _namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        found = [tuple(n.split("/")) for n in await self.world.namespaces(self.company_id)]
        if op.match_conditions:
            found = [ns for ns in found if all(_matches(c, ns) for c in op.match_conditions)]
        if op.max_depth is not None:
            found = [ns[: op.max_depth] for ns in found]
        unique = sorted(set(found))
        return unique[op.offset : op.offset + op.limit]


def _namespace(labels: tuple[str, ...]) -> str:
    for label in labels:
        if not isinstance(label, str) or not label or "/" in label:
            raise InvalidNamespaceError(
                f"namespace {labels!r}: every label must be a non-empty string without '/'"
            )
    return "/".join(labels)


def _value(fact: Fact) -> dict[str, Any]:
    value = fact["value"]
    return value if isinstance(value, dict) else {"value": value}


def _item(fact: Fact) -> Item:
    return Item(
        value=_value(fact),
        key=fact["key"],
        namespace=tuple(fact["namespace"].split("/")),
        created_at=fact["created_at"],
        updated_at=fact["updated_at"],
    )


def _search_item(fact: Fact) -> SearchItem:
    return SearchItem(
        namespace=tuple(fact["namespace"].split("/")),
        key=fact["key"],
        value=_value(fact),
        created_at=fact["created_at"],
        updated_at=fact["updated_at"],
    )


def _matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = condition.path
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs = zip(namespace, path, strict=False)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise ValueError(f"unsupported namespace match type {condition.match_type!r}")
    return all(wanted == "*" or label == wanted for label, wanted in pairs)
