"""The audit trail and its OCSF export: every write, login and account change is an event
(in the write's transaction), the export validates against OCSF 1.3.0's requirements, it
filters by class and time, resumes from its cursor, streams NDJSON, is the owner's or
admin's only and shows one company nothing of another. And the posture snapshot."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from domain.compliance import audit, export
from domain.context import Ctx
from tests.compliance.ocsf_check import problems
from tests.helpers import PASSWORD, Account, data, expect_error, register

EXPORT = "/api/compliance/export"


async def busy_company(client: httpx.AsyncClient) -> tuple[Account, Account]:
    """A company with a contact created, edited and deleted, a member added, promoted and a
    login and failed login of its owner."""
    owner = await register(client, name="Auditor", company_name="Audited Ltd")
    contact = data(await owner.post("/api/contacts", json={"name": "Acme"}), 201)
    data(await owner.put(f"/api/contacts/{contact['id']}", json={"name": "Acme Ltd"}))
    data(await owner.delete(f"/api/contacts/{contact['id']}"))
    grace = await register(client, name="Grace")
    members = f"/api/companies/{owner.company_id}/members"
    data(await owner.post(members, json={"email": grace.email, "role": "member"}), 201)
    data(await owner.put(f"{members}/{grace.user_id}", json={"role": "admin"}))
    bad = {"email": owner.email, "password": "not the password"}
    expect_error(await client.post("/api/auth/login", json=bad), 401, "invalid_credentials")
    good = {"email": owner.email, "password": PASSWORD}
    data(await client.post("/api/auth/login", json=good), 201)
    return owner, grace.in_company(owner.company_id)


async def all_events(account: Account, **params: Any) -> list[dict[str, Any]]:
    return data(await account.get(EXPORT, params={"limit": 1000, **params}))["events"]


async def test_every_write_and_login_is_an_ocsf_event(client: httpx.AsyncClient) -> None:
    owner, _ = await busy_company(client)
    events = await all_events(owner)
    for event in events:
        assert problems(event) == [], event
    kinds = Counter((e["class_uid"], e["activity_id"], e["status_id"]) for e in events)
    assert kinds[(6003, 1, 1)] >= 2  # the company (at registration) and the contact
    assert kinds[(6003, 3, 1)] == 1 and kinds[(6003, 4, 1)] == 1
    assert kinds[(3001, 1, 1)] == 2  # the owner and Grace registered
    assert kinds[(3001, 7, 1)] == 2  # Grace added as member, then made admin
    assert kinds[(3002, 1, 2)] == 1 and kinds[(3002, 1, 1)] == 1  # a failed and a good login
    update = next(e for e in events if e["type_uid"] == 600303)
    assert update["api"]["operation"] == "contacts.update"
    assert update["actor"]["user"]["uid"] == owner.user_id
    assert update["metadata"]["tenant_uid"] == owner.company_id
    assert update["src_endpoint"]["ip"] == "127.0.0.1"
    assert update["http_request"]["http_method"] == "PUT"
    promoted = [e for e in events if e["type_uid"] == 300107]
    assert promoted[-1]["policy"] == {"name": "admin"}
    assert promoted[-1]["unmapped"] == {"previous_role": "member"}
    times = [e["time"] for e in events]
    assert times == sorted(times)
    assert len({e["metadata"]["uid"] for e in events}) == len(events)


async def test_filters_cursor_and_ndjson(client: httpx.AsyncClient) -> None:
    owner, _ = await busy_company(client)
    everything = await all_events(owner)
    logins = await all_events(owner, **{"class": "authentication"})
    assert logins and {e["class_uid"] for e in logins} == {3002}
    writes = await all_events(owner, **{"class": "api_activity"})
    assert {e["class_uid"] for e in writes} == {6003}
    # pages of 3 resume from their cursor and add up to everything, none missed or repeated
    paged, cursor = [], None
    while True:
        params = {"limit": 3, **({"after": cursor} if cursor else {})}
        page = data(await owner.get(EXPORT, params=params))
        paged += page["events"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["metadata"]["uid"] for e in paged] == [e["metadata"]["uid"] for e in everything]
    # a time range
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert await all_events(owner, **{"from": tomorrow}) == []
    assert len(await all_events(owner, to=tomorrow)) == len(everything)
    # NDJSON: the same events, one a line
    streamed = await owner.get(EXPORT, params={"format": "ndjson"})
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in streamed.content.splitlines()]
    assert lines == everything


async def test_ndjson_over_many_store_pages(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With store pages of 2 events, the stream (each stream reading its next page ahead,
    the company's and each member's merged) still answers every event once, in order, as
    the JSON pages do, and a stream cut short is no error."""
    owner, _ = await busy_company(client)
    everything = await all_events(owner)
    monkeypatch.setattr(export, "PAGE", 2)
    streamed = await owner.get(EXPORT, params={"format": "ndjson"})
    assert [orjson.loads(line) for line in streamed.content.splitlines()] == everything
    store = app.state.services.store
    ctx = Ctx(store=store, user_id=owner.user_id, company_id=owner.company_id, role="owner")
    pages = export.ndjson_pages(ctx, export.Window(class_uid=6003))
    first = await anext(pages)
    assert {orjson.loads(line)["class_uid"] for line in first.splitlines()} == {6003}
    await pages.aclose()


