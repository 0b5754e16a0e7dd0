"""The dashboard: the browser app a company's owner opens at `/`, served by the API itself.

`GET /` answers `web/index.html`; `GET /static/dashboard/{name}` answers one file of `web/`
(a flat folder: JavaScript modules, the stylesheet, the vendored nothing). The files are
read once, at import, into memory with their ETag: the app is a few small files and the
process serves them without touching the disk again (`If-None-Match` answers 304).

The app is plain HTML, CSS and JavaScript modules: no build step, no Node toolchain. It
talks to the public API as any client does, with the bearer token kept in memory only (a
reload signs out; nothing in localStorage or a cookie, so there is no CSRF surface), and
reads job events over `fetch` (EventSource cannot send the Authorization header), resuming
with `Last-Event-ID` itself.

Every answer here carries a Content-Security-Policy that allows nothing inline (scripts,
styles and connections from this origin only, no frames, no plugins); the middleware adds
`nosniff`, no referrer and no framing to it, as to every answer. The routes are not under
`/api`, so they are not in the OpenAPI document.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response

from api.responses import fail
from api.routing import LeanRoute

WEB = Path(__file__).resolve().parent.parent / "web"
ASSETS = "/static/dashboard"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

router = APIRouter(route_class=LeanRoute, include_in_schema=False)


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


def _load(directory: Path) -> dict[str, Asset]:
    found = {}
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path.is_file() and NAME.match(path.name) and path.suffix in TYPES:
                body = path.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                found[path.name] = Asset(body, TYPES[path.suffix], etag)
    return found


FILES = _load(WEB)
# nosniff, no referrer and no framing come with every answer (api/middleware.py).
HEADERS = {"Content-Security-Policy": CSP, "Cross-Origin-Opener-Policy": "same-origin"}


def _answer(request: Request, asset: Asset, cache: str) -> Response:
    headers = {**HEADERS, "ETag": asset.etag, "Cache-Control": cache}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/", summary="The dashboard")
async def index(request: Request) -> Response:
    asset = FILES.get("index.html")
    if asset is None:
        return fail(404, "not_found", "the dashboard is not installed (no web/index.html)")
    return _answer(request, asset, "no-cache")


@router.get(ASSETS + "/{name}", summary="A file of the dashboard")
async def static(name: str, request: Request) -> Response:
    asset = FILES.get(name) if name != "index.html" else None
    if asset is None:
        return fail(404, "not_found", f"no dashboard file {name!r}")
    # Revalidated each time (cheap: a 304), so a new release is picked up on reload.
    return _answer(request, asset, "no-cache")
