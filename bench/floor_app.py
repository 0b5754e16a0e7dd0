"""The floors `bench/api_crud.py` measures the API against, served exactly as the API is.

`uvicorn --factory bench.floor_app:app_factory` (same flags as `make run`) with
`FLOOR_KIND` chosen in the environment:

- `bare`: FastAPI answering a tiny JSON on the same two routes, nothing else: the cost of
  uvicorn + Starlette + FastAPI routing on this machine.
- `essential`: what the requests cannot do without, and nothing of the project's
  machinery (no dependencies, no pydantic models, no middleware, no store port): verify the
  same JWT through the API's own verified-token cache (`domain.auth.tokens.verify`: PyJWT
  with HS256 pinned, `exp iat iss aud sub jti` required, issuer and audience checked, once
  per token; then a dict hit until `exp`), one SQLite statement (a read of the contact by id
  AND company, or one insert of the JSON document) on a plain
  `contacts(id TEXT PRIMARY KEY, company_id TEXT, doc TEXT)` table in WAL mode, and the
  `{"success": true, "data": ...}` envelope rendered with orjson. The gated route
  (`/api/ai-insights/insights/{id}`, a non-core module) adds what a licence-gated read
  cannot skip: the company's licence read and checked (module listed, not expired) before
  the insight's read by id AND company. The company is taken from `X-Company-Id` without a
  membership check (the brief's floor); the API's membership read is part of what the ratio
  charges it for.

Environment: FLOOR_KIND, FLOOR_DB (SQLite file), NUMBORS_JWT_SECRET, and optionally
NUMBORS_JWT_ISSUER / NUMBORS_JWT_AUDIENCE (defaults as in settings.py).
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime

import orjson
from bson import ObjectId
from fastapi import FastAPI, Request
from starlette.responses import Response

from domain.auth import tokens
from domain.errors import Unauthenticated

TABLES = {"contacts": "id", "insights": "id", "licences": "company_id"}  # table: its key
GATED_PATH = "/api/ai-insights/insights/{id}"
GATED_MODULE = "ai-insights"


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for table, key in TABLES.items():
        other = "company_id" if key == "id" else "id"
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ({key} TEXT PRIMARY KEY, {other} TEXT, doc TEXT)"
        )
    return conn


def _json(status: int, body: object) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error(status: int, code: str) -> Response:
    return _json(status, {"success": False, "error": {"code": code, "message": code}})


def bare_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/api/contacts/{id}")
    async def get_contact(id: str) -> dict[str, bool]:
        return {"ok": True}

    @app.post("/api/contacts", status_code=201)
    async def create_contact() -> dict[str, bool]:
        return {"ok": True}

    @app.get(GATED_PATH)
    async def gated(id: str) -> dict[str, bool]:
        return {"ok": True}

    return app


def essential_app(db: str, secret: str, issuer: str, audience: str) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    conn = connect(db)
    config = tokens.TokenConfig(key=secret, issuer=issuer, audience=audience, ttl_s=0)

    def claims(request: Request) -> tokens.Claims | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            return tokens.verify(config, token)
        except Unauthenticated:
            return None

    @app.get("/api/contacts/{id}")
    async def get_contact(id: str, request: Request) -> Response:
        if claims(request) is None:
            return _error(401, "unauthenticated")
        company = request.headers.get("x-company-id")
        row = conn.execute(
            "SELECT doc FROM contacts WHERE id = ? AND company_id = ?", (id, company)
        ).fetchone()
        if row is None:
            return _error(404, "not_found")
        return _json(200, {"success": True, "data": orjson.loads(row[0])})

    @app.get(GATED_PATH)
    async def gated(id: str, request: Request) -> Response:
        if claims(request) is None:
            return _error(401, "unauthenticated")
        company = request.headers.get("x-company-id")
        row = conn.execute("SELECT doc FROM licences WHERE company_id = ?", (company,)).fetchone()
        licence = orjson.loads(row[0]) if row else None
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        if licence is None or GATED_MODULE not in licence["modules"]:
            return _error(403, "module_disabled")
        if licence["valid_until"] < now:
            return _error(403, "module_disabled")
        row = conn.execute(
            "SELECT doc FROM insights WHERE id = ? AND company_id = ?", (id, company)
        ).fetchone()
        if row is None:
            return _error(404, "not_found")
        return _json(200, {"success": True, "data": orjson.loads(row[0])})

    @app.post("/api/contacts")
    async def create_contact(request: Request) -> Response:
        user = claims(request)
        if user is None:
            return _error(401, "unauthenticated")
        company = request.headers.get("x-company-id")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _error(400, "malformed_json")
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            return _error(400, "validation_error")
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        doc = {
            "id": str(ObjectId()),
            **body,
            "company_id": company,
            "created_by": user.user_id,
            "created_at": now,
            "updated_at": now,
        }
        conn.execute(
            "INSERT INTO contacts (id, company_id, doc) VALUES (?, ?, ?)",
            (doc["id"], company, orjson.dumps(doc).decode()),
        )
        return _json(201, {"success": True, "data": doc})

    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory bench.floor_app:app_factory`."""
    kind = os.environ.get("FLOOR_KIND", "essential")
    if kind == "bare":
        return bare_app()
    if kind == "essential":
        return essential_app(
            os.environ["FLOOR_DB"],
            os.environ["NUMBORS_JWT_SECRET"],
            os.environ.get("NUMBORS_JWT_ISSUER", "numbors"),
            os.environ.get("NUMBORS_JWT_AUDIENCE", "numbors-api"),
        )
    raise RuntimeError(f"FLOOR_KIND must be bare or essential, not {kind!r}")
