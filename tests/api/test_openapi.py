"""The OpenAPI document states what the server enforces, for every operation, declared or
written by hand: id patterns, the company header, decimals, currency codes, dates, sortable
fields, required webhook headers, every status with its error codes, a working example on
every request body, and `meta` on every list. Then "Try it out": the hand-written routes'
examples, sent as they are, succeed."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field
from standardwebhooks import Webhook

from api.deps import ID_PATTERN
from api.openapi import TOKEN_CODES, _standard_bounds
from api.responses import ERROR_CODES
from domain.auth import tokens
from domain.fields import DECIMAL_STRING, Amount, CurrencyCode, Rate
from tests.helpers import Account, data, register

METHODS = {"get", "post", "put", "patch", "delete"}
ERROR_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
DATE_PARAMS = {"from", "to", "as_of", "compare_from", "compare_to"}
PYDANTIC_WORDS = {"gt", "ge", "lt", "le", "decimal_places", "max_digits"}
SCHEMA_MAPS = {"properties", "patternProperties", "$defs"}
DATA_KEYS = {"example", "examples", "default", "enum", "const"}


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """A schema's alternatives (`anyOf`, nested ones flattened), or the schema itself."""
    if "anyOf" not in schema:
        return [schema]
    return [b for option in schema["anyOf"] for b in branches(option)]


def strings(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in branches(schema) if b.get("type") == "string"]