async def test_bad_export_queries(client: httpx.AsyncClient) -> None:
    owner = await register(client, name="Asker")
    for params in (
        {"class": "dns_activity"},
        {"from": "yesterday"},
        {"after": "xyz"},
        {"limit": 0},
        {"unknown": 1},
        {"from": "2026-02-01", "to": "2026-01-01"},
    ):
        expect_error(await owner.get(EXPORT, params=params), 400, "validation_error")


async def test_only_owners_and_admins_and_only_their_company(client: httpx.AsyncClient) -> None:
    owner, admin = await busy_company(client)
    data(await admin.get(EXPORT))
    data(await admin.get("/api/compliance/snapshot"))
    viewer = await register(client, name="Viewer")
    members = f"/api/companies/{owner.company_id}/members"
    data(await owner.post(members, json={"email": viewer.email, "role": "viewer"}), 201)
    as_viewer = viewer.in_company(owner.company_id)
    expect_error(await as_viewer.get(EXPORT), 403, "role_forbidden")
    expect_error(await as_viewer.get("/api/compliance/snapshot"), 403, "role_forbidden")
    stranger = await register(client, name="Stranger")
    theirs = await all_events(stranger)
    assert all(e["metadata"].get("tenant_uid") in (None, stranger.company_id) for e in theirs)
    mine = {e["metadata"]["uid"] for e in await all_events(owner)}
    assert not mine & {e["metadata"]["uid"] for e in theirs}
    expect_error(await stranger.in_company(owner.company_id).get(EXPORT), 403, "not_a_member")


async def test_an_event_commits_with_its_write_or_not_at_all(app: Any, alice: Account) -> None:
    store = app.state.services.store
    ctx = Ctx(store=store, user_id=alice.user_id, company_id=alice.company_id, role="owner")
    before = await store.count("audit_events", {"company_id": alice.company_id})
    with pytest.raises(RuntimeError):
        async with store.transaction():
            await store.insert_one("contacts", {"company_id": alice.company_id, "name": "Gone"})
            await audit.record_write(ctx, "contacts", "create", "0" * 24)
            raise RuntimeError("the process dies before the commit")
    assert await store.count("audit_events", {"company_id": alice.company_id}) == before
    assert await store.count("contacts", {"company_id": alice.company_id, "name": "Gone"}) == 0


async def test_no_route_edits_the_trail(client: httpx.AsyncClient, app: Any) -> None:
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    for path, operations in paths.items():
        if ("audit" in path and "ai-insights" not in path) or path.startswith("/api/compliance"):
            assert set(operations) == {"get"}, path


async def test_snapshot(client: httpx.AsyncClient) -> None:
    owner, _ = await busy_company(client)
    snap = data(await owner.get("/api/compliance/snapshot"))
    controls = {c["id"]: c for c in snap["controls"]}
    expected = {
        "environment", "jwt_secret_strength", "jwt_secret_age", "password_policy",
        "login_throttling", "token_lifetime", "redis_persistence", "store_durability",
        "audit_retention", "tls", "owners_and_admins", "inactive_members", "audit_coverage",
        "webhook_secret_age", "high_severity_bugs",
    }  # fmt: skip
    assert set(controls) == expected
    assert all(c["status"] in ("pass", "fail", "manual") for c in controls.values())
    assert controls["environment"]["status"] == "fail"  # the suite runs in env=test
    assert controls["jwt_secret_strength"]["status"] == "pass"
    assert controls["store_durability"]["evidence"]["journal_mode"] == "wal"
    assert controls["tls"]["status"] == "manual"
    owners = controls["owners_and_admins"]["evidence"]
    assert owners["owners"] == 1 and {m["role"] for m in owners["members"]} == {"owner", "admin"}
    assert controls["inactive_members"]["status"] == "pass"
    coverage = controls["audit_coverage"]["evidence"]["events_last_30_days"]
    assert coverage["api_activity"] >= 4 and coverage["account_change"] >= 2
    statuses = Counter(c["status"] for c in controls.values())
    assert snap["summary"] == {s: statuses[s] for s in ("pass", "fail", "manual")}
