"""The client's address behind trusted proxies (`api/forwarded.py`, `NUMBORS_TRUSTED_PROXIES`):
X-Forwarded-For is honoured only from a trusted peer, and then its right-most untrusted
address is the client; a header sent by anyone else is ignored."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from api.forwarded import client_ip, parse_proxies
from tests.helpers import unique_email

PROXIES = parse_proxies("10.0.0.0/8, 2001:db8::/32, 192.0.2.7")


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        ("198.51.100.1", ["203.0.113.9"], "198.51.100.1"),  # untrusted peer: header ignored
        ("10.1.2.3", [], "10.1.2.3"),  # a proxy that sent no header
        ("10.1.2.3", ["203.0.113.9"], "203.0.113.9"),
        ("10.1.2.3", ["6.6.6.6, 203.0.113.9"], "203.0.113.9"),  # the client's own forgery
        ("10.1.2.3", ["6.6.6.6, 203.0.113.9, 10.9.9.9"], "203.0.113.9"),  # two proxies
        ("10.1.2.3", ["6.6.6.6", "203.0.113.9, 192.0.2.7"], "203.0.113.9"),  # two headers
        ("10.1.2.3", ["10.4.4.4, 10.5.5.5"], "10.4.4.4"),  # every hop a proxy: the left-most
        ("10.1.2.3", ["203.0.113.9, not-an-ip, 10.5.5.5"], "10.5.5.5"),  # a forged entry
        ("2001:db8::1", ["2001:0db8:0:0::9, 2a00::5"], "2a00::5"),
        (None, ["203.0.113.9"], None),
    ],
)
def test_the_right_most_untrusted_address(
    peer: str | None, headers: list[str], client: str | None
) -> None:
    assert client_ip(peer, headers, PROXIES) == client


def test_no_trusted_proxies_never_reads_the_header() -> None:
    assert parse_proxies("") == ()
    assert client_ip("10.1.2.3", ["203.0.113.9"], ()) == "10.1.2.3"
    with pytest.raises(ValueError):
        parse_proxies("10.0.0/8")


async def audited_ip(app: FastAPI, peer: str, forwarded: str) -> str:
    """The address a failed login's audit event records (login throttling reads the same)."""
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    email = unique_email("proxied")
    async with httpx.AsyncClient(transport=transport, base_url="http://proxied.test") as c:
        body = {"email": email, "password": "wrong password!"}
        answer = await c.post("/api/auth/login", json=body, headers={"X-Forwarded-For": forwarded})
        assert answer.status_code == 401
    event = await app.state.services.store.find_one("audit_events", {"email": email})
    assert event is not None
    return str(event["ip"])


async def test_the_app_honours_only_its_trusted_proxies(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the default (no trusted proxies): a spoofed header is ignored
    assert await audited_ip(app, "10.1.2.3", "203.0.113.9") == "10.1.2.3"
    monkeypatch.setattr(app.state, "trusted_proxies", parse_proxies("10.0.0.0/8"))
    assert await audited_ip(app, "10.1.2.3", "6.6.6.6, 203.0.113.9") == "203.0.113.9"
    assert await audited_ip(app, "198.51.100.1", "203.0.113.9") == "198.51.100.1"
