"""How the API serves the dashboard (no browser needed): the page and its files with a
Content-Security-Policy that allows nothing inline, revalidated by ETag, unknown names 404,
and none of it in the OpenAPI document."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi import FastAPI

from api.dashboard import ASSETS, CSP

WEB = Path(__file__).resolve().parents[2] / "web"


async def test_the_page_and_its_files_carry_the_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    for name in re.findall(rf'"{ASSETS}/([^"]+)"', page.text):
        asset = await client.get(f"{ASSETS}/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-security-policy"] == CSP
        assert asset.content == (WEB / name).read_bytes()
        again = await client.get(
            f"{ASSETS}/{name}", headers={"If-None-Match": asset.headers["etag"]}
        )
        assert again.status_code == 304 and again.content == b""


def test_nothing_inline_in_the_page() -> None:
    html = (WEB / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
    assert "<style" not in html and " style=" not in html and not re.search(r" on\w+=", html)
    markup = re.compile(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write")
    for script in WEB.glob("*.js"):
        assert not markup.search(script.read_text()), script.name


async def test_unknown_files_are_404(client: httpx.AsyncClient) -> None:
    for path in (f"{ASSETS}/nope.js", f"{ASSETS}/index.html", f"{ASSETS}/..%2Fsettings.py"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


def test_the_dashboard_is_not_in_the_openapi_document(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    assert "/" not in paths and not any(p.startswith("/static") for p in paths)
