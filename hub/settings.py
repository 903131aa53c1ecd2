"""One typed settings object, read from the environment once.

Secrets that still hold their development placeholder are refused outside the
``dev`` environment, so a production deployment cannot start with them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEV_SECRET = "dev-insecure-secret-change-me"
REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting is missing or unsafe for the chosen environment."""


@dataclass(frozen=True)
class Settings:
    env: str = "dev"
    database_url: str = ""
    config_dir: Path = REPO_ROOT / "config"
    var_dir: Path = REPO_ROOT / "var"
    secret_key: str = DEV_SECRET
    host: str = "127.0.0.1"
    port: int = 8080
    demo_channels_port: int | None = None
    max_body_bytes: int = 1024 * 1024
    model_path: Path | None = None
    scheduler_enabled: bool = True
    pipeline_enabled: bool = True
    session_hours: float = 8.0
    secure_cookies: bool = False
    ledger_key: str | None = None  # lets the parent platform read this hub's ledger
    lease_seconds: float = 30.0
    db_timeout_seconds: float = 30.0
    metrics_token: str | None = None
    log_format: str = "text"
    access_log: bool = True
    retention_months: int = 24
    instance_name: str = field(default_factory=lambda: f"{os.uname().nodename}:{os.getpid()}")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / 'hub.sqlite3'}"

    @property
    def resolved_model_path(self) -> Path:
        return self.model_path or self.var_dir / "models" / "router.joblib"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def check(self) -> Settings:
        """Refuse unsafe combinations; returns self so calls can chain."""
        if self.env not in {"dev", "test", "prod"}:
            raise SettingsError(f"HUB_ENV must be dev, test or prod, not {self.env!r}")
        if self.env == "prod":
            if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
                raise SettingsError(
                    "HUB_SECRET_KEY is the development placeholder or shorter than 32 characters;"
                    " set a random secret for production"
                )
            if not self.database_url:
                raise SettingsError("HUB_DATABASE_URL must be set in production")
        if self.log_format not in {"text", "json"}:
            raise SettingsError(f"HUB_LOG_FORMAT must be text or json, not {self.log_format!r}")
        if self.lease_seconds < 1 or self.db_timeout_seconds <= 0:
            raise SettingsError("HUB_LEASE_SECONDS must be >= 1 and HUB_DB_TIMEOUT_SECONDS > 0")
        if self.retention_months < 0:
            raise SettingsError("HUB_RETENTION_MONTHS must be >= 0 (0 keeps contact details)")
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            raise SettingsError("HUB_METRICS_TOKEN must be at least 16 characters")
        return self


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class EnvVar:
    """One ``HUB_*`` variable: the settings field it fills, how it is read, what it means.

    This table is the only place the environment is read (the README's list of
    settings is checked against it by a test)."""

    name: str
    field: str
    parse: Callable[[str], Any]
    meaning: str


ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar("HUB_ENV", "env", str, "dev, test or prod; prod refuses development secrets"),
    EnvVar("HUB_DATABASE_URL", "database_url", str,
           "SQLAlchemy URL; default SQLite var/hub.sqlite3 (WAL); production PostgreSQL"),
    EnvVar("HUB_CONFIG_DIR", "config_dir", Path,
           "folder of the city's TOML files (units, sources, routing, deadlines, ranking)"),
    EnvVar("HUB_VAR_DIR", "var_dir", Path,
           "folder for the SQLite file, the router model and published reports"),
    EnvVar("HUB_SECRET_KEY", "secret_key", str, "random secret, at least 32 characters in prod"),
    EnvVar("HUB_HOST", "host", str, "address `hub serve` and `hub demo` listen on"),
    EnvVar("HUB_PORT", "port", int, "port `hub serve` and `hub demo` listen on (8080)"),
    EnvVar("HUB_DEMO_CHANNELS_PORT", "demo_channels_port", int,
           "port of the demo's channel imitations (default: HUB_PORT + 1)"),
    EnvVar("HUB_MAX_BODY_BYTES", "max_body_bytes", int, "largest request body accepted (1 MiB)"),
    EnvVar("HUB_MODEL_PATH", "model_path", Path,
           "router model file (default var/models/router.joblib)"),
    EnvVar("HUB_SCHEDULER", "scheduler_enabled", _bool,
           "0 turns off scheduled jobs (pulls, deadlines, rankings) in this process"),
    EnvVar("HUB_PIPELINE", "pipeline_enabled", _bool,
           "0 turns off the queue -> case pipeline worker in this process"),
    EnvVar("HUB_SESSION_HOURS", "session_hours", float, "staff login sessions last this long (8)"),
    EnvVar("HUB_SECURE_COOKIES", "secure_cookies", _bool,
           "cookies only over HTTPS (on by default in prod)"),
    EnvVar("HUB_LEDGER_KEY", "ledger_key", str,
           "lets the parent platform read this hub's ledger (`dev-ledger-key` in dev only)"),
    EnvVar("HUB_LEASE_SECONDS", "lease_seconds", float,
           "a job's lease lasts this long unless renewed (every third of it) while the job "
           "runs; a dead process's jobs are taken over after it (30)"),
    EnvVar("HUB_DB_TIMEOUT_SECONDS", "db_timeout_seconds", float,
           "wait at most this long for the database (SQLite lock, PostgreSQL connection or "
           "pool) before answering 503 (30)"),
    EnvVar("HUB_METRICS_TOKEN", "metrics_token", str,
           "bearer token for /metrics from other hosts (else loopback only, never via a proxy)"),
    EnvVar("HUB_LOG_FORMAT", "log_format", str, "text (default) or json: one JSON object a line"),
    EnvVar("HUB_ACCESS_LOG", "access_log", _bool,
           "0 turns off `hub serve`'s access log (nginx keeps its own)"),
    EnvVar("HUB_RETENTION_MONTHS", "retention_months", int,
           "contact details of cases closed longer ago are anonymised daily (24; 0 keeps them)"),
)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the ``HUB_*`` environment variables in ENV_VARS."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for var in ENV_VARS:
        raw = env.get(var.name)
        if raw is None or raw == "":
            continue
        try:
            values[var.field] = var.parse(raw)
        except ValueError:
            raise SettingsError(f"{var.name}={raw!r} cannot be read: {var.meaning}") from None
    environment = values.get("env", "dev")
    values.setdefault("secure_cookies", environment == "prod")
    if "ledger_key" not in values and environment == "dev":
        values["ledger_key"] = "dev-ledger-key"
    return Settings(**values).check()
