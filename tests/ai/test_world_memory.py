"""World memory: facts over HTTP, versioning, expiry, the hot copy, change notifications,
and LangGraph's store interface over it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from langgraph.store.base import BaseStore, InvalidNamespaceError
from redis.asyncio import Redis

from agents.memory_store import WorldStore
from memory.world import StaleVersion, WorldMemory, channel, hot_key
from tests.helpers import Account, data, expect_error, register

SHARED = "/api/ai-insights/shared"


@pytest.fixture(scope="module")
async def carol(client: httpx.AsyncClient) -> Account:
    return await register(client, name="Carol", company_name="Carol Co")


@pytest.fixture
async def company(carol: Account) -> Account:
    """Carol in a brand-new company of her own (Alice keeps exactly one company)."""
    created = data(await carol.post("/api/companies", json={"name": "Memory Co"}), 201)
    return carol.in_company(created["id"])


@pytest.fixture
def ns() -> str:
    return f"test/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def world(app: FastAPI) -> WorldMemory:
    return WorldMemory(app.state.services.store, app.state.services.redis)


@pytest.fixture
async def listener(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


async def facts_in(account: Account, namespace: str, **params: Any) -> dict[str, Any]:
    response = await account.get(SHARED, params={"namespace": namespace, **params})
    assert response.status_code == 200, response.text
    return response.json()


# --- POST and GET /api/ai-insights/shared ----------------------------------------------------


async def test_a_fact_is_written_and_read_back(alice: Account, ns: str) -> None:
    body = {"namespace": ns, "key": "terms", "value": {"days": 30, "early": [2, 10]}}
    fact = data(await alice.post(SHARED, json=body), 201)
    assert fact["version"] == 1
    assert fact["source"] == "api"
    assert fact["company_id"] == alice.company_id
    assert fact["expires_at"] is None
    assert fact["created_at"] == fact["updated_at"] and fact["created_at"].endswith("Z")
    assert len(fact["id"]) == 24

    listed = await facts_in(alice, ns)
    assert listed["data"] == [fact]
    assert listed["meta"] == {"total": 1, "page": 1, "limit": 25}


async def test_every_write_is_a_new_version(alice: Account, ns: str) -> None:
    first = data(await alice.post(SHARED, json={"namespace": ns, "key": "k", "value": 1}), 201)
    await asyncio.sleep(0.002)
    body = {"namespace": ns, "key": "k", "value": "two", "source": "crm-sync"}
    second = data(await alice.post(SHARED, json=body), 201)
    assert second["version"] == 2
    assert second["value"] == "two" and second["source"] == "crm-sync"
    assert second["id"] == first["id"]
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] > first["updated_at"]
    assert (await facts_in(alice, ns))["meta"]["total"] == 1


async def test_a_stale_expected_version_is_409(alice: Account, ns: str) -> None:
    body = {"namespace": ns, "key": "k", "value": 1}
    data(await alice.post(SHARED, json={**body, "expected_version": 0}), 201)
    error = expect_error(
        await alice.post(SHARED, json={**body, "expected_version": 0}), 409, "stale_version"
    )
    assert error["details"] == [{"field": "expected_version", "current_version": 1}]
    assert data(await alice.post(SHARED, json={**body, "expected_version": 1}), 201)["version"] == 2
    error = expect_error(
        await alice.post(SHARED, json={**body, "value": 9, "expected_version": 1}),
        409,
        "stale_version",
    )
    assert error["details"][0]["current_version"] == 2
    assert (await facts_in(alice, ns))["data"][0]["value"] == 1


async def test_concurrent_writers_with_the_same_expected_version_one_409(
    alice: Account, ns: str
) -> None:
    data(await alice.post(SHARED, json={"namespace": ns, "key": "k", "value": 0}), 201)
    bodies = [{"namespace": ns, "key": "k", "value": v, "expected_version": 1} for v in (1, 2)]
    responses = await asyncio.gather(*(alice.post(SHARED, json=b) for b in bodies))
    assert sorted(r.status_code for r in responses) == [201, 409]
    winner = next(r for r in responses if r.status_code == 201).json()["data"]
    assert winner["version"] == 2
    assert (await facts_in(alice, ns))["data"][0]["value"] == winner["value"]


async def test_concurrent_puts_in_world_memory_one_stale(
    world: WorldMemory, alice: Account, ns: str
) -> None:
    await world.put(alice.company_id, ns, "k", {"n": 0}, "test")
    results = await asyncio.gather(
        *(
            world.put(alice.company_id, ns, "k", {"n": n}, "test", expected_version=1)
            for n in (1, 2)
        ),
        return_exceptions=True,
    )
    stale = [r for r in results if isinstance(r, StaleVersion)]
    written = [r for r in results if isinstance(r, dict)]
    assert len(stale) == 1 and len(written) == 1
    assert written[0]["version"] == 2
    assert stale[0].current == 2


async def test_unconditional_concurrent_puts_get_distinct_versions(
    world: WorldMemory, alice: Account, ns: str
) -> None:
    facts = await asyncio.gather(
        *(world.put(alice.company_id, ns, "k", n, "test") for n in range(5))
    )
    assert sorted(f["version"] for f in facts) == [1, 2, 3, 4, 5]
    latest = await world.get(alice.company_id, ns, "k")
    assert latest is not None and latest["version"] == 5


class SlowReads:
    """The app's store, with every read of one fact followed by a pause: concurrent writers
    all read the same version before any of them writes, as across API processes."""

    def __init__(self, store: Any):
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def find_one(self, *args: Any, **kw: Any) -> Any:
        found = await self._store.find_one(*args, **kw)
        await asyncio.sleep(0.01)
        return found


@pytest.fixture
def racing(app: FastAPI) -> WorldMemory:
    return WorldMemory(SlowReads(app.state.services.store), app.state.services.redis)  # type: ignore[arg-type]


async def test_the_conditional_write_decides_a_real_race(
    racing: WorldMemory, alice: Account, ns: str
) -> None:
    cid = alice.company_id
    # Both create with expected_version 0: the unique key lets one in.
    created = await asyncio.gather(
        *(racing.put(cid, ns, "k", n, "test", expected_version=0) for n in (1, 2)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in created) == ["StaleVersion", "dict"]
    # Both update from version 1: the update conditional on the version lets one through.
    updated = await asyncio.gather(
        *(racing.put(cid, ns, "k", n, "test", expected_version=1) for n in (3, 4)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in updated) == ["StaleVersion", "dict"]
    stale = next(r for r in updated if isinstance(r, StaleVersion))
    assert stale.current == 2
    # Without expected_version the losers read again: every write lands, versions distinct.
    free = await asyncio.gather(*(racing.put(cid, ns, "k", n, "test") for n in range(3)))
    assert sorted(f["version"] for f in free) == [3, 4, 5]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "k", "value": 1}, "namespace"),
        ({"namespace": "a", "value": 1}, "key"),
        ({"namespace": "a", "key": "k"}, "value"),
        ({"namespace": "a", "key": "k", "value": None}, "value"),
        ({"namespace": "a//b", "key": "k", "value": 1}, "namespace"),
        ({"namespace": "a", "key": "", "value": 1}, "key"),
        ({"namespace": "a", "key": "line\nbreak", "value": 1}, "key"),
        ({"namespace": "a", "key": "k", "value": 1, "ttl_s": 0}, "ttl_s"),
        ({"namespace": "a", "key": "k", "value": 1, "expected_version": -1}, "expected_version"),
        ({"namespace": "a", "key": "k", "value": 1, "colour": "red"}, "colour"),
    ],
)
async def test_bad_fact_is_400(alice: Account, body: dict[str, Any], field: str) -> None:
    error = expect_error(await alice.post(SHARED, json=body), 400, "validation_error")
    assert field in {d["field"] for d in error["details"]}


async def test_malformed_json_and_an_oversized_value_are_400(alice: Account, ns: str) -> None:
    response = await alice.client.post(
        SHARED, content=b"{not json", headers={**alice.headers, "content-type": "application/json"}
    )
    expect_error(response, 400, "malformed_json")
    body = {"namespace": ns, "key": "big", "value": "x" * 70_000}
    error = expect_error(await alice.post(SHARED, json=body), 400, "invalid_fact")
    assert "65536" in error["message"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"since": "yesterday"}, "invalid_fact"),
        ({"sort": "value"}, "invalid_fact"),
        ({"namespace": "a//b"}, "invalid_fact"),
        ({"limit": 0}, "validation_error"),
        ({"limit": 201}, "validation_error"),
        ({"page": 0}, "validation_error"),
        ({"colour": "red"}, "validation_error"),
    ],
)
async def test_bad_read_is_400(alice: Account, params: dict[str, Any], code: str) -> None:
    expect_error(await alice.get(SHARED, params=params), 400, code)


async def test_no_token_is_401(client: httpx.AsyncClient) -> None:
    expect_error(await client.get(SHARED), 401, "token_missing")
    body = {"namespace": "a", "key": "k", "value": 1}
    expect_error(await client.post(SHARED, json=body), 401, "token_missing")


async def test_another_company_sees_none_of_the_facts(
    alice: Account, mallory: Account, ns: str
) -> None:
    data(await alice.post(SHARED, json={"namespace": ns, "key": "k", "value": "alice"}), 201)
    assert (await facts_in(mallory, ns))["meta"]["total"] == 0
    assert all(
        f["company_id"] == mallory.company_id for f in (await mallory.get(SHARED)).json()["data"]
    )

    # Her expected_version refers to her own (absent) fact, not to Alice's version 1.
    body = {"namespace": ns, "key": "k", "value": "mallory", "expected_version": 1}
    expect_error(await mallory.post(SHARED, json=body), 409, "stale_version")
    mine = data(await mallory.post(SHARED, json={**body, "expected_version": 0}), 201)
    assert mine["version"] == 1 and mine["company_id"] == mallory.company_id
    assert (await facts_in(alice, ns))["data"][0]["value"] == "alice"

    # Acting in Alice's company is refused outright.
    response = await mallory.in_company(alice.company_id).get(SHARED)
    expect_error(response, 403, "not_a_member")


async def test_reads_filter_by_namespace_prefix_and_since_with_pages(
    alice: Account, ns: str
) -> None:
    for key in ("inv-1", "inv-2", "inv-3", "bill-1"):
        data(await alice.post(SHARED, json={"namespace": ns, "key": key, "value": key}), 201)
    other = f"{ns}/child"
    data(await alice.post(SHARED, json={"namespace": other, "key": "inv-9", "value": 9}), 201)

    page = await facts_in(alice, ns, prefix="inv-", limit=2, sort="key")
    assert [f["key"] for f in page["data"]] == ["inv-1", "inv-2"]
    assert page["meta"] == {"total": 3, "page": 1, "limit": 2}
    page2 = await facts_in(alice, ns, prefix="inv-", limit=2, page=2, sort="key")
    assert [f["key"] for f in page2["data"]] == ["inv-3"]

    newest = page["data"][0]["updated_at"]
    await asyncio.sleep(0.002)
    later = data(await alice.post(SHARED, json={"namespace": ns, "key": "inv-1", "value": 2}), 201)
    recent = await facts_in(alice, ns, since=later["updated_at"])
    assert [f["key"] for f in recent["data"]] == ["inv-1"]
    assert (await facts_in(alice, ns, since=newest))["meta"]["total"] >= 1
    offset_form = later["updated_at"].replace("Z", "+00:00")
    assert (await facts_in(alice, ns, since=offset_form))["meta"]["total"] == 1


async def test_a_fact_with_a_ttl_disappears_when_it_expires(
    alice: Account, world: WorldMemory, ns: str
) -> None:
    body = {"namespace": ns, "key": "k", "value": 1, "ttl_s": 1}
    fact = data(await alice.post(SHARED, json=body), 201)
    assert fact["expires_at"] > fact["updated_at"]
    assert (await facts_in(alice, ns))["meta"]["total"] == 1
    assert await world.get(alice.company_id, ns, "k") is not None
    await asyncio.sleep(1.1)
    assert (await facts_in(alice, ns))["meta"]["total"] == 0
    assert await world.get(alice.company_id, ns, "k") is None
    assert all(f["namespace"] != ns for f in await world.recall(alice.company_id))

    # Absent again: expected_version 0 writes it, and the version keeps counting.
    again = data(await alice.post(SHARED, json={**body, "ttl_s": None, "expected_version": 0}), 201)
    assert again["version"] == 2 and again["expires_at"] is None
    assert again["created_at"] > fact["created_at"]


async def test_expiring_a_fact_hides_it_and_counts_a_version(
    world: WorldMemory, alice: Account, ns: str
) -> None:
    await world.put(alice.company_id, ns, "k", "v", "test")
    expired = await world.expire(alice.company_id, ns, "k")
    assert expired is not None and expired["version"] == 2 and expired["source"] == "test"
    assert await world.get(alice.company_id, ns, "k") is None
    assert await world.expire(alice.company_id, ns, "k") is None
    assert (await facts_in(alice, ns))["meta"]["total"] == 0
    with pytest.raises(StaleVersion):
        await world.put(alice.company_id, ns, "k", "w", "test", expected_version=2)


async def test_module_disabled_is_403(company: Account) -> None:
    data(await company.patch("/api/modules/licenses", json={"disable": ["ai-insights"]}))
    expect_error(await company.get(SHARED), 403, "module_disabled")
    body = {"namespace": "a", "key": "k", "value": 1}
    expect_error(await company.post(SHARED, json=body), 403, "module_disabled")


# --- change notifications and the hot copy ---------------------------------------------------


async def next_message(pubsub: Any, within_s: float = 5.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if message is not None and message["type"] == "message":
            return orjson.loads(message["data"])
    raise AssertionError("no change notification arrived")


async def test_every_change_is_published_on_the_company_channel(
    alice: Account, world: WorldMemory, listener: Redis, ns: str
) -> None:
    pubsub = listener.pubsub()
    await pubsub.subscribe(channel(alice.company_id))
    try:
        data(await alice.post(SHARED, json={"namespace": ns, "key": "k", "value": 1}), 201)
        assert await next_message(pubsub) == {
            "namespace": ns,
            "key": "k",
            "version": 1,
            "op": "put",
        }
        await world.expire(alice.company_id, ns, "k", "test")
        assert await next_message(pubsub) == {
            "namespace": ns,
            "key": "k",
            "version": 2,
            "op": "expire",
        }
    finally:
        await pubsub.aclose()


async def test_watch_delivers_changes_to_a_running_agent(
    world: WorldMemory, alice: Account, ns: str
) -> None:
    async with world.watch(alice.company_id) as changes:
        await world.put(alice.company_id, ns, "k", 1, "test")
        change = await asyncio.wait_for(anext(changes), 5)
    assert change == {"namespace": ns, "key": "k", "version": 1, "op": "put"}


async def test_a_rolled_back_transaction_publishes_nothing(
    world: WorldMemory, alice: Account, listener: Redis, ns: str
) -> None:
    pubsub = listener.pubsub()
    await pubsub.subscribe(channel(alice.company_id))
    try:
        with pytest.raises(RuntimeError):
            async with world.transaction():
                await world.put(alice.company_id, ns, "gone", 1, "test")
                raise RuntimeError("abort")
        assert await world.get(alice.company_id, ns, "gone") is None
        async with world.transaction():
            await world.put(alice.company_id, ns, "kept", 1, "test")
        assert (await next_message(pubsub))["key"] == "kept"
    finally:
        await pubsub.aclose()


async def test_recall_reads_the_hot_copy_and_falls_back_to_the_store(
    world: WorldMemory, company: Account, listener: Redis
) -> None:
    cid = company.company_id
    await world.put(cid, "customers/acme", "terms", {"days": 30}, "test")
    await asyncio.sleep(0.002)
    await world.put(cid, "customers/acme/contacts", "main", "ann", "test")
    await asyncio.sleep(0.002)
    await world.put(cid, "vendors/zed", "terms", {"days": 10}, "test")

    # Writes keep hot entries, but only a fill from the store makes the copy complete.
    assert await listener.hget(hot_key(cid), "complete") is None
    recalled = await world.recall(cid)
    assert [f["namespace"] for f in recalled] == [
        "vendors/zed",
        "customers/acme/contacts",
        "customers/acme",
    ]
    assert await listener.hget(hot_key(cid), "complete") == b"1"
    assert 0 < await listener.ttl(hot_key(cid)) <= world.hot_ttl_s

    # The hot copy now answers, and writes keep it current.
    await world.put(cid, "customers/acme", "terms", {"days": 45}, "test")
    acme = await world.recall(cid, ["customers/acme"], limit=5)
    assert [(f["key"], f["version"]) for f in acme] == [("terms", 2), ("main", 1)]
    assert acme[0]["value"] == {"days": 45}
    assert len(await world.recall(cid, limit=1)) == 1

    # Without it, reads go to the store (and refill it).
    await listener.delete(hot_key(cid))
    fact = await world.get(cid, "customers/acme", "terms")
    assert fact is not None and fact["version"] == 2
    assert len(await world.recall(cid)) == 3
    assert await listener.hget(hot_key(cid), "complete") == b"1"


async def test_an_older_state_never_overwrites_the_hot_copy(
    world: WorldMemory, alice: Account, listener: Redis, ns: str
) -> None:
    old = await world.put(alice.company_id, ns, "k", "old", "test")
    new = await world.put(alice.company_id, ns, "k", "new", "test")
    await world._hot_write(alice.company_id, old)  # a slow cache fill arriving late
    fact = await world.get(alice.company_id, ns, "k")
    assert fact is not None and fact["version"] == new["version"] and fact["value"] == "new"


async def test_recall_is_company_scoped(
    world: WorldMemory, alice: Account, mallory: Account, ns: str
) -> None:
    await world.put(alice.company_id, ns, "secret", "alice only", "test")
    assert all(
        f["company_id"] == mallory.company_id for f in await world.recall(mallory.company_id)
    )
    assert await world.get(mallory.company_id, ns, "secret") is None
    mine = await world.recall(alice.company_id, [ns])
    assert [f["key"] for f in mine] == ["secret"]


# --- LangGraph's BaseStore over world memory -------------------------------------------------


async def test_the_langgraph_store_round_trips(world: WorldMemory, company: Account) -> None:
    store: BaseStore = WorldStore(world, company.company_id)
    await store.aput(("users", "u1"), "prefs", {"tone": "brief", "score": 4})
    await store.aput(("users", "u1"), "lang", {"code": "de", "score": 2})
    await store.aput(("users", "u2"), "prefs", {"tone": "long", "score": 5})

    item = await store.aget(("users", "u1"), "prefs")
    assert item is not None
    assert item.value == {"tone": "brief", "score": 4}
    assert item.namespace == ("users", "u1") and item.key == "prefs"
    assert item.created_at.tzinfo is not None

    everyone = await store.asearch(("users",))
    assert {(i.namespace, i.key) for i in everyone} == {
        (("users", "u1"), "prefs"),
        (("users", "u1"), "lang"),
        (("users", "u2"), "prefs"),
    }
    high = await store.asearch(("users",), filter={"score": {"$gte": 4}})
    assert {i.value["tone"] for i in high} == {"brief", "long"}
    assert [i.key for i in await store.asearch(("users", "u1"), filter={"code": "de"})] == ["lang"]
    assert len(await store.asearch(("users",), limit=1, offset=1)) == 1

    assert await store.alist_namespaces() == [("users", "u1"), ("users", "u2")]
    assert await store.alist_namespaces(prefix=("users",), max_depth=1) == [("users",)]
    assert await store.alist_namespaces(suffix=("u2",)) == [("users", "u2")]

    await store.adelete(("users", "u1"), "prefs")
    assert await store.aget(("users", "u1"), "prefs") is None
    assert [i.key for i in await store.asearch(("users", "u1"))] == ["lang"]

    # The same facts over HTTP, written by the agent.
    listed = data(await company.get(SHARED, params={"namespace": "users/u2"}))
    assert listed[0]["source"] == "agent" and listed[0]["value"]["tone"] == "long"


async def test_the_langgraph_store_ttl_and_sync_api(world: WorldMemory, company: Account) -> None:
    store = WorldStore(world, company.company_id, source="graph")
    await store.aput(("cache",), "hot", {"v": 1}, ttl=0.5)  # minutes
    item = await store.aget(("cache",), "hot")
    assert item is not None
    fact = await world.get(company.company_id, "cache", "hot")
    assert fact is not None and fact["expires_at"] is not None and fact["source"] == "graph"

    # Sync nodes run in worker threads: the sync API goes through the store's loop.
    await asyncio.to_thread(store.put, ("cache",), "sync", {"v": 2})
    got = await asyncio.to_thread(store.get, ("cache",), "sync")
    assert got is not None and got.value == {"v": 2}
    with pytest.raises(RuntimeError):
        store.get(("cache",), "sync")  # on the loop itself it would block

    with pytest.raises(InvalidNamespaceError):
        await store.aput(("a/b",), "k", {"v": 1})


async def test_a_non_object_fact_reads_as_a_value_field(
    world: WorldMemory, company: Account
) -> None:
    await world.put(company.company_id, "rates", "eur", 1.08, "api")
    item = await WorldStore(world, company.company_id).aget(("rates",), "eur")
    assert item is not None and item.value == {"value": 1.08}
