"""Strict edges, through HTTP: one date range, no lax coercion, one decimal convention, JSON
nesting and number limits on every route (lean or solved by FastAPI), and a 405 that lists
every method of its path. Each was a 500 or a silent coercion once."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from api.json_body import MAX_DEPTH, MAX_DIGITS
from tests.accounting import books as bk
from tests.helpers import Account, data, detail_fields, expect_error, register

Doc = dict[str, Any]
JSON = {"content-type": "application/json"}
RANGE = "1900-01-01 to 2999-12-31"
REPORTS_AS_OF = ["trial-balance", "balance-sheet", "aged-receivables", "aged-payables"]
REPORTS_PERIOD = ["profit-and-loss", "cash-flow"]


@pytest.fixture(scope="module")
async def owner(client: httpx.AsyncClient) -> Account:
    return await register(client, name="Edge Keeper", company_name="Edge Keeper Ltd")


@pytest.fixture(scope="module")
async def books(owner: Account) -> Account:
    return await bk.fresh_company(owner, "Edges Co")


async def raw(account: Account, method: str, url: str, body: bytes) -> httpx.Response:
    return await account.client.request(
        method, url, content=body, headers={**account.headers, **JSON}
    )


def nested(depth: int, leaf: str = "1") -> str:
    """JSON text of `depth` nested arrays around `leaf` (`[[1]]` is depth 2)."""
    return "[" * depth + leaf + "]" * depth


def nested_objects(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


# --- dates: one range, YYYY-MM-DD only ------------------------------------------------------

BAD_DATES = ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01", "2026-1-1", "2026-02-30"]


@pytest.mark.parametrize("report", REPORTS_AS_OF)
@pytest.mark.parametrize("as_of", [*BAD_DATES, "0", "1767225600", "2026-01-01T00:00:00Z"])
async def test_a_report_at_a_date_outside_the_range_is_400(
    books: Account, report: str, as_of: str
) -> None:
    response = await books.get(f"/api/reports/{report}", params={"as_of": as_of})
    error = expect_error(response, 400, "validation_error")
    assert RANGE in error["message"]
    assert detail_fields(error) == {"query.as_of"}


@pytest.mark.parametrize("report", REPORTS_AS_OF)
@pytest.mark.parametrize("as_of", ["1900-01-01", "2999-12-31"])
async def test_a_report_at_the_edges_of_the_range_answers(
    books: Account, report: str, as_of: str
) -> None:
    data(await books.get(f"/api/reports/{report}", params={"as_of": as_of}))


@pytest.mark.parametrize("report", REPORTS_PERIOD)
async def test_a_report_period_outside_the_range_is_400_and_its_edges_answer(
    books: Account, report: str
) -> None:
    url = f"/api/reports/{report}"
    for bad in (
        {"from": "0001-01-01", "to": "2026-01-31"},
        {"from": "2026-01-01", "to": "9999-12-31"},
    ):
        error = expect_error(await books.get(url, params=bad), 400, "validation_error")
        assert RANGE in error["message"]
    data(await books.get(url, params={"from": "1900-01-01", "to": "2999-12-31"}))


@pytest.mark.parametrize("url", ["/api/documents", "/api/transactions", "/api/accounting/journal"])
@pytest.mark.parametrize("bound", ["from", "to"])
async def test_list_date_bounds_take_the_same_range(books: Account, url: str, bound: str) -> None:
    for bad in ("9999-12-31", "0001-01-01", "0", "2026-1-1"):
        error = expect_error(await books.get(url, params={bound: bad}), 400, "validation_error")
        assert RANGE in error["message"]
    data(await books.get(url, params={bound: "2999-12-31"}))


@pytest.mark.parametrize("issued_at", [0, 1767225600, "2026-1-1", "0001-01-01", "9999-12-31", True])
async def test_a_document_date_outside_the_range_or_not_a_string_is_400(
    books: Account, issued_at: Any
) -> None:
    customer = await bk.contact(books)
    body = {**bk.document_body("invoice", customer["id"], [bk.line(100)]), "issued_at": issued_at}
    error = expect_error(await books.post("/api/documents", json=body), 400, "validation_error")
    assert RANGE in error["message"]
    assert "issued_at" in detail_fields(error)


async def test_a_document_at_the_edges_of_the_range_is_created(books: Account) -> None:
    customer = await bk.contact(books)
    body = bk.document_body(
        "invoice", customer["id"], [bk.line(100)], issued_at="1900-01-01", due_at="2999-12-31"
    )
    created = data(await books.post("/api/documents", json=body), 201)
    assert (created["issued_at"], created["due_at"]) == ("1900-01-01", "2999-12-31")


async def estimate(account: Account, **fields: Any) -> Doc:
    customer = await bk.contact(account)
    body = {
        "contact_id": customer["id"],
        "issued_at": "2999-12-01",
        "expires_at": "2999-12-31",
        "lines": [bk.line(100)],
        **fields,
    }
    return data(await account.post("/api/estimates", json=body), 201)


async def test_an_estimate_converted_where_its_default_due_date_leaves_the_range_is_400(
    books: Account,
) -> None:
    quote = await estimate(books)
    url = f"/api/estimates/{quote['id']}/convert"
    error = expect_error(
        await books.post(url, json={"issued_at": "2999-12-31"}), 400, "validation_error"
    )
    assert RANGE in error["message"] and "due_at" in error["message"]
    assert detail_fields(error) == {"due_at"}
    error = expect_error(
        await books.post(url, json={"issued_at": "9999-12-31"}), 400, "validation_error"
    )
    assert RANGE in error["message"]
    # 30 days after 2999-12-01 is the last day of the range: converted
    invoice = data(await books.post(url, json={"issued_at": "2999-12-01"}), 201)
    assert invoice["due_at"] == "2999-12-31"


async def test_a_date_is_documented_as_format_date(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    parameters = document["paths"]["/api/reports/trial-balance"]["get"]["parameters"]
    (as_of,) = [p for p in parameters if p["name"] == "as_of"]
    assert {"type": "string", "format": "date"}.items() <= _not_null(as_of["schema"]).items()


def _not_null(schema: Doc) -> Doc:
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    return options[0]


# --- booleans and integers: no coercion -----------------------------------------------------


@pytest.mark.parametrize("enabled", [0, 1, "yes", "true", "false", None])
@pytest.mark.parametrize("url", ["/api/contacts", "/api/taxes"])
async def test_a_boolean_is_true_or_false_only(books: Account, url: str, enabled: Any) -> None:
    body = {"name": bk.unique("Strict"), "enabled": enabled}
    if url == "/api/taxes":
        body["rate"] = 5
    error = expect_error(await books.post(url, json=body), 400, "validation_error")
    assert detail_fields(error) == {"enabled"}


@pytest.mark.parametrize("url", ["/api/contacts", "/api/taxes"])
async def test_a_query_string_boolean_is_true_or_false_only(books: Account, url: str) -> None:
    for bad in ("yes", "1", "0", "True", " true"):
        response = await books.get(url, params={"enabled": bad})
        assert detail_fields(expect_error(response, 400, "validation_error")) == {"query.enabled"}
    for good in ("true", "false"):
        found = data(await books.get(url, params={"enabled": good}))
        assert all(row["enabled"] is (good == "true") for row in found)


async def test_wait_is_true_or_false_only(books: Account) -> None:
    response = await books.post("/api/jobs", json={"kind": "noop"}, params={"wait": "yes"})
    expect_error(response, 400, "validation_error")


async def test_an_integer_is_not_true_nor_a_string(books: Account) -> None:
    for bad in (True, "5", 5.5):
        response = await books.put("/api/documents/numbering/invoice", json={"next_number": bad})
        assert detail_fields(expect_error(response, 400, "validation_error")) == {"next_number"}
    for bad in (True, "0"):
        body = {"namespace": "edges", "key": bk.unique("k"), "value": 1, "expected_version": bad}
        response = await books.post("/api/ai-insights/shared", json=body)
        expect_error(response, 400, "validation_error")


@pytest.mark.parametrize("url", ["/api/contacts", "/api/ai-insights/shared"])
@pytest.mark.parametrize("page", ["9" * 5000, "1_0", " 1", "true", "1.0", "-1"])
async def test_a_query_string_page_is_digits_within_bounds(
    books: Account, url: str, page: str
) -> None:
    params = {"page": page}
    if url.endswith("shared"):
        params["namespace"] = "edges"
    expect_error(await books.get(url, params=params), 400, "validation_error")


# --- decimals: one convention ---------------------------------------------------------------


@pytest.mark.parametrize(
    "rate", ["1_000", " 5 ", "1e3", "+5", "5.", ".5", "NaN", "Infinity", "", True, False, [5]]
)
async def test_an_amount_is_a_json_number_or_a_plain_decimal_string(
    books: Account, rate: Any
) -> None:
    body = {"name": bk.unique("Rate"), "rate": rate}
    error = expect_error(await books.post("/api/taxes", json=body), 400, "validation_error")
    assert detail_fields(error) == {"rate"}


@pytest.mark.parametrize(("sent", "stored"), [(12.5, 12.5), ("12.5", 12.5), ("7", 7), (3, 3)])
async def test_an_amount_as_a_number_or_a_string_is_the_same(
    books: Account, sent: Any, stored: float
) -> None:
    tax = data(await books.post("/api/taxes", json={"name": bk.unique("Rate"), "rate": sent}), 201)
    assert tax["rate"] == stored


@pytest.mark.parametrize("zero", ["-0", "-0.00", -0.0])
async def test_negative_zero_is_stored_as_zero(books: Account, zero: Any) -> None:
    tax = data(await books.post("/api/taxes", json={"name": bk.unique("Zero"), "rate": zero}), 201)
    assert tax["rate"] == 0
    assert "-" not in json.dumps(tax["rate"])
    again = data(await books.get(f"/api/taxes/{tax['id']}"))
    assert "-" not in json.dumps(again["rate"])


@pytest.mark.parametrize("quantity", ["1_000", " 5 ", "1e3", True])
async def test_a_document_line_quantity_takes_the_same_convention(
    books: Account, quantity: Any
) -> None:
    customer = await bk.contact(books)
    body = bk.document_body("invoice", customer["id"], [bk.line(10, quantity)])
    error = expect_error(await books.post("/api/documents", json=body), 400, "validation_error")
    assert detail_fields(error) == {"lines.0.quantity"}


# --- JSON bodies: nesting and number limits on every route ----------------------------------


def job(input: str) -> bytes:
    return f'{{"kind": "noop", "input": {input}}}'.encode()


def fact(value: str) -> bytes:
    return f'{{"namespace": "edges", "key": "deep", "value": {value}}}'.encode()


def contact(address: str) -> bytes:
    return f'{{"name": "Deep", "address": {address}}}'.encode()


def tax(rate: str) -> bytes:
    return f'{{"name": "Huge", "rate": {rate}}}'.encode()


ROUTES = [  # contacts and taxes take the lean path; jobs and facts are solved by FastAPI
    ("POST", "/api/contacts", contact),
    ("POST", "/api/taxes", tax),
    ("POST", "/api/jobs?wait=false", job),
    ("POST", "/api/ai-insights/shared", fact),
]


@pytest.mark.parametrize(("method", "url", "body"), ROUTES)
@pytest.mark.parametrize("depth", [MAX_DEPTH, 255, 1000, 100_000])
async def test_json_nested_beyond_the_limit_is_400(
    books: Account, method: str, url: str, body: Any, depth: int
) -> None:
    response = await raw(books, method, url, body(nested(depth)))
    error = expect_error(response, 400, "validation_error")
    assert f"deeper than {MAX_DEPTH} levels" in error["message"]


async def test_json_nested_to_the_limit_is_read(books: Account) -> None:
    # the body's own object is one level, so its input may nest MAX_DEPTH - 1
    deepest = nested_objects(MAX_DEPTH - 1)
    submitted = data(
        await books.post("/api/jobs?wait=false", json={"kind": "noop", "input": deepest}), 202
    )
    assert submitted["job"]["input"] == deepest
    response = await books.post(
        "/api/jobs?wait=false", json={"kind": "noop", "input": nested_objects(MAX_DEPTH)}
    )
    assert f"deeper than {MAX_DEPTH}" in expect_error(response, 400, "validation_error")["message"]


HUGE = [str(2**64), str(-(2**63) - 1), "9" * 5000, "1" + "0" * MAX_DIGITS + ".5", "1e400", "-1e400"]


@pytest.mark.parametrize(("method", "url", "body"), ROUTES)
@pytest.mark.parametrize("number", HUGE)
async def test_a_number_beyond_the_limits_is_400(
    books: Account, method: str, url: str, body: Any, number: str
) -> None:
    value = number if body in (tax,) else f'{{"n": {number}}}'
    response = await raw(books, method, url, body(value))
    error = expect_error(response, 400, "validation_error")
    assert re.search(r"64 bits|digits|out of range", error["message"]), error


async def test_a_huge_amount_on_a_document_line_or_a_transaction_is_400(books: Account) -> None:
    customer = await bk.contact(books)
    body = bk.document_body("invoice", customer["id"], [bk.line(10)])
    text = json.dumps(body).replace('"quantity": 1', '"quantity": ' + "9" * 5000)
    assert "9" * 5000 in text
    expect_error(await raw(books, "POST", "/api/documents", text.encode()), 400, "validation_error")
    text = json.dumps(body).replace('"price": 10', '"price": ' + str(2**70))
    expect_error(await raw(books, "POST", "/api/documents", text.encode()), 400, "validation_error")


async def test_the_largest_64_bit_integer_is_read(books: Account) -> None:
    value = {"n": 2**63 - 1, "m": -(2**63)}
    submitted = data(
        await books.post("/api/jobs?wait=false", json={"kind": "noop", "input": value}), 202
    )
    assert submitted["job"]["input"] == value


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(("method", "url", "body"), ROUTES)
async def test_nan_and_infinity_are_not_json(
    books: Account, method: str, url: str, body: Any, constant: str
) -> None:
    value = constant if body in (tax,) else f'{{"n": {constant}}}'
    error = expect_error(await raw(books, method, url, body(value)), 400, "malformed_json")
    assert constant.lstrip("-") in error["message"]


@pytest.mark.parametrize(("method", "url", "body"), ROUTES)
async def test_malformed_and_non_utf8_bodies_are_malformed_json(
    books: Account, method: str, url: str, body: Any
) -> None:
    error = expect_error(await raw(books, method, url, b'{"name": '), 400, "malformed_json")
    assert "line 1 column" in error["message"]
    not_utf8 = body('"X"').replace(b"X", b"\xff")
    error = expect_error(await raw(books, method, url, not_utf8), 400, "malformed_json")
    assert "not UTF-8" in error["message"]


# --- 405 lists every method of its path -----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ("/api/contacts", "DELETE"),
        ("/api/contacts/{id}", "POST"),
        ("/api/taxes/{id}", "PATCH"),
        ("/api/documents/{id}", "POST"),
        ("/api/jobs", "PUT"),
        ("/api/reports/trial-balance", "POST"),
    ],
)
async def test_a_405_lists_every_method_of_its_path(
    client: httpx.AsyncClient, books: Account, path: str, refused: str
) -> None:
    document = (await client.get("/api/openapi.json")).json()
    declared = {m.upper() for m in document["paths"][path]} & {
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
    }
    assert refused not in declared and len(declared) >= 1
    url = path.replace("{id}", "6745a1c2e4b0f3a9d2c81e57")
    response = await books.client.request(refused, url, headers=books.headers)
    expect_error(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].split(", ")) == declared
