"""CI failures into deduplicated bugs: grouping (same failure with other ids, times and
paths is one bug; another frame is another), concurrency (concurrent posts of one failure
make one bug with every occurrence counted), replays, flaky, regressions."""

from __future__ import annotations

import asyncio
from typing import Any

from domain.tai import grouping
from tests.helpers import Account, data, expect_error

STACK = """Traceback (most recent call last):
  File "/home/runner/work/app/app/tests/e2e/invoices/test_totals.py", line {line}, in test_total
    assert invoice.total == expected
  File "/home/runner/app/.venv/lib/python3.11/site-packages/httpx/_client.py", line 9, in send
  File "/home/runner/work/app/app/domain/invoices/totals.py", line {line2}, in compute_total
AssertionError: total 118.00 != 120.00"""


def failure(n: int = 1, **more: Any) -> dict[str, Any]:
    return {
        "test_id": "tests/e2e/invoices/test_totals.py::test_total",
        "test_name": "test_total",
        "file": "tests/e2e/invoices/test_totals.py",
        "error_type": "AssertionError",
        "message": f"invoice 6745a1c2e4b0f3a9d2c81e{n:02d} total {100 + n}.00 != 120.00 "
        f"at 2026-11-{n % 28 + 1:02d}T10:{n % 60:02d}:00Z for user{n}@example.com",
        "stack": STACK.format(line=40 + n, line2=10 + n),
        "run_id": f"run-{n}",
        "commit": f"c0ffee{n:02d}",
        "branch": "main",
        "environment": "ci",
        **more,
    }


