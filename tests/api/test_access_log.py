"""One JSON access-log line per request, on stderr: method, route, status, duration, request,
user and company."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from fastapi import FastAPI

from api.access_log import LOGGER, AccessLog
from tests.helpers import Account, data


@pytest.fixture
def info(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LOGGER, "level", logging.INFO)
    monkeypatch.setattr(LOGGER, "disabled", False)
    LOGGER.manager._clear_cache()  # isEnabledFor caches per level


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_each_request_writes_one_line(
    app: FastAPI, alice: Account, info: None, capsys: pytest.CaptureFixture[str]
) -> None:
    access: AccessLog = app.state.access_log
    access.flush()
    capsys.readouterr()
    contact = data(await alice.post("/api/contacts", json={"name": "Logged", "type": "other"}), 201)
    headers = {**alice.headers, "X-Request-Id": "trace-42"}
    await alice.client.get(f"/api/contacts/{contact['id']}", headers=headers)
    await alice.client.get("/api/contacts/not-an-id", headers=alice.headers)
    access.flush()
    created, read, bad = lines(capsys.readouterr().err)[-3:]
    assert created["method"] == "POST" and created["route"] == "/api/contacts"
    assert created["status"] == 201
    assert read == {
        "method": "GET",
        "route": "/api/contacts/{id}",
        "status": 200,
        "duration_ms": read["duration_ms"],
        "request_id": "trace-42",
        "user_id": alice.user_id,
        "company_id": alice.company_id,
    }
    assert read["duration_ms"] >= 0
    assert bad["status"] == 400 and bad["route"] == "/api/contacts/{id}"


def test_lines_wait_for_a_batch_or_the_flush_interval(capsys: pytest.CaptureFixture[str]) -> None:
    access = AccessLog(flush_s=3600, max_lines=3)
    access.flush()
    access.write({"n": 1})
    access.write({"n": 2})
    assert capsys.readouterr().err == ""
    access.write({"n": 3})
    assert lines(capsys.readouterr().err) == [{"n": 1}, {"n": 2}, {"n": 3}]
    access.write({"n": 4})
    access.flush()
    assert lines(capsys.readouterr().err) == [{"n": 4}]


async def test_the_flusher_writes_what_waits_and_flushes_on_stop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    access = AccessLog(flush_s=0.05, max_lines=100)
    access.flush()
    task = asyncio.create_task(access.run())
    access._flushed = float("inf")  # no flush from write itself
    access.write({"n": 1})
    await asyncio.sleep(0.2)
    assert lines(capsys.readouterr().err) == [{"n": 1}]
    access._flushed = float("inf")
    access.write({"n": 2})
    assert capsys.readouterr().err == ""
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lines(capsys.readouterr().err) == [{"n": 2}]