def deref(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def nodes(node: Any, where: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema node under `node` (property maps entered, data values skipped)."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, list):
        for i, item in enumerate(node):
            found += nodes(item, f"{where}[{i}]")
    elif isinstance(node, dict):
        found.append((where, node))
        for key, value in node.items():
            if key in SCHEMA_MAPS and isinstance(value, dict):
                for name, child in value.items():
                    found += nodes(child, f"{where}/{key}/{name}")
            elif key not in DATA_KEYS:
                found += nodes(value, f"{where}/{key}")
    return found


def request_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The component schemas of request bodies (and what they refer to)."""
    names: set[str] = set()
    todo = [
        content["schema"]
        for _, _, op in operations(document)
        for content in op.get("requestBody", {}).get("content", {}).values()
    ]
    while todo:
        for _, node in nodes(todo.pop()):
            ref = node.get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            if ref and name not in names:
                names.add(name)
                todo.append(document["components"]["schemas"][name])
    return {name: document["components"]["schemas"][name] for name in names}


# ids, the company header, path parameters


def test_every_id_path_parameter_has_the_object_id_pattern(document: dict[str, Any]) -> None:
    checked = 0
    for method, path, operation in operations(document):
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), (method, path)
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and re.fullmatch(r"(.+_)?id", parameter["name"]):
                assert parameter["schema"].get("pattern") == ID_PATTERN, (method, path)
                checked += 1
    assert checked > 40
    for path in ("/api/companies/{id}", "/api/jobs/{id}/cancel", "/api/jobs/{id}/events"):
        [parameter] = [
            p
            for p in next(iter(document["paths"][path].values()))["parameters"]
            if p["in"] == "path"
        ]
        assert parameter["schema"]["pattern"] == ID_PATTERN, path


def test_the_company_header_has_the_object_id_pattern(document: dict[str, Any]) -> None:
    found = 0
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "header" and parameter["name"].lower() == "x-company-id":
                assert [s.get("pattern") for s in strings(parameter["schema"])] == [ID_PATTERN]
                assert parameter["required"] is False, (method, path)
                found += 1
    assert found > 80


def test_required_webhook_headers_are_marked_required(document: dict[str, Any]) -> None:
    hook = document["paths"]["/api/ai-insights/memory-hook"]["post"]
    headers = {p["name"]: p for p in hook["parameters"] if p["in"] == "header"}
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert headers[name]["required"] is True, name
    assert headers["X-Company-Id"]["required"] is False
    for method, path, operation in operations(document):
        names = [(p["in"], p["name"].lower()) for p in operation.get("parameters", [])]
        assert len(names) == len(set(names)), (method, path)


# decimals, currency codes, dates, sort


def test_decimals_are_numbers_or_their_documented_string(document: dict[str, Any]) -> None:
    decimals = 0
    for where, node in nodes(document["components"]) + nodes(document["paths"]):
        if isinstance(node, dict):
            assert not PYDANTIC_WORDS & set(node), f"{where} keeps pydantic's own keywords"
        types = [b.get("type") for b in node.get("anyOf", [])]
        if "number" in types and "string" in types:
            decimals += 1
            [text] = [b for b in node["anyOf"] if b.get("type") == "string"]
            assert text["pattern"] == DECIMAL_STRING["pattern"], where
            assert text["maxLength"] == DECIMAL_STRING["maxLength"], where
    assert decimals > 10
    schemas = document["components"]["schemas"]
    rate = schemas["TaxCreate"]["properties"]["rate"]
    [number] = [b for b in branches(rate) if b.get("type") == "number"]
    assert (number["minimum"], number["maximum"]) == (0, 100)
    assert schemas["TaxOut"]["properties"]["rate"]["type"] == "number"


def test_bounds_pydantic_cannot_place_become_json_schema_bounds() -> None:
    class Model(BaseModel):
        amount: Amount = Field(gt=0, le=Decimal("1000000"), decimal_places=4)
        rate: Rate | None = Field(None, gt=0, le=Decimal("1000000000"))
        answered: Annotated[Amount, Field(ge=0)] = Decimal(0)

    schema = Model.model_json_schema()
    _standard_bounds(schema)
    for name, low, high in (
        ("amount", "exclusiveMinimum", "maximum"),
        ("rate", "exclusiveMinimum", "maximum"),
    ):
        [number] = [b for b in branches(schema["properties"][name]) if b.get("type") == "number"]
        assert low in number and high in number, (name, number)
        assert isinstance(number[high], int | float), number
    assert not any(PYDANTIC_WORDS & set(node) for _, node in nodes(schema))
    served = Model.model_json_schema(mode="serialization")["properties"]["answered"]
    assert served["type"] == "number"


def test_currency_codes_have_their_pattern(document: dict[str, Any]) -> None:
    found = 0
    for name, schema in request_schemas(document).items():
        for field, prop in schema.get("properties", {}).items():
            if (field == "currency" or field.endswith("_currency")) and not prop.get("readOnly"):
                assert [s.get("pattern") for s in strings(prop)] == ["^[A-Za-z]{3}$"], (name, field)
                found += 1
    assert found >= 6
    pattern = CurrencyCode.__metadata__[-1].json_schema["pattern"]  # type: ignore[attr-defined]
    assert pattern == "^[A-Za-z]{3}$"


def test_date_parameters_and_fields_are_format_date(document: dict[str, Any]) -> None:
    found = 0
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] in DATE_PARAMS:
                assert [s.get("format") for s in strings(parameter["schema"])] == ["date"], (
                    method,
                    path,
                    parameter["name"],
                )
                found += 1
    assert found > 20
    for name, schema in request_schemas(document).items():
        for field, prop in schema.get("properties", {}).items():
            stamp = field in ("created_at", "updated_at") or prop.get("readOnly")
            if (field.endswith("_at") and not stamp) or field in DATE_PARAMS:
                assert [s.get("format") for s in strings(prop)] == ["date"], (name, field)


def test_sortable_fields_are_enums(document: dict[str, Any]) -> None:
    found = 0
    for _method, _path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] == "sort":
                [choice] = [s for s in strings(parameter["schema"]) if "enum" in s]
                assert choice["enum"] and all(isinstance(v, str) for v in choice["enum"])
                found += 1
    assert found >= 15
    facts = document["paths"]["/api/ai-insights/shared"]["get"]["parameters"]
    [sort] = [p for p in facts if p["name"] == "sort"]
    assert "-updated_at" in sort["schema"]["enum"]


# statuses and error codes


def test_every_status_is_declared_with_its_error_codes(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        label = f"{method.upper()} {path}"
        responses = operation["responses"]
        assert any(s.startswith("2") for s in responses), label
        params = operation.get("parameters", [])
        takes_input = "requestBody" in operation or any(
            p["in"] in ("query", "path") for p in params
        )
        if takes_input:
            assert "400" in responses, label
        if "requestBody" in operation:
            assert "413" in responses, label
            assert "malformed_json" in responses["400"][ERROR_CODES], label
        if operation.get("security"):
            assert "401" in responses, label
            assert set(TOKEN_CODES) <= set(responses["401"][ERROR_CODES]), label
        if any(p["in"] == "header" and p["name"] == "X-Company-Id" for p in params):
            assert "400" in responses and "403" in responses, label
        if any(p["in"] == "path" and p["schema"].get("pattern") == ID_PATTERN for p in params):
            assert {"invalid_id"} <= set(responses["400"][ERROR_CODES]), label
            assert "not_found" in responses["404"][ERROR_CODES], label
        for status, response in responses.items():
            if status[0] in "45":
                schema = response["content"]["application/json"]["schema"]
                assert schema == ERROR_REF, (label, status)
                assert isinstance(response[ERROR_CODES], list), (label, status)
                for code in response[ERROR_CODES]:
                    assert f"`{code}`" in response["description"], (label, status, code)


def test_the_token_codes_are_the_verifiers(document: dict[str, Any]) -> None:
    assert {code for _, code, _ in tokens._ERRORS} <= set(TOKEN_CODES)


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("post", "/api/ai-insights/analyse", {"200", "201", "202", "400", "401", "403", "503"}),
        ("post", "/api/ai-insights/analyse-stream", {"201", "400", "401", "403", "503"}),
        ("post", "/api/jobs", {"200", "202", "503"}),
        ("post", "/api/jobs/{id}/cancel", {"200", "404", "409", "503"}),
        ("get", "/api/jobs/{id}/events", {"200", "204", "400", "404", "503"}),
        ("get", "/api/ready", {"200", "503"}),
        ("post", "/api/ai-insights/memory-hook", {"201", "400", "401", "403", "409"}),
        ("post", "/api/auth/login", {"201", "400", "401"}),
    ],
)
def test_statuses_a_route_answers_beyond_the_usual(
    document: dict[str, Any], method: str, path: str, statuses: set[str]
) -> None:
    assert statuses <= set(document["paths"][path][method]["responses"])


def test_module_gates_name_module_disabled(document: dict[str, Any]) -> None:
    for path in ("/api/ai-insights/analyse", "/api/ai-insights/shared"):
        operation = next(iter(document["paths"][path].values()))
        assert "module_disabled" in operation["responses"]["403"][ERROR_CODES], path
    # invoicing is a core module: its routes have no gate, so no module_disabled
    for path in ("/api/modules/enabled", "/api/documents/numbering/{type}"):
        operation = next(iter(document["paths"][path].values()))
        assert "module_disabled" not in operation["responses"]["403"][ERROR_CODES], path


# request bodies


def examples_of(operation: dict[str, Any]) -> list[Any]:
    content = operation["requestBody"]["content"]["application/json"]
    found = [e["value"] for e in content.get("examples", {}).values()]
    return found + ([content["example"]] if "example" in content else [])


def test_every_request_body_has_an_example_its_schema_accepts(document: dict[str, Any]) -> None:
    bodies = 0
    for method, path, operation in operations(document):
        if "requestBody" not in operation:
            continue
        bodies += 1
        found = examples_of(operation)
        assert found, f"{method.upper()} {path} has no example"
        content = operation["requestBody"]["content"]["application/json"]
        validator = Draft202012Validator(
            {**content["schema"], "components": document["components"]},
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        for example in found:
            errors = [e.message for e in validator.iter_errors(example)]
            assert not errors, (method, path, errors)
    assert bodies > 25


# lists


def test_every_list_pages_and_carries_meta(document: dict[str, Any]) -> None:
    lists = set()
    for _method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json")
            if not status.startswith("2") or content is None:
                continue
            envelope = deref(document, content["schema"])
            data_schema = envelope.get("properties", {}).get("data", {})
            if deref(document, data_schema).get("type") != "array":
                continue
            lists.add(path)
            assert "meta" in envelope["required"], path
            params = {p["name"]: p["schema"] for p in operation["parameters"]}
            assert params["page"]["minimum"] == 1, path
            assert (params["limit"]["default"], params["limit"]["maximum"]) == (25, 200), path
    assert {"/api/companies", "/api/modules/enabled", "/api/ai-insights/workflows"} <= lists
    assert len(lists) > 15


# "Try it out": the hand-written routes' examples, as the docs send them


def signed_headers(secret: str, body: bytes, company_id: str) -> dict[str, str]:
    msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.fromtimestamp(time.time(), tz=UTC)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body.decode()),
        "X-Company-Id": company_id,
    }


def example(document: dict[str, Any], method: str, path: str) -> Any:
    return examples_of(document["paths"][path][method])[0]


async def test_try_it_out_with_the_hand_written_examples(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    registered = await client.post(
        "/api/auth/register", json=example(document, "post", "/api/auth/register")
    )
    assert registered.status_code == 201, registered.text
    token = data(
        await client.post("/api/auth/login", json=example(document, "post", "/api/auth/login")), 201
    )["token"]
    ada = Account(client, token, "", "", "", {})
    company = data(
        await ada.post("/api/companies", json=example(document, "post", "/api/companies")), 201
    )
    ada = Account(client, token, "", company["id"], "", {"X-Company-Id": company["id"]})
    licence = data(
        await ada.patch(
            "/api/modules/licenses", json=example(document, "patch", "/api/modules/licenses")
        )
    )
    assert {"crm", "helpdesk"} <= {m["alias"] for m in licence["modules"] if m["enabled"]}
    path = "/api/documents/numbering/{type}"
    numbering = data(
        await ada.put(path.format(type="invoice"), json=example(document, "put", path))
    )
    assert numbering["next_number"] == 1001
    fact = data(
        await ada.post(
            "/api/ai-insights/shared", json=example(document, "post", "/api/ai-insights/shared")
        ),
        201,
    )
    assert fact["key"] == "payment_terms"
    for body in examples_of(document["paths"]["/api/ai-insights/analyse"]["post"]):
        response = await ada.post("/api/ai-insights/analyse", params={"wait": "false"}, json=body)
        assert response.status_code == 202, response.text
    secret = data(await ada.get("/api/ai-insights/webhook-secret"))["secret"]
    for body in examples_of(document["paths"]["/api/ai-insights/memory-hook"]["post"]):
        raw = httpx.Request("POST", "/", json=body).content
        response = await client.post(
            "/api/ai-insights/memory-hook",
            content=raw,
            headers=signed_headers(secret, raw, company["id"]),
        )
        assert response.status_code == 201, response.text


async def test_lists_page_with_meta(client: httpx.AsyncClient) -> None:
    many = await register(client, name="Many")
    for n in range(3):
        data(await many.post("/api/companies", json={"name": f"Co {n}"}), 201)
    body = (await many.get("/api/companies", params={"limit": 2})).json()
    assert body["meta"] == {"total": 4, "page": 1, "limit": 2} and len(body["data"]) == 2
    second = (await many.get("/api/companies", params={"limit": 2, "page": 2})).json()
    assert second["meta"]["page"] == 2 and len(second["data"]) == 2
    ids = [c["id"] for c in body["data"] + second["data"]]
    assert len(set(ids)) == 4 and ids[0] == many.company_id
    beyond = (await many.get("/api/companies", params={"page": 9})).json()
    assert beyond["data"] == [] and beyond["meta"]["total"] == 4
    me = data(await many.get("/api/auth/me"))
    assert [c["id"] for c in me["companies"]] == ids

    modules = (await many.get("/api/modules/enabled", params={"limit": 3})).json()
    assert modules["meta"]["limit"] == 3 and len(modules["data"]) == 3
    assert modules["meta"]["total"] > 3
    everything = (await many.get("/api/modules/enabled", params={"limit": 200})).json()
    assert len(everything["data"]) == modules["meta"]["total"]

    flows = (await client.get("/api/ai-insights/workflows")).json()
    assert flows["meta"] == {"total": len(flows["data"]), "page": 1, "limit": 25}

    for url, account in (
        ("/api/companies", many),
        ("/api/modules/enabled", many),
        ("/api/ai-insights/workflows", many),
    ):
        for params in ({"limit": 201}, {"limit": 0}, {"page": 0}, {"page": "x"}, {"colour": 1}):
            response = await account.get(url, params=params)
            assert response.status_code == 400, (url, params, response.text)
            assert response.json()["error"]["code"] == "validation_error"
