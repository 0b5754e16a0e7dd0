"""JWT access tokens: HS256 pinned, `exp iat iss aud sub jti` required.

Each way a token can be wrong has its own error code, so a client knows whether to log in
again (`token_expired`) or that something is broken (`token_signature_invalid`...).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import jwt

from domain.auth.sessions import Sessions
from domain.errors import Unauthenticated
from memory.ids import new_id

ALGORITHM = "HS256"
REQUIRED = ["exp", "iat", "iss", "aud", "sub", "jti"]
VERIFIED_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: str
    jti: str
    expires_at: int
    version: int = 0  # the user's token version when it was issued (`ver`; 0 before it)


@dataclass(frozen=True)
class TokenConfig:
    key: str
    issuer: str
    audience: str
    ttl_s: int
    # Tokens this process has verified, by their exact text: a client sends the same token
    # on every request, and decoding it (PyJWT) costs a fifth of a request. Only verified
    # tokens get in, keyed by every byte of them (a changed byte is another key), and one is
    # served from here only before its `exp`; after that it is decoded again, and refused.
    verified: dict[str, Claims] = field(default_factory=dict, compare=False, repr=False)
    # What makes a verified token die early (its user gone, logout, password change):
    # `domain/auth/sessions.py`, checked on every request from a per-user cache.
    sessions: Sessions = field(default_factory=Sessions, compare=False, repr=False)


def issue(config: TokenConfig, user_id: str, version: int = 0) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "ver": version,
        "iat": now,
        "exp": now + config.ttl_s,
        "iss": config.issuer,
        "aud": config.audience,
        "jti": new_id(),
    }
    return jwt.encode(claims, config.key, algorithm=ALGORITHM)


_ERRORS: list[tuple[type[Exception], str, str]] = [
    (jwt.ExpiredSignatureError, "token_expired", "the token has expired; log in again"),
    (jwt.InvalidAudienceError, "token_audience_invalid", "the token was not issued for this API"),
    (jwt.InvalidIssuerError, "token_issuer_invalid", "the token was not issued by Numbors"),
    (jwt.InvalidSignatureError, "token_signature_invalid", "the token signature does not verify"),
    (jwt.InvalidAlgorithmError, "token_algorithm_invalid", "the token must be signed with HS256"),
    (jwt.MissingRequiredClaimError, "token_claim_missing", "the token lacks a required claim"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid", "the token is not valid yet"),
]


def verify(config: TokenConfig, token: str) -> Claims:
    claims = config.verified.get(token)
    if claims is not None and claims.expires_at > time.time():
        return claims
    claims = _decode(config, token)
    if len(config.verified) >= VERIFIED_MAX:
        del config.verified[next(iter(config.verified))]  # the oldest
    config.verified[token] = claims
    return claims


def _decode(config: TokenConfig, token: str) -> Claims:
    try:
        claims = jwt.decode(
            token,
            config.key,
            algorithms=[ALGORITHM],
            audience=config.audience,
            issuer=config.issuer,
            options={"require": REQUIRED},
        )
    except jwt.InvalidTokenError as error:
        for kind, code, message in _ERRORS:
            if isinstance(error, kind):
                raise Unauthenticated(message, code=code) from error
        raise Unauthenticated("the token is malformed", code="token_malformed") from error
    if not isinstance(claims["sub"], str):
        raise Unauthenticated("the token subject is malformed", code="token_malformed")
    version = claims.get("ver", 0)
    if not isinstance(version, int):
        raise Unauthenticated("the token version is malformed", code="token_malformed")
    return Claims(
        user_id=claims["sub"],
        jti=str(claims["jti"]),
        expires_at=int(claims["exp"]),
        version=version,
    )
