"""Verified tokens are remembered by their exact text, and only until they expire."""

from __future__ import annotations

import time

import pytest

from domain.auth import tokens
from domain.errors import Unauthenticated

KEY = "k" * 40


def config(ttl_s: int = 60) -> tokens.TokenConfig:
    return tokens.TokenConfig(key=KEY, issuer="numbors", audience="numbors-api", ttl_s=ttl_s)


def test_a_verified_token_is_served_from_the_cache() -> None:
    cfg = config()
    token = tokens.issue(cfg, "user-1")
    first = tokens.verify(cfg, token)
    assert cfg.verified == {token: first}
    assert tokens.verify(cfg, token) is first


def test_a_cached_token_past_its_expiry_is_refused() -> None:
    cfg = config(ttl_s=1)
    token = tokens.issue(cfg, "user-1")
    claims = tokens.verify(cfg, token)
    assert token in cfg.verified
    time.sleep(max(0.0, claims.expires_at - time.time()) + 0.05)  # PyJWT reads the real clock
    with pytest.raises(Unauthenticated) as refused:
        tokens.verify(cfg, token)
    assert refused.value.code == "token_expired"


@pytest.mark.parametrize("where", [-2, len("header."), 10])
def test_a_changed_byte_of_a_cached_token_is_verified_and_refused(where: int) -> None:
    cfg = config()
    token = tokens.issue(cfg, "user-1")
    tokens.verify(cfg, token)
    changed = token[:where] + ("A" if token[where] != "A" else "B") + token[where + 1 :]
    with pytest.raises(Unauthenticated):
        tokens.verify(cfg, changed)
    assert changed not in cfg.verified


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_MAX", 3)
    cfg = config()
    issued = [tokens.issue(cfg, f"user-{n}") for n in range(5)]
    for token in issued:
        tokens.verify(cfg, token)
    assert list(cfg.verified) == issued[2:]  # the oldest went first
