"""Every setting of the platform, read once from `NUMBORS_*` environment variables."""

from __future__ import annotations

import logging
import secrets
from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_BYTES = 32


class ConfigError(RuntimeError):
    """A setting makes the platform unsafe or unable to start."""


def _cidrs(value: str) -> str:
    """`NUMBORS_TRUSTED_PROXIES` must parse (comma-separated CIDRs): a typo refuses to start
    rather than trusting nothing, or everything, silently. `api/forwarded.py` reads it."""
    for part in value.split(","):
        if part.strip():
            ip_network(part.strip(), strict=False)
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NUMBORS_", extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        "development", description="development generates missing secrets; production refuses."
    )
    host: str = Field("127.0.0.1", description="Interface the API binds to.")
    port: int = Field(8000, description="Port the API listens on.")
    var_dir: Path = Field(
        Path("var"), description="Where the embedded store, Valkey and secrets live."
    )
    redis_url: str | None = Field(
        None, description="Redis/Valkey URL; unset runs an embedded Valkey under var/."
    )
    valkey_port: int = Field(0, description="Port of the embedded Valkey; 0 picks a free one.")
    mongodb_url: str | None = Field(
        None, description="MongoDB URL (a replica set); unset uses SQLite under var/."
    )
    mongodb_db: str = Field("numbors", description="MongoDB database name.")
    sqlite_path: Path | None = Field(None, description="SQLite file; default var/numbors.db.")
    jwt_secret: SecretStr | None = Field(
        None, description="HS256 key, at least 32 bytes; in development generated into var/."
    )
    jwt_issuer: str = Field("numbors", description="JWT `iss` claim.")
    jwt_audience: str = Field("numbors-api", description="JWT `aud` claim.")
    jwt_ttl_s: int = Field(12 * 3600, description="Token lifetime in seconds.")
    max_body_bytes: int = Field(
        1024 * 1024, description="Largest request body accepted (413 beyond)."
    )
    log_level: str = Field("INFO", description="Log level of the API and workers.")
    workers: int = Field(1, description="ARQ worker processes `make run` starts.")
    queue_name: str = Field("numbors:queue", description="ARQ queue name.")
    job_wait_s: float = Field(
        30.0, description="How long an enqueueing request waits for the result."
    )
    job_events_ttl_s: int = Field(86400, description="How long a job's event stream is kept.")
    job_timeout_s: int = Field(300, description="Longest a job may run before it is failed.")
    job_max_tries: int = Field(3, description="Attempts of a job whose failures are transient.")
    sse_heartbeat_s: float = Field(15.0, description="Seconds between SSE heartbeat comments.")
    sse_lifetime_s: float = Field(
        600.0, description="An SSE connection's lifetime before `reconnect`."
    )
    facts_hot_ttl_s: int = Field(
        600, description="Lifetime of a company's hot copy of its facts in Redis, seconds."
    )
    facts_hot_max: int = Field(
        1000, description="Most live facts a company's hot copy holds; beyond, reads use the store."
    )
    fact_max_bytes: int = Field(64 * 1024, description="Largest fact value, as JSON bytes.")
    memory_hook_replay_s: int = Field(
        3 * 86400, description="How long a memory-hook answer is kept to answer replays."
    )
    login_limit_per_account: str = Field(
        "5/15minutes", description="Failed logins allowed per account in a moving window."
    )
    login_limit_per_address: str = Field(
        "50/15minutes", description="Failed logins allowed per client address."
    )
    register_limit_per_address: str | None = Field(
        None,
        description="Registrations per client address; default 20/hour (100000/hour when "
        "NUMBORS_ENV=test: a suite registers its accounts from one address).",
    )
    job_dispatch_every_s: float | None = Field(
        None,
        description="How often an API enqueues stored jobs the queue lacks (the outbox); "
        "default 30 (off when NUMBORS_ENV=test: suites keep jobs queued on purpose); 0: off.",
    )
    hsts: bool = Field(
        False, description="TLS terminates in front of the API: send Strict-Transport-Security."
    )
    cors_origins: str = Field(
        "", description="Comma-separated origins allowed by CORS; empty (default): none."
    )
    trusted_proxies: Annotated[str, AfterValidator(_cidrs)] = Field(
        "",
        description="Comma-separated CIDRs of the proxies in front of the API: from those "
        "peers X-Forwarded-For is honoured (the right-most untrusted address is the client); "
        "empty (default): the socket peer is the client.",
    )
    platform_admins: str = Field(
        "",
        description="Comma-separated user ids of the deployment's operators, who may disable "
        "and re-enable any account; empty (default): none.",
    )
    audit_retention_days: int = Field(
        2555, description="How long audit events are kept (7 years); 0 keeps them for ever."
    )

    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint; unset (and no key): the offline provider."
    )
    llm_api_key: SecretStr | None = Field(
        None, description="API key of the model endpoint (a key alone means OpenAI itself)."
    )
    llm_model: str = Field("gpt-4o-mini", description="Model name sent to the endpoint.")
    llm_timeout_s: float = Field(60.0, description="Timeout of one model request, seconds.")
    llm_max_retries: int = Field(2, description="Retries of a model request on 429, 5xx, timeouts.")
    llm_max_tokens: int = Field(800, description="Most tokens a narrative may take.")
    ai_structured_output: bool = Field(
        True,
        description=(
            "The model endpoint supports structured output (response_format with a JSON "
            "schema): narratives are sentences citing fact keys, figures rendered by the "
            "server. Off, or refused with a 400: prose checked by the grounded parser."
        ),
    )
    checkpoint_path: Path | None = Field(
        None, description="SQLite file of agent checkpoints; default var/checkpoints.db."
    )

    @property
    def sqlite_file(self) -> Path:
        return self.sqlite_path or self.var_dir / "numbors.db"

    @property
    def checkpoint_file(self) -> Path:
        return self.checkpoint_path or self.var_dir / "checkpoints.db"

    def jwt_key(self) -> str:
        """The signing key; generated into var/ once in development when none is configured."""
        if self.jwt_secret is not None:
            value = self.jwt_secret.get_secret_value()
            if len(value.encode()) < MIN_SECRET_BYTES:
                raise ConfigError(
                    f"NUMBORS_JWT_SECRET is {len(value.encode())} bytes; it must be at least "
                    f"{MIN_SECRET_BYTES}; generate one with: "
                    "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
            return value
        if self.env == "production":
            raise ConfigError("NUMBORS_JWT_SECRET must be set in production (at least 32 bytes).")
        path = self.var_dir / "jwt_secret"
        if path.exists() and len(path.read_text().strip()) >= MIN_SECRET_BYTES:
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()


def configure_logging(level: str) -> None:
    """One line per record, as written. The log records' thread, process and caller fields
    are never printed, so they are not gathered: the Python logging HOWTO's "Optimization"
    settings, which take a third off each access-log line."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # no sys._getframe walk for the caller's file and line
    logging.basicConfig(level=level.upper(), format="%(message)s")
