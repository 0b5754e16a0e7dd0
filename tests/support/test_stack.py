"""The support chat end to end on real processes (`python -m supervisor`: Valkey, the API,
a worker): a visitor with no token chats with a company through its public key, the
worker answers from the company's published article, the history reads back, a company
user escalates the chat to a ticket with its SLA, once, and works the ticket."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_supervisor import Platform
from tests.helpers import PASSWORD, unique_email

pytestmark = pytest.mark.e2e


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(tmp_path)
    try:
        yield platform
    finally:
        platform.kill()


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()["data"]


async def test_chat_answer_history_and_escalation(platform: Platform) -> None:
    platform.start()
    platform.wait_ready()
    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as http:
        body = {"email": unique_email("support"), "password": PASSWORD, "name": "Sam"}
        token = ok(await http.post("/api/auth/register", json=body), 201)["token"]
        auth = {"Authorization": f"Bearer {token}"}
        article = ok(
            await http.post(
                "/api/helpdesk/articles",
                headers=auth,
                json={
                    "title": "Reset your password",
                    "body": "Use *Forgot password* on the login page.\n\nThe link works 24 hours.",
                    "status": "published",
                },
            ),
            201,
        )
        key = ok(await http.get("/api/support/keys", headers=auth))[0]["key"]

        chat = ok(
            await http.post(
                "/api/support/chat",
                json={
                    "key": key,
                    "message": "How can I reset my password?",
                    "email": "v@example.com",
                },
            ),
            201,
        )
        answer = chat["answer"]
        assert answer["offline"] is True and answer["grounded"] is True
        assert answer["citations"] == [{"id": article["id"], "title": "Reset your password"}]
        assert "Forgot password" in answer["text"]
        history = ok(await http.get(chat["history_url"]))
        assert [m["role"] for m in history] == ["visitor", "assistant"]

        url = "/api/support/escalate"
        ticket = ok(
            await http.post(url, headers=auth, json={"session_id": chat["session_id"]}), 201
        )
        assert ticket["channel"] == "chat" and ticket["sla_name"] == "Standard"
        assert (
            ticket["first_response_due_at"] and ticket["agreement_status"] == "first_response_due"
        )
        again = await http.post(url, headers=auth, json={"session_id": chat["session_id"]})
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_escalated"

        replies = f"/api/helpdesk/tickets/{ticket['id']}/replies"
        ok(await http.post(replies, headers=auth, json={"body": "Sent you a reset link."}), 201)
        opened = ok(await http.get(f"/api/helpdesk/tickets/{ticket['id']}", headers=auth))
        assert opened["status"] == "open" and opened["first_response_breached"] is False
        resolved = ok(
            await http.post(f"/api/helpdesk/tickets/{ticket['id']}/resolve", headers=auth)
        )
        assert resolved["agreement_status"] == "fulfilled"
    platform.stop(signal.SIGTERM)
