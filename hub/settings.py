"""One typed settings object, read from the environment once.

Secrets that still hold their development placeholder are refused outside the
``dev`` environment, so a production deployment cannot start with them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

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
    max_body_bytes: int = 1024 * 1024
    model_path: Path | None = None
    scheduler_enabled: bool = True
    pipeline_enabled: bool = True
    session_hours: float = 8.0
    secure_cookies: bool = False
    ledger_key: str | None = None  # lets the parent platform read this hub's ledger
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
        return self


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from ``HUB_*`` environment variables."""
    env = os.environ if environ is None else environ
    var_dir = Path(env.get("HUB_VAR_DIR", str(REPO_ROOT / "var")))
    model = env.get("HUB_MODEL_PATH")
    return Settings(
        env=env.get("HUB_ENV", "dev"),
        database_url=env.get("HUB_DATABASE_URL", ""),
        config_dir=Path(env.get("HUB_CONFIG_DIR", str(REPO_ROOT / "config"))),
        var_dir=var_dir,
        secret_key=env.get("HUB_SECRET_KEY", DEV_SECRET),
        host=env.get("HUB_HOST", "127.0.0.1"),
        port=int(env.get("HUB_PORT", "8080")),
        max_body_bytes=int(env.get("HUB_MAX_BODY_BYTES", str(1024 * 1024))),
        model_path=Path(model) if model else None,
        scheduler_enabled=_bool(env.get("HUB_SCHEDULER"), True),
        pipeline_enabled=_bool(env.get("HUB_PIPELINE"), True),
        session_hours=float(env.get("HUB_SESSION_HOURS", "8")),
        ledger_key=env.get("HUB_LEDGER_KEY") or (
            "dev-ledger-key" if env.get("HUB_ENV", "dev") == "dev" else None),
        secure_cookies=_bool(env.get("HUB_SECURE_COOKIES"), env.get("HUB_ENV") == "prod"),
    ).check()
