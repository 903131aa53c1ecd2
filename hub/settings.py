"""One typed settings object, read from the environment once.

Secrets that still hold a development key or a placeholder from
deploy/hub.env.example are refused in ``prod``, so a production deployment cannot
start with them; and a hub started without HUB_ENV on an address other than
loopback refuses to start rather than run as ``dev``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEV_SECRET = "dev-insecure-secret-change-me"
DEV_LEDGER_KEY = "dev-ledger-key"
# words that mark a value copied from an example file instead of generated
PLACEHOLDER_MARKS = ("replace-with", "change-me", "changeme", "placeholder", "example",
                     "your-secret", "dev-insecure")
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
    trusted_proxies: str = ""  # addresses/networks whose X-Forwarded-For is believed
    public_url: str | None = None  # where citizens reach this hub (the QR codes' target)
    env_explicit: bool = True  # False when HUB_ENV was not set (dev by default)
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

    @property
    def resolved_public_url(self) -> str | None:
        """The configured public URL; outside prod, this process's own address."""
        if self.public_url:
            return self.public_url.rstrip("/")
        if self.env == "prod":
            return None
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def check(self) -> Settings:
        """Refuse unsafe combinations; returns self so calls can chain."""
        if self.env not in {"dev", "test", "prod"}:
            raise SettingsError(f"HUB_ENV must be dev, test or prod, not {self.env!r}")
        if not self.env_explicit and not is_loopback(self.host):
            raise SettingsError(
                f"HUB_ENV is not set and the hub would listen on {self.host!r}, which is not "
                "a loopback address: set HUB_ENV=prod (or HUB_ENV=dev deliberately)")
        from hub.security.clients import parse_networks

        try:
            parse_networks(self.trusted_proxies)
        except ValueError as exc:
            raise SettingsError(f"HUB_TRUSTED_PROXIES: {exc}") from None
        if self.public_url:
            _check_public_url(self.public_url, self.env)
        if self.env == "prod":
            if self.secret_key == DEV_SECRET or len(self.secret_key) < 32 \
                    or looks_like_placeholder(self.secret_key):
                raise SettingsError(
                    "HUB_SECRET_KEY is a development key, a placeholder or shorter than 32"
                    " characters; set a random secret for production"
                )
            if self.ledger_key is not None and (
                    self.ledger_key == DEV_LEDGER_KEY or len(self.ledger_key) < 24
                    or looks_like_placeholder(self.ledger_key)):
                raise SettingsError("HUB_LEDGER_KEY is a development key, a placeholder or "
                                    "shorter than 24 characters; set a random key")
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


def looks_like_placeholder(value: str) -> bool:
    """True for a value copied from an example file rather than generated."""
    lowered = value.lower()
    return any(mark in lowered for mark in PLACEHOLDER_MARKS) or " " in value.strip()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_public_url(url: str, env: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment or parts.username:
        raise SettingsError(f"HUB_PUBLIC_URL={url!r} must be an http(s) address like "
                            "https://12345.example.gov.cn (no query, no user)")
    if env == "prod" and parts.scheme != "https":
        raise SettingsError("HUB_PUBLIC_URL must use https in production")


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
    EnvVar("HUB_TRUSTED_PROXIES", "trusted_proxies", str,
           "addresses or networks of reverse proxies (e.g. `127.0.0.1` behind the shipped "
           "nginx) whose X-Forwarded-For names the client; empty: the connection's address"),
    EnvVar("HUB_PUBLIC_URL", "public_url", str,
           "https address citizens reach the hub at: the target of the units' QR codes"),
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
    values["env_explicit"] = "env" in values
    values.setdefault("secure_cookies", environment == "prod")
    if "ledger_key" not in values and environment == "dev":
        values["ledger_key"] = DEV_LEDGER_KEY
    return Settings(**values).check()
