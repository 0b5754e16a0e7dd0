"""The memory hook: Standard Webhooks verification, replays, events, and the secret."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from standardwebhooks.webhooks import Webhook

from domain import facts
from memory.ids import utcnow
from memory.world import channel
from tests.helpers import Account, data, expect_error, register

HOOK = "/api/ai-insights/memory-hook"
SECRET = "/api/ai-insights/webhook-secret"
SHARED = "/api/ai-insights/shared"


@pytest.fixture(scope="module")
async def dana(client: httpx.AsyncClient) -> Account:
    return await register(client, name="Dana", company_name="Dana Co")


@pytest.fixture
async def company(dana: Account) -> Account:
    """Dana in a brand-new company of her own, so rotating its secret disturbs no one."""
    created = data(await dana.post("/api/companies", json={"name": "Hook Co"}), 201)
    return dana.in_company(created["id"])


@pytest.fixture
def ns() -> str:
    return f"hook/{uuid.uuid4().hex[:12]}"


async def secret_of(account: Account) -> str:
    return data(await account.get(SECRET))["secret"]


def signed(
    secret: str,
    body: bytes,
    *,
    company_id: str | None,
    msg_id: str | None = None,
    at: float | None = None,
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    moment = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, moment, body.decode()),
    }
    if company_id is not None:
        headers["X-Company-Id"] = company_id
    return headers


def upsert(ns: str, key: str = "k", value: Any = 1, **extra: Any) -> bytes:
    event = {"type": "fact.upsert", "data": {"namespace": ns, "key": key, "value": value, **extra}}
    return orjson.dumps(event)


async def deliver(
    client: httpx.AsyncClient,
    secret: str,
    body: bytes,
    company_id: str | None,
    **kw: Any,
) -> httpx.Response:
    return await client.post(
        HOOK, content=body, headers=signed(secret, body, company_id=company_id, **kw)
    )


async def facts_in(account: Account, namespace: str) -> list[dict[str, Any]]:
    return data(await account.get(SHARED, params={"namespace": namespace}))


# --- the secret -------------------------------------------------------------------------------


async def test_the_owner_sees_a_stable_secret(company: Account) -> None:
    first = data(await company.get(SECRET))
    assert first["secret"].startswith("whsec_") and len(first["secret"]) > 40
    assert first["company_id"] == company.company_id
    assert first["rotated_at"] is None
    assert data(await company.get(SECRET)) == first


async def test_secret_needs_a_token_and_the_owner(
    client: httpx.AsyncClient, app: FastAPI, company: Account, mallory: Account
) -> None:
    expect_error(await client.get(SECRET), 401, "token_missing")
    expect_error(await client.post(f"{SECRET}/rotate"), 401, "token_missing")
    # Mallory becomes a plain member of the company: she may not see or rotate its secret.
    await app.state.services.store.insert_one(
        "memberships",
        {
            "company_id": company.company_id,
            "user_id": mallory.user_id,
            "role": "member",
            "created_at": utcnow(),
        },
    )
    member = mallory.in_company(company.company_id)
    expect_error(await member.get(SECRET), 403, "owner_only")
    expect_error(await member.post(f"{SECRET}/rotate"), 403, "owner_only")


async def test_rotation_retires_the_old_secret(company: Account, ns: str) -> None:
    old = await secret_of(company)
    rotated = data(await company.post(f"{SECRET}/rotate"))
    assert rotated["secret"] != old and rotated["rotated_at"] is not None
    assert await secret_of(company) == rotated["secret"]

    response = await deliver(company.client, old, upsert(ns), company.company_id)
    expect_error(response, 401, "bad_signature")
    assert await facts_in(company, ns) == []
    response = await deliver(company.client, rotated["secret"], upsert(ns), company.company_id)
    assert data(response, 201)["fact"]["version"] == 1


# --- deliveries --------------------------------------------------------------------------------


async def test_a_signed_upsert_writes_the_fact(alice: Account, ns: str) -> None:
    secret = await secret_of(alice)
    body = upsert(ns, "terms", {"days": 14}, ttl_s=3600)
    response = await deliver(alice.client, secret, body, alice.company_id, msg_id="msg_one")
    result = data(response, 201)
    assert result["type"] == "fact.upsert" and result["webhook_id"] == "msg_one"
    fact = result["fact"]
    assert fact["version"] == 1 and fact["source"] == "webhook"
    assert fact["value"] == {"days": 14} and fact["expires_at"] is not None
    assert await facts_in(alice, ns) == [fact]


async def test_the_company_may_be_named_in_the_body(alice: Account, ns: str) -> None:
    secret = await secret_of(alice)
    event = {
        "type": "fact.upsert",
        "company_id": alice.company_id,
        "timestamp": utcnow(),
        "data": {"namespace": ns, "key": "k", "value": "v"},
    }
    body = orjson.dumps(event)
    assert data(await deliver(alice.client, secret, body, None), 201)["fact"]["value"] == "v"

    other = orjson.dumps({**event, "company_id": "0" * 24})
    mismatch = await deliver(alice.client, secret, other, alice.company_id)
    expect_error(mismatch, 400, "company_mismatch")


async def test_an_expire_event_hides_the_fact(alice: Account, ns: str) -> None:
    secret = await secret_of(alice)
    data(await deliver(alice.client, secret, upsert(ns), alice.company_id), 201)
    body = orjson.dumps({"type": "fact.expire", "data": {"namespace": ns, "key": "k"}})
    result = data(await deliver(alice.client, secret, body, alice.company_id), 201)
    assert result["type"] == "fact.expire" and result["fact"]["version"] == 2
    assert await facts_in(alice, ns) == []
    again = data(await deliver(alice.client, secret, body, alice.company_id), 201)
    assert again["fact"] is None


async def test_a_replayed_webhook_id_gets_the_first_answer_and_writes_once(
    alice: Account, ns: str
) -> None:
    secret = await secret_of(alice)
    body = upsert(ns, value={"n": 1})
    answers = [
        await deliver(alice.client, secret, body, alice.company_id, msg_id="msg_replayed")
        for _ in range(3)
    ]
    assert {r.status_code for r in answers} == {201}
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert "webhook-replayed" not in answers[0].headers
    assert answers[1].headers["webhook-replayed"] == "true"
    facts = await facts_in(alice, ns)
    assert len(facts) == 1 and facts[0]["version"] == 1


async def test_concurrent_duplicates_write_once(alice: Account, ns: str) -> None:
    secret = await secret_of(alice)
    body = upsert(ns)
    headers = signed(secret, body, company_id=alice.company_id)
    answers = await asyncio.gather(
        *(alice.client.post(HOOK, content=body, headers=headers) for _ in range(3))
    )
    assert {r.status_code for r in answers} == {201}
    assert len({r.content for r in answers}) == 1
    assert [f["version"] for f in await facts_in(alice, ns)] == [1]


async def test_a_bad_signature_is_401_and_writes_nothing(alice: Account, ns: str) -> None:
    secret = await secret_of(alice)
    body = upsert(ns)
    headers = signed(secret, body, company_id=alice.company_id)
    tampered = upsert(ns, value=2)
    response = await alice.client.post(HOOK, content=tampered, headers=headers)
    expect_error(response, 401, "bad_signature")

    for signature in ("v1,AAAA", "garbage", "v1,not-base64!"):
        response = await alice.client.post(
            HOOK, content=body, headers={**headers, "webhook-signature": signature}
        )
        expect_error(response, 401, "bad_signature")
    other = "whsec_" + "A" * 43 + "="
    expect_error(await deliver(alice.client, other, body, alice.company_id), 401, "bad_signature")
    no_signature = {k: v for k, v in headers.items() if k != "webhook-signature"}
    response = await alice.client.post(HOOK, content=body, headers=no_signature)
    expect_error(response, 401, "signature_missing")
    assert await facts_in(alice, ns) == []


async def test_another_company_or_an_unknown_one_is_401(
    alice: Account, mallory: Account, ns: str
) -> None:
    secret = await secret_of(alice)
    body = upsert(ns)
    response = await deliver(alice.client, secret, body, mallory.company_id)
    expect_error(response, 401, "bad_signature")
    response = await deliver(alice.client, secret, body, "0" * 24)
    expect_error(response, 401, "bad_signature")
    assert await facts_in(mallory, ns) == []


@pytest.mark.parametrize("offset_s", [-360, 360])
async def test_a_timestamp_six_minutes_off_is_400(alice: Account, ns: str, offset_s: int) -> None:
    secret = await secret_of(alice)
    response = await deliver(
        alice.client, secret, upsert(ns), alice.company_id, at=time.time() + offset_s
    )
    expect_error(response, 400, "webhook_timestamp_out_of_tolerance")
    assert await facts_in(alice, ns) == []


async def test_missing_headers_or_company_are_400(alice: Account, ns: str) -> None:
    secret = await secret_of(alice)
    body = upsert(ns)
    headers = signed(secret, body, company_id=alice.company_id)
    for header in ("webhook-id", "webhook-timestamp"):
        partial = {k: v for k, v in headers.items() if k != header}
        error = expect_error(
            await alice.client.post(HOOK, content=body, headers=partial),
            400,
            "webhook_headers_missing",
        )
        assert error["details"][0]["field"] == header
    bad_time = {**headers, "webhook-timestamp": "soon"}
    response = await alice.client.post(HOOK, content=body, headers=bad_time)
    expect_error(response, 400, "invalid_webhook_timestamp")

    response = await deliver(alice.client, secret, body, None)
    expect_error(response, 400, "company_missing")
    response = await deliver(alice.client, secret, body, "not-an-id")
    expect_error(response, 400, "invalid_company_id")


@pytest.mark.parametrize(
    ("event", "code", "field"),
    [
        ({"type": "fact.delete", "data": {}}, "unknown_event_type", None),
        ({"data": {}}, "validation_error", "type"),
        (
            {"type": "fact.upsert", "data": {"namespace": "a", "key": "k"}},
            "validation_error",
            "data.value",
        ),
        (
            {"type": "fact.upsert", "data": {"namespace": "a", "key": "k", "value": 1, "x": 1}},
            "validation_error",
            "data.x",
        ),
        (
            {"type": "fact.expire", "data": {"namespace": "a//b", "key": "k"}},
            "validation_error",
            "data.namespace",
        ),
    ],
)
async def test_a_bad_event_is_400_and_its_replay_too(
    alice: Account, event: dict[str, Any], code: str, field: str | None
) -> None:
    secret = await secret_of(alice)
    body = orjson.dumps(event)
    headers = signed(secret, body, company_id=alice.company_id)
    first = await alice.client.post(HOOK, content=body, headers=headers)
    error = expect_error(first, 400, code)
    if field is not None:
        assert field in {d["field"] for d in error["details"]}
    replay = await alice.client.post(HOOK, content=body, headers=headers)
    assert replay.status_code == 400 and replay.json() == first.json()


async def test_malformed_json_is_400_after_verification(alice: Account) -> None:
    secret = await secret_of(alice)
    response = await deliver(alice.client, secret, b"{nope", alice.company_id)
    expect_error(response, 400, "malformed_json")


async def test_a_stale_expected_version_in_an_event_is_409(alice: Account, ns: str) -> None:
    secret = await secret_of(alice)
    data(await deliver(alice.client, secret, upsert(ns), alice.company_id), 201)
    response = await deliver(alice.client, secret, upsert(ns, expected_version=0), alice.company_id)
    expect_error(response, 409, "stale_version")


async def test_module_disabled_is_403_after_verification(company: Account, ns: str) -> None:
    secret = await secret_of(company)
    data(await company.patch("/api/modules/licenses", json={"disable": ["ai-insights"]}))
    response = await deliver(company.client, secret, upsert(ns), company.company_id)
    expect_error(response, 403, "module_disabled")


@pytest.fixture
async def listener(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


async def test_a_hook_write_notifies_subscribers(alice: Account, listener: Redis, ns: str) -> None:
    secret = await secret_of(alice)
    pubsub = listener.pubsub()
    await pubsub.subscribe(channel(alice.company_id))
    try:
        data(await deliver(alice.client, secret, upsert(ns), alice.company_id), 201)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message and orjson.loads(message["data"])["namespace"] == ns:
                break
        else:
            raise AssertionError("no change notification arrived")
        assert orjson.loads(message["data"]) == {
            "namespace": ns,
            "key": "k",
            "version": 1,
            "op": "put",
        }
    finally:
        await pubsub.aclose()


async def test_a_duplicate_that_slips_past_the_check_rolls_back(
    alice: Account, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two API processes may both find no answer yet: the second's write rolls back on the
    unique webhook-id and it answers what the first answered."""
    secret = await secret_of(alice)
    body = upsert(ns, value="first")
    headers = signed(secret, body, company_id=alice.company_id)
    first = await alice.client.post(HOOK, content=body, headers=headers)
    assert first.status_code == 201

    real = facts.first_answer
    calls = 0

    async def racing(*args: Any) -> facts.Answer | None:
        nonlocal calls
        calls += 1
        return None if calls == 1 else await real(*args)

    monkeypatch.setattr(facts, "first_answer", racing)
    second = await alice.client.post(HOOK, content=body, headers=headers)
    assert calls == 2
    assert second.status_code == 201 and second.json() == first.json()
    assert second.headers["webhook-replayed"] == "true"
    assert [f["version"] for f in await facts_in(alice, ns)] == [1]


async def test_answers_older_than_the_replay_window_are_pruned(
    app: FastAPI, company: Account
) -> None:
    store = app.state.services.store
    cid = company.company_id
    old = {"company_id": cid, "webhook_id": "msg_old", "status": 201, "body": {}}
    await store.insert_one(
        "memory_hook_deliveries", {**old, "created_at": "2020-01-01T00:00:00.000Z"}
    )
    answer = facts.Answer(201, {"success": True, "data": None})
    await facts.remember(store, cid, "msg_new", answer, keep_s=3600)
    assert await facts.first_answer(store, cid, "msg_old") is None
    assert await facts.first_answer(store, cid, "msg_new") == answer