async def post(account: Account, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    return data(await account.post("/api/tai/e2e-fix", json=body), status)


def test_normalisation_strips_what_differs_between_runs() -> None:
    a = grouping.normalise("order 42 id 6745a1c2e4b0f3a9d2c81e57 at 2026-11-25T15:20:06.123Z")
    b = grouping.normalise("order 7 id 0123456789abcdef01234567 at 2025-01-02T01:02:03Z")
    assert a == b == "order <int> id <hex> at <date>"
    assert grouping.normalise("ada@example.com on https://ci.example.com/x/9 from 10.0.0.7:80") == (
        "<email> on <url> from <ip>"
    )
    assert grouping.normalise("uuid 123e4567-e89b-12d3-a456-426614174000 took 1.5s") == (
        "uuid <uuid> took <float>s"
    )


def test_precedence_fingerprint_then_stack_then_message_then_test() -> None:
    base = {
        "stack": STACK.format(line=1, line2=2),
        "error_type": "E",
        "message": "m 1",
        "test_id": "t",
    }
    assert grouping.group(fingerprint=None, **base).kind == "stack"
    assert grouping.group(fingerprint=["checkout"], **base).kind == "fingerprint"
    no_stack = {**base, "stack": None}
    assert grouping.group(fingerprint=None, **no_stack).kind == "message"
    assert (
        grouping.group(
            fingerprint=None, stack=None, error_type=None, message=None, test_id="t"
        ).kind
        == "test"
    )
    # {{ default }} extends Tai's own grouping
    extended = grouping.group(fingerprint=["{{ default }}", "eu"], **base)
    assert extended.components[0] == grouping.group(fingerprint=None, **base).hash


def test_only_in_app_frames_and_no_line_numbers() -> None:
    frames = grouping.in_app(STACK.format(line=1, line2=2))
    assert [f.key() for f in frames] == ["test_totals.py:test_total", "totals.py:compute_total"]
    js = (
        "TypeError: x is undefined\n"
        "    at computeTotal (/ci/src/invoices/total.3f2a1b9c.js:12:5)\n"
        "    at Object.<anonymous> (/ci/node_modules/jest/run.js:1:1)\n"
        "    at async goto (node:internal/process/task_queues:95:5)"
    )
    assert [f.key() for f in grouping.in_app(js)] == ["total.js:computeTotal"]


async def test_the_same_failure_from_many_runs_is_one_bug(books: Account) -> None:
    first = await post(books, failure(1))
    assert first["created"] is True and first["counted"] is True
    bug = first["bug"]
    assert bug["source"] == "e2e" and bug["status"] == "open" and bug["domain"] == "invoices"
    assert bug["occurrences"] == 1 and bug["first_seen_at"] == bug["last_seen_at"]
    for n in range(2, 6):
        again = await post(books, failure(n))
        assert again["created"] is False and again["bug"]["id"] == bug["id"]
    last = again["bug"]
    assert last["occurrences"] == 5 and last["last_commit"] == "c0ffee05"
    assert last["environments"] == {"ci": 5}
    assert last["first_seen_at"] == bug["first_seen_at"] < last["last_seen_at"]
    listed = data(await books.get("/api/tai/bugs", params={"source": "e2e"}))
    assert [b["id"] for b in listed] == [bug["id"]]
    # another in-app frame is another bug
    other = failure(6, stack=STACK.format(line=1, line2=2).replace("compute_total", "round_total"))
    assert (await post(books, other))["created"] is True


async def test_a_repeated_post_is_counted_once(books: Account) -> None:
    await post(books, failure(1))
    replay = await post(books, failure(1))
    assert replay["counted"] is False and replay["bug"]["occurrences"] == 1
    retry = await post(books, failure(1, attempt=2))
    assert retry["counted"] is True and retry["bug"]["occurrences"] == 2


async def test_concurrent_posts_of_one_failure_make_one_bug(books: Account) -> None:
    answers = await asyncio.gather(*(post(books, failure(n)) for n in range(1000)))
    assert len({a["bug"]["id"] for a in answers}) == 1
    assert sum(a["created"] for a in answers) == 1
    [bug] = data(await books.get("/api/tai/bugs"))
    assert bug["occurrences"] == 1000


async def test_passed_on_retry_marks_the_bug_flaky(books: Account) -> None:
    await post(books, failure(1))
    flaky = await post(books, failure(1, attempt=2, passed_on_retry=True))
    assert flaky["bug"]["flaky"] is True and flaky["bug"]["flaky_occurrences"] == 1
    assert [b["id"] for b in data(await books.get("/api/tai/bugs", params={"flaky": "true"}))] == [
        flaky["bug"]["id"]
    ]
    types = [e["type"] for e in data(await books.get("/api/tai/log"))]
    assert types == ["bug.flaky", "bug.created"]


async def test_a_fixed_bug_failing_on_a_new_commit_regresses(books: Account) -> None:
    bug = (await post(books, failure(1)))["bug"]
    data(await books.post(f"/api/tai/bugs/{bug['id']}/fix"))
    late = await post(books, failure(2, commit="c0ffee01"))  # a run on the old commit
    assert late["regressed"] is False and late["bug"]["status"] == "fixed"
    back = await post(books, failure(3))
    assert back["regressed"] is True and back["created"] is False
    assert back["bug"]["status"] == "regressed" and back["bug"]["regressions"] == 1
    assert back["bug"]["occurrences"] == 3
    again = await post(books, failure(4))
    assert again["regressed"] is False and again["bug"]["regressions"] == 1
    listed = data(await books.get("/api/tai/bugs", params={"status": "regressed"}))
    assert [b["id"] for b in listed] == [bug["id"]]
    status = data(await books.get("/api/tai/status"))
    assert status["regressed"] == 1 and status["regressions"] == 1
    assert status["last_commit"] == "c0ffee04"
    data(await books.post(f"/api/tai/bugs/{bug['id']}/fix"))
    ever = data(await books.get("/api/tai/bugs", params={"regressed": "true"}))
    assert [(b["id"], b["status"]) for b in ever] == [(bug["id"], "fixed")]


async def test_bad_failures_are_400(books: Account) -> None:
    expect_error(await books.post("/api/tai/e2e-fix", json={}), 400, "validation_error")
    expect_error(
        await books.post("/api/tai/e2e-fix", json={**failure(1), "attempt": 0}),
        400,
        "validation_error",
    )
    expect_error(
        await books.post("/api/tai/e2e-fix", json={**failure(1), "unknown": 1}),
        400,
        "validation_error",
    )


async def test_ci_posts_with_a_company_ci_token(books: Account) -> None:
    made = data(await books.post("/api/tai/ci-tokens", json={"name": "GitHub Actions"}), 201)
    assert made["hint"] is None
    first = data(await books.post(f"/api/tai/ci-tokens/{made['id']}/rotate"))["token"]
    secret = data(await books.post(f"/api/tai/ci-tokens/{made['id']}/rotate"))
    token = secret["token"]
    assert token.startswith("tai_ci_") and secret["hint"] == token[:11] != first[:11]
    assert data(await books.get(f"/api/tai/ci-tokens/{made['id']}"))["hint"] == token[:11]
    stale = {"Authorization": f"Bearer {first}"}
    stale_post = await books.client.post("/api/tai/e2e-fix", json=failure(9), headers=stale)
    expect_error(stale_post, 401, "ci_token_invalid")
    ci = {"Authorization": f"Bearer {token}"}
    posted = await books.client.post("/api/tai/e2e-fix", json=failure(1), headers=ci)
    bug = data(posted, 201)["bug"]
    assert bug["company_id"] == books.company_id and bug["created_by"] == books.user_id
    assert [b["id"] for b in data(await books.get("/api/tai/bugs"))] == [bug["id"]]
    # good for that one endpoint only
    expect_error(await books.client.get("/api/tai/bugs", headers=ci), 401, "token_malformed")
    data(await books.delete(f"/api/tai/ci-tokens/{made['id']}"))
    revoked = await books.client.post("/api/tai/e2e-fix", json=failure(2), headers=ci)
    expect_error(revoked, 401, "ci_token_invalid")
    expect_error(await books.client.post("/api/tai/e2e-fix", json=failure(3)), 401, "token_missing")
