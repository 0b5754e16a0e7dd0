"""The public chat with the offline provider, through the API and a real worker: grounded
answers from the company's published articles only, history in order and private, the
company's key, escalation once, abuse limits."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from domain.support.limits import ChatLimits, Policy
from settings import Settings
from tests.helpers import Account, data, expect_error
from tests.jobs.support import read_sse, serve
from tests.support.conftest import key_of, publish, say
from workers.runtime import NumborsWorker

VAT = (
    "Open Settings > Company and edit the VAT number.\n\nInvoices already sent keep the old number."
)


async def test_an_answer_grounded_in_the_companys_articles(
    books: Account, visitor: httpx.AsyncClient, worker: NumborsWorker
) -> None:
    vat = await publish(books, "Change the VAT number on invoices", VAT)
    await publish(books, "Draft about VAT", "Unreleased VAT screen.", status="draft")
    key = await key_of(books)
    r = await say(visitor, key, "How do I change my VAT number?", email="dana@example.com")
    body = data(r, 201)
    answer = body["answer"]
    assert answer["offline"] is True and answer["provider"] == "offline"
    assert answer["grounded"] is True and answer["notice"]
    assert [c["id"] for c in answer["citations"]] == [vat["id"]]
    assert f"[{vat['id']}]" in answer["text"] and "Settings > Company" in answer["text"]
    assert "Unreleased" not in answer["text"]
    assert body["message"] == {**body["message"], "seq": 1, "role": "visitor"}
    assert answer["seq"] == 2 and answer["reply_to"] == 1
    assert len(body["session_id"]) >= 32

    again = data(await say(visitor, key, "thanks", session_id=body["session_id"]), 201)
    assert again["session_id"] == body["session_id"]
    assert again["answer"]["citations"] == []  # nothing matches "thanks": no made-up answer
    history = await visitor.get(body["history_url"])
    messages = data(history)
    assert [(m["seq"], m["role"]) for m in messages] == [
        (1, "visitor"),
        (2, "assistant"),
        (3, "visitor"),
        (4, "assistant"),
    ]
    assert history.json()["meta"] == {"total": 4, "page": 1, "limit": 25}
    page = data(await visitor.get(body["history_url"], params={"page": 2, "limit": 3}))
    assert [m["seq"] for m in page] == [4]


async def test_no_other_companys_article_or_session(
    books: Account, owner: Account, visitor: httpx.AsyncClient, worker: NumborsWorker
) -> None:
    from tests.support.conftest import new_company

    other = await new_company(owner)
    await publish(other, "Zebra refunds", "Zebras are refunded within 30 days.")
    mine = await key_of(books)
    theirs = await key_of(other)
    body = data(await say(visitor, mine, "zebra refunds"), 201)
    assert body["answer"]["citations"] == []
    assert "Zebras" not in body["answer"]["text"]
    session = body["session_id"]
    # Their key cannot continue or read my session; an unknown one is the same 404.
    expect_error(await say(visitor, theirs, "hi", session_id=session), 404, "session_not_found")
    url = f"/api/support/history/{session}"
    expect_error(await visitor.get(url, params={"key": theirs}), 404, "session_not_found")
    assert data(await visitor.get(url, params={"key": mine}))
    expect_error(await visitor.get("/api/support/history/" + "A" * 32), 404, "session_not_found")
    r = await other.post("/api/support/escalate", json={"session_id": session})
    expect_error(r, 404, "session_not_found")


async def test_keys_are_the_companys_and_rotate(
    books: Account, visitor: httpx.AsyncClient, worker: NumborsWorker
) -> None:
    old = await key_of(books)
    assert old.startswith("pk_") and len(old) == 35
    rotated = data(await books.post("/api/support/keys/rotate"))
    assert rotated["key"] != old and rotated["rotated_at"]
    expect_error(await say(visitor, old, "hello"), 404, "support_key_unknown")
    expect_error(await say(visitor, "pk_" + "x" * 32, "hello"), 404, "support_key_unknown")
    assert data(await say(visitor, rotated["key"], "hello"), 201)["answer"]


async def test_bad_input(books: Account, visitor: httpx.AsyncClient) -> None:
    key = await key_of(books)
    expect_error(await say(visitor, key, ""), 400, "validation_error")
    expect_error(await say(visitor, key, "x" * 2001), 400, "validation_error")
    expect_error(await say(visitor, key, "hi", extra=1), 400, "validation_error")
    expect_error(await say(visitor, key, "hi", session_id="../../etc"), 400, "validation_error")
    r = await visitor.post(
        "/api/support/chat", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "Traceback" not in r.text


async def test_escalate_once(
    books: Account, visitor: httpx.AsyncClient, worker: NumborsWorker
) -> None:
    await publish(books, "Change the VAT number on invoices", VAT)
    key = await key_of(books)
    first = data(
        await say(visitor, key, "My VAT number is wrong on invoices", email="d@example.com"), 201
    )
    session = first["session_id"]
    url = "/api/support/escalate"
    category = data(
        await books.post(
            "/api/helpdesk/categories", json={"name": "Billing", "default_priority": "high"}
        ),
        201,
    )
    attempts = await asyncio.gather(
        *(
            books.post(url, json={"session_id": session, "category_id": category["id"]})
            for _ in range(3)
        )
    )
    created = [r for r in attempts if r.status_code == 201]
    assert len(created) == 1, [r.json() for r in attempts]
    ticket = data(created[0], 201)
    for refused in (r for r in attempts if r.status_code != 201):
        error = expect_error(refused, 409, "already_escalated")
        assert error["details"] == [{"ticket_id": ticket["id"]}]
    assert ticket["channel"] == "chat" and ticket["chat_session_id"] == session
    assert ticket["requester_email"] == "d@example.com"
    assert ticket["subject"] == "My VAT number is wrong on invoices"
    assert ticket["priority"] == "high" and ticket["sla_name"] == "Standard"
    assert "Visitor: My VAT number is wrong" in ticket["description"]
    assert "Assistant: Here is what our help articles say" in ticket["description"]
    again = await books.post(url, json={"session_id": session})
    expect_error(again, 409, "already_escalated")
    expect_error(await visitor.post(url, json={"session_id": session}), 401, "token_missing")


async def test_rate_limits(
    books: Account,
    visitor: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    worker: NumborsWorker,
) -> None:
    key = await key_of(books)
    app.state.support_limits = ChatLimits(
        settings.redis_url,
        Policy(per_address="100/minute", per_session="2/minute"),
        prefix=f"numbors:test:support:limits:{books.company_id}",
    )
    app.state.support_limits_loose = False
    try:
        session = data(await say(visitor, key, "one"), 201)["session_id"]
        data(await say(visitor, key, "two", session_id=session), 201)
        refused = await say(visitor, key, "three", session_id=session)
        expect_error(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        messages = data(await visitor.get(f"/api/support/history/{session}"))
        assert [m["text"] for m in messages if m["role"] == "visitor"] == ["one", "two"]
        app.state.support_limits = ChatLimits(
            settings.redis_url,
            Policy(per_address="1/minute"),
            prefix=f"numbors:test:support:ip:{books.company_id}",
        )
        data(await say(visitor, key, "a"), 201)
        expect_error(await say(visitor, key, "b"), 429, "rate_limited")
    finally:
        app.state.support_limits_loose = False


async def test_a_streamed_answer_resumes(
    books: Account, app: FastAPI, worker: NumborsWorker
) -> None:
    await publish(books, "Change the VAT number on invoices", VAT)
    key = await key_of(books)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        r = await http.post(
            "/api/support/chat",
            params={"wait": "false"},
            json={"key": key, "message": "change VAT number"},
        )
        body = data(r, 202)
        assert body["answer"] is None
        stream = await read_sse(http, body["events_url"], {})
        assert stream.status == 200 and stream.types[-1] == "result"
        tokens = "".join(e.json()["text"] for e in stream.events if e.event == "token")
        result = stream.events[-1].json()
        assert tokens == result["text"] and "Settings > Company" in tokens
        middle = stream.events[len(stream.events) // 2]
        rest = await read_sse(http, body["events_url"], {}, last_event_id=middle.id)
        assert [e.id for e in rest.events] == [
            e.id for e in stream.events[len(stream.events) // 2 + 1 :]
        ]
        missing = body["events_url"].rsplit("/", 1)[0] + "/99"
        expect_error(await http.get(missing), 404, "answer_not_found")
