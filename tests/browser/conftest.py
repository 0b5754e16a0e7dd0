"""Fixtures of the browser tests: one platform (Valkey, API, worker) for the folder, the fake
OpenAI-compatible server in this loop, the cutting proxy the browser goes through, Debian's
Chromium under Playwright, and a fresh page per test whose console must stay free of errors.

When Chromium or Playwright is missing every test here skips with one reason, the line
`make test` prints (`tests/browser/install_chromium.sh` installs Chromium when it can)."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.ai.fake_llm import MODEL, FakeLLM, running
from tests.browser.stack import (
    CuttingProxy,
    chromium_path,
    launch_args,
    platform,
    warm_worker,
    why_no_browser,
)
from tests.e2e.test_jobs_stack import Stack


@pytest.fixture(scope="session")
def chromium() -> str:
    reason = why_no_browser()
    if reason is not None:
        pytest.skip(reason)
    path = chromium_path()
    assert path is not None
    return path


@pytest.fixture(scope="session")
async def fake_llm(chromium: str) -> AsyncIterator[FakeLLM]:
    async with running(FakeLLM()) as llm:
        yield llm


@pytest.fixture(scope="session")
def browser_stack(
    chromium: str, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The platform with two workers: `workers[0]` runs with the offline provider (no
    NUMBORS_LLM_BASE_URL), `workers[1]` (the `model_worker`) is warmed, held, with the fake
    OpenAI-compatible server as its model, for the test that swaps them."""
    with platform(tmp_path_factory.mktemp("browser")) as stack:
        stack.start_worker()
        warm_worker(
            stack,
            NUMBORS_LLM_BASE_URL=fake_llm.base_url,
            NUMBORS_LLM_MODEL=MODEL,
            NUMBORS_LLM_MAX_RETRIES="0",
        )
        yield stack


@pytest.fixture(scope="session")
def model_worker(browser_stack: Stack) -> subprocess.Popen[bytes]:
    return browser_stack.workers[1]


@pytest.fixture(scope="session")
async def proxy(browser_stack: Stack) -> AsyncIterator[CuttingProxy]:
    async with CuttingProxy(browser_stack.port).running() as running_proxy:
        yield running_proxy


@pytest.fixture
async def http(browser_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API itself (not through the proxy), for setting up and checking."""
    async with httpx.AsyncClient(base_url=browser_stack.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=launch_args())
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Tab:
    """A page and what its console said: errors, uncaught exceptions, CSP violations."""

    page: Any
    errors: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(x in e for x in self.expected)]


@pytest.fixture
async def tab(browser: Any) -> AsyncIterator[Tab]:
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(20_000)
    opened = Tab(page)
    page.on(
        "console",
        lambda m: (
            opened.errors.append(f"console.{m.type}: {m.text}")
            if m.type in ("error", "assert")
            else None
        ),
    )
    page.on("pageerror", lambda e: opened.errors.append(f"uncaught: {e}"))
    try:
        yield opened
    finally:
        await context.close()
    assert opened.unexpected() == [], "the page's console logged errors"
