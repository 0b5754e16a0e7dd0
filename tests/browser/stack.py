"""What the browser tests and `bench/dashboard.py` run on: the platform as real processes
(Valkey, the API under uvicorn with `make run`'s flags, `python -m workers`), Debian's
Chromium driven by Playwright, and a TCP proxy that can cut an event stream mid-way.

Chromium comes from the machine (`chromium`, or NUMBORS_CHROMIUM), never from Playwright's
own download; `why_no_browser()` says why the browser tests cannot run, when they cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from tests.accounting import books as bk
from tests.e2e.test_jobs_stack import Stack, _stop, api_stack
from tests.helpers import PASSWORD, Account, register

ROOT = Path(__file__).resolve().parents[2]


def chromium_path() -> str | None:
    configured = os.environ.get("NUMBORS_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def why_no_browser() -> str | None:
    """None when the browser tests can run, else the one-line reason they cannot."""
    if importlib.util.find_spec("playwright") is None:
        return "browser tests did not run: playwright is not installed (make setup)"
    if chromium_path() is None:
        how = (
            "tests/browser/install_chromium.sh installs it as root with apt-get"
            if os.geteuid() == 0
            else "it needs root to install (apt-get install chromium)"
        )
        return f"browser tests did not run: no chromium on this machine ({how})"
    return None


def launch_args() -> list[str]:
    # Chromium refuses to run as root inside its sandbox; CI and these machines run as root.
    return ["--no-sandbox"] if os.geteuid() == 0 else []


def platform(directory: Path, **env: str) -> contextlib.AbstractContextManager[Stack]:
    """The e2e suite's Valkey and API process (`tests/e2e/test_jobs_stack.py`), stopping
    fast; workers are started with `Stack.start_worker` (its `env` may be changed first)."""
    return api_stack(directory, graceful_s=2, **env)


# A worker process that imports everything first, then waits for a line on stdin before it
# starts: a second provider's worker, warmed while the tests run (its imports take seconds),
# so swapping providers mid-session costs no boot.
WARM_WORKER = """
import importlib, pkgutil, sys
import conductors, workers.__main__ as entry
for module in pkgutil.iter_modules(conductors.__path__):
    importlib.import_module("conductors." + module.name)
sys.stdin.readline()
entry.main()
"""


def warm_worker(stack: Stack, **env: str) -> subprocess.Popen[bytes]:
    """A worker with `env` over the stack's, imported and held until `release`."""
    n = len(stack.workers) + 1
    with open(stack.directory / f"worker-{n}.log", "ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-c", WARM_WORKER],
            cwd=ROOT,
            env=stack.env | env,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack.workers.append(worker)
    return worker


def release(worker: subprocess.Popen[bytes]) -> None:
    assert worker.stdin is not None
    worker.stdin.write(b"go\n")
    worker.stdin.flush()


def stop(worker: subprocess.Popen[bytes]) -> None:
    _stop(worker)


class CuttingProxy:
    """A TCP proxy in front of the API. Once `arm(n)` is called, the next event stream it
    carries (a request for `.../events`) is cut in the middle of its n-th `token` event:
    the bytes up to that event's `event:` line go through, then the connection ends in the
    middle of an HTTP chunk, as a dropped network would, and the API's side is aborted.
    Everything else passes untouched."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = 0
        self.armed = 0
        self.cuts = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arm(self, tokens: int) -> None:
        self.armed = tokens

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[CuttingProxy]:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            self._server.close()

    async def _connection(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.transport.abort()
            return
        state = {"events": False}

        async def upstream() -> None:
            while data := await client_r.read(65536):
                if data[:4] in (b"GET ", b"POST", b"PUT ", b"PATC", b"DELE", b"HEAD", b"OPTI"):
                    state["events"] = b"/events" in data.split(b"\r\n", 1)[0]
                server_w.write(data)
                await server_w.drain()
            server_w.close()

        async def downstream() -> None:
            seen = 0
            while data := await server_r.read(65536):
                if state["events"] and self.armed:
                    at = -1
                    for _ in range(self.armed - seen):
                        at = data.find(b"event: token", at + 1)
                        if at < 0:
                            break
                        seen += 1
                    if at >= 0 and seen >= self.armed:
                        self.armed, self.cuts = 0, self.cuts + 1
                        client_w.write(data[: at + len(b"event: token")])
                        await client_w.drain()
                        # Let the browser read what came, then end the connection mid-chunk
                        # (an RST at once could discard bytes it had not read yet).
                        await asyncio.sleep(0.2)
                        client_w.close()
                        server_w.transport.abort()
                        return
                client_w.write(data)
                await client_w.drain()
            client_w.close()

        await asyncio.gather(upstream(), downstream(), return_exceptions=True)


async def sign_in(page: Any, base: str, address: str, view: str = "") -> None:
    """Open the dashboard (at `#view`, when given), sign in, and wait for the signed-in page."""
    await page.goto(base + "/" + (f"#{view}" if view else ""))
    await page.fill("#login [name=email]", address)
    await page.fill("#login [name=password]", PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#nav:not([hidden])")


def email() -> str:
    return f"browser-{uuid.uuid4().hex[:10]}@example.com"


async def books(http: httpx.AsyncClient) -> Account:
    """A company with a quarter of trade: invoices in January and March (one part paid), a
    bill in February, an expense paid in cash, a bank account opened in December."""
    owner = await register(http, name="Browser Owner", company_name="Browser Books", email=email())
    acme = await bk.contact(owner, name="Acme")
    globex = await bk.contact(owner, name="Globex")
    supplier = await bk.contact(owner, type="supplier", name="Initech")
    bank = await bk.bank(owner, "Checking", opening_balance=5000, opened_at="2024-12-01")
    first = await bk.document(
        owner, "invoice", acme["id"], [bk.line(2500)], "2025-01-05", "2025-01-20", status="sent"
    )
    await bk.pay(owner, first["id"], bank["id"], 1000, paid_at="2025-01-15")
    await bk.document(
        owner, "invoice", globex["id"], [bk.line(1200.5)], "2025-03-02", "2025-04-01", status="sent"
    )
    await bk.document(
        owner, "bill", supplier["id"], [bk.line(700)], "2025-02-05", "2025-02-20", status="sent"
    )
    return owner
