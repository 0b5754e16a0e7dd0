"""Revocation reaches every replica: the platform (`python -m supervisor`) plus a second API
process on the same store and Valkey; a token logged out, or made stale by a password
change, on one API is refused by the other within seconds."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from domain.auth.sessions import CACHE_TTL_S
from tests.e2e.test_supervisor import ROOT, Platform, bearer, free_ports, ok
from tests.helpers import PASSWORD, unique_email

pytestmark = pytest.mark.e2e


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(tmp_path)
    try:
        yield platform
    finally:
        platform.kill()


@pytest.fixture
def second_api(platform: Platform) -> Iterator[str]:
    platform.start()
    platform.wait_ready()
    [port] = free_ports(1)
    env = platform.env() | {
        "NUMBORS_PORT": str(port),
        "NUMBORS_REDIS_URL": f"redis://127.0.0.1:{platform.valkey_port}/0",
        "NUMBORS_JWT_SECRET": (platform.var_dir / "jwt_secret").read_text().strip(),
    }
    args = ["-m", "uvicorn", "--factory", "api.app:app_factory", "--port", str(port)]
    with open(platform.directory / "second-api.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        platform.stop(signal.SIGTERM)


def refused_within(url: str, token: str, seconds: float) -> float:
    """Seconds until `url` refuses `token` with 401 token_revoked (fails past `seconds`)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        answer = httpx.get(f"{url}/api/auth/me", headers=bearer(token), timeout=5)
        if answer.status_code == 401:
            assert answer.json()["error"]["code"] == "token_revoked", answer.text
            return time.monotonic() - started
        time.sleep(0.05)
    pytest.fail(f"{url} still accepts the revoked token after {seconds} s")


def test_logout_and_password_change_reach_the_other_api(
    platform: Platform, second_api: str
) -> None:
    first = platform.url
    email = unique_email("replica")
    body = {"email": email, "password": PASSWORD, "name": "Replica"}
    token = ok(httpx.post(f"{first}/api/auth/register", json=body, timeout=10), 201)["token"]
    login = {"email": email, "password": PASSWORD}
    other = ok(httpx.post(f"{first}/api/auth/login", json=login, timeout=10), 201)["token"]
    for url in (first, second_api):  # both APIs know both tokens now
        for t in (token, other):
            ok(httpx.get(f"{url}/api/auth/me", headers=bearer(t), timeout=5))

    ok(httpx.post(f"{first}/api/auth/logout", headers=bearer(token), timeout=5))
    assert refused_within(first, token, 0.5) < 0.5  # the revoking API at once
    assert refused_within(second_api, token, CACHE_TTL_S + 2) <= CACHE_TTL_S + 1
    ok(httpx.get(f"{second_api}/api/auth/me", headers=bearer(other), timeout=5))

    change = {"current_password": PASSWORD, "new_password": "a new passphrase, longer"}
    renewed = ok(
        httpx.post(
            f"{second_api}/api/auth/password", json=change, headers=bearer(other), timeout=10
        )
    )["token"]
    assert refused_within(first, other, CACHE_TTL_S + 2) <= CACHE_TTL_S + 1
    ok(httpx.get(f"{first}/api/auth/me", headers=bearer(renewed), timeout=5))
