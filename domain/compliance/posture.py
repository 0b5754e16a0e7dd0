"""The compliance posture: each control `pass`, `fail` or `manual`, with its evidence.

Controls of the deployment (the same for every company) and of the company. A control that
the platform cannot see for itself (TLS in front of it, MongoDB's write concern) is `manual`
with what to check; nothing is claimed that was not measured. `Deployment` is what the API
measured of the running process (settings, Redis's persistence, the store's journal mode);
the company's controls are read here from the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from domain.context import Ctx
from domain.resources.declaration import ROLE_RANK
from memory.ids import utcnow

Status = Literal["pass", "fail", "manual"]
INACTIVE_DAYS = 90
SECRET_MAX_AGE_DAYS = 365
TOKEN_TTL_MAX_S = 12 * 3600
MIN_RETENTION_DAYS = 365
AUDIT_WINDOW_DAYS = 30


@dataclass(frozen=True)
class Deployment:
    env: str
    jwt_secret_bytes: int
    jwt_secret_age_days: float | None  # None: set from the environment, age unknown
    token_ttl_s: int
    password_min_length: int
    password_hash: str
    login_limits: dict[str, str]
    throttle_shared: bool  # windows in Redis (every replica) rather than in the process
    redis_persistence: dict[str, Any] | None  # None: no Redis, or it did not answer
    store: str  # "sqlite" or "mongodb"
    store_journal: str | None  # SQLite's journal mode, as read from the file
    retention_days: int
    hsts: bool = False


def control(
    id: str, title: str, scope: str, status: Status, evidence: dict[str, Any]
) -> dict[str, Any]:
    return {"id": id, "title": title, "scope": scope, "status": status, "evidence": evidence}


def deployment_controls(d: Deployment) -> list[dict[str, Any]]:
    aof = (d.redis_persistence or {}).get("appendonly")
    age = d.jwt_secret_age_days
    return [
        control(
            "environment",
            "Runs in the production environment",
            "deployment",
            "pass" if d.env == "production" else "fail",
            {"env": d.env, "why": "development generates missing secrets; production refuses"},
        ),
        control(
            "jwt_secret_strength",
            "JWT signing key of at least 32 bytes",
            "deployment",
            "pass" if d.jwt_secret_bytes >= 32 else "fail",
            {"bytes": d.jwt_secret_bytes, "algorithm": "HS256"},
        ),
        control(
            "jwt_secret_age",
            f"JWT signing key rotated within {SECRET_MAX_AGE_DAYS} days",
            "deployment",
            "manual" if age is None else ("pass" if age <= SECRET_MAX_AGE_DAYS else "fail"),
            {"age_days": None if age is None else round(age, 1)}
            if age is not None
            else {"check": "set by NUMBORS_JWT_SECRET: its age is in your secret store"},
        ),
        control(
            "password_policy",
            "Passwords of at least 10 characters, hashed with Argon2id",
            "deployment",
            "pass" if d.password_min_length >= 10 and d.password_hash == "argon2id" else "fail",
            {"min_length": d.password_min_length, "hash": d.password_hash},
        ),
        control(
            "login_throttling",
            "Failed logins throttled per account and per address, on every replica",
            "deployment",
            "pass" if d.throttle_shared else "fail",
            {**d.login_limits, "storage": "redis" if d.throttle_shared else "process memory"},
        ),
        control(
            "token_lifetime",
            "Access tokens live at most 12 hours and are revocable",
            "deployment",
            "pass" if d.token_ttl_s <= TOKEN_TTL_MAX_S else "fail",
            {"ttl_s": d.token_ttl_s, "revocation": "logout, logout-all, password change"},
        ),
        control(
            "redis_persistence",
            "Redis keeps an append-only file (queued jobs survive a restart)",
            "deployment",
            "pass" if aof == "yes" else "fail",
            d.redis_persistence or {"redis": "not configured or not answering"},
        ),
        _store_control(d),
        control(
            "audit_retention",
            f"Audit events kept at least {MIN_RETENTION_DAYS} days",
            "deployment",
            "pass" if d.retention_days == 0 or d.retention_days >= MIN_RETENTION_DAYS else "fail",
            {"retention_days": d.retention_days or "for ever"},
        ),
        control(
            "tls",
            "TLS terminates in front of the API (HSTS sent)",
            "deployment",
            "manual",
            {"check": "the API speaks plain HTTP: put a TLS proxy in front", "hsts": d.hsts},
        ),
    ]


def _store_control(d: Deployment) -> dict[str, Any]:
    if d.store == "sqlite":
        wal = (d.store_journal or "").lower() == "wal"
        return control(
            "store_durability",
            "The store commits durably (SQLite in WAL mode)",
            "deployment",
            "pass" if wal else "fail",
            {"store": "sqlite", "journal_mode": d.store_journal},
        )
    return control(
        "store_durability",
        "The store commits durably (MongoDB replica set, write concern majority)",
        "deployment",
        "manual",
        {"store": d.store, "check": "the connection string sets w=majority on a replica set"},
    )


async def company_controls(ctx: Ctx) -> list[dict[str, Any]]:
    members = await ctx.store.find("memberships", ctx.scope())
    users = await ctx.store.find("users", {"_id": {"$in": [m["user_id"] for m in members]}})
    by_id = {u["_id"]: u for u in users}
    now = datetime.now(UTC)
    cutoff = (now - timedelta(days=INACTIVE_DAYS)).isoformat().replace("+00:00", "Z")
    privileged = [
        {
            "user_id": m["user_id"],
            "email": by_id.get(m["user_id"], {}).get("email"),
            "role": m["role"],
        }
        for m in members
        if ROLE_RANK.get(m["role"], 0) >= ROLE_RANK["admin"]
    ]
    inactive = [
        {"user_id": m["user_id"], "email": u.get("email"), "last_login_at": u.get("last_login_at")}
        for m in members
        if (u := by_id.get(m["user_id"], {})) is not None
        and (u.get("last_login_at") or u.get("created_at") or "") < cutoff
    ]
    since = (now - timedelta(days=AUDIT_WINDOW_DAYS)).isoformat().replace("+00:00", "Z")
    counts = {
        name: await ctx.store.count(
            "audit_events", {"company_id": ctx.company_id, "class_uid": uid, "at": {"$gte": since}}
        )
        for name, uid in (("api_activity", 6003), ("account_change", 3001))
    }
    secret = await ctx.store.find_one("memory_hook_secrets", ctx.scope())
    return [
        control(
            "owners_and_admins",
            "Who can manage the company",
            "company",
            "pass" if any(p["role"] == "owner" for p in privileged) else "fail",
            {"owners": sum(p["role"] == "owner" for p in privileged), "members": privileged},
        ),
        control(
            "inactive_members",
            f"No member without a login in {INACTIVE_DAYS} days",
            "company",
            "pass" if not inactive else "fail",
            {"inactive": inactive, "members": len(members)},
        ),
        control(
            "audit_coverage",
            "Every write, login and account change is an audit event",
            "company",
            "pass",
            {
                "events_last_30_days": counts,
                "how": "written in the transaction of each write (append-only, no route edits it)",
            },
        ),
        _webhook_control(secret, now),
        control(
            "high_severity_bugs",
            "No open high-severity bug",
            "company",
            "manual",
            {"check": "bug triage (Tai) does not track severities in this deployment yet"},
        ),
    ]


def _webhook_control(secret: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    title = f"Memory-hook webhook secret rotated within {SECRET_MAX_AGE_DAYS} days"
    if secret is None:
        return control("webhook_secret_age", title, "company", "pass", {"secret": "none issued"})
    issued = secret.get("rotated_at") or secret["created_at"]
    age = (now - datetime.fromisoformat(issued.replace("Z", "+00:00"))).days
    status: Status = "pass" if age <= SECRET_MAX_AGE_DAYS else "fail"
    return control("webhook_secret_age", title, "company", status, {"age_days": age})


async def snapshot(ctx: Ctx, deployment: Deployment) -> dict[str, Any]:
    controls = deployment_controls(deployment) + await company_controls(ctx)
    summary = {s: sum(c["status"] == s for c in controls) for s in ("pass", "fail", "manual")}
    return {
        "generated_at": utcnow(),
        "company_id": ctx.company_id,
        "summary": summary,
        "controls": controls,
    }
