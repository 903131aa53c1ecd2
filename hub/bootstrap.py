"""Load the city's config into the database: units and sources, by stable code.

Run by ``hub init`` and at every start, so editing config and restarting is all a
city does to add a unit or a channel. Units no longer in config are deactivated,
never deleted: old cases still point at them.
"""

from __future__ import annotations

import hashlib
import logging
import os

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.config import CityConfig
from hub.models import Source, Unit
from hub.settings import Settings, looks_like_placeholder

log = logging.getLogger(__name__)


def sync_config(session: Session, config: CityConfig) -> None:
    units = {u.code: u for u in session.scalars(select(Unit))}
    for spec in config.units:
        unit = units.get(spec.code) or Unit(code=spec.code, name=spec.name, kind=spec.kind)
        unit.name, unit.kind, unit.active = spec.name, spec.kind, True
        unit.county_code, unit.mirrors, unit.discipline = spec.county, spec.mirrors, spec.discipline
        session.add(unit)
        units[spec.code] = unit
    session.flush()
    for spec in config.units:
        units[spec.code].parent_id = units[spec.parent].id if spec.parent else None
    configured = {u.code for u in config.units}
    for code, unit in units.items():
        if code not in configured:
            unit.active = False
    sources = {s.name: s for s in session.scalars(select(Source))}
    for spec in config.sources:
        src = sources.get(spec.name) or Source(name=spec.name, kind=spec.kind, title=spec.title)
        src.kind, src.title, src.enabled = spec.kind, spec.title, spec.enabled
        session.add(src)
    session.flush()


def hash_key(key: str) -> str:
    """API keys are long random strings, so a plain SHA-256 is enough to avoid storing them."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def api_keys(config: CityConfig, settings: Settings) -> dict[str, str]:
    """Map key hash -> source name for push channels. Development keys work only in dev/test."""
    keys: dict[str, str] = {}
    for spec in config.sources:
        if spec.kind != "push" or not spec.enabled:
            continue
        key = os.environ.get(spec.api_key_env or "", "")
        if not key and settings.env in {"dev", "test"} and spec.dev_api_key:
            key = spec.dev_api_key
        if not key:
            log.warning("push source %s has no API key (set %s); it accepts nothing",
                        spec.name, spec.api_key_env)
            continue
        if settings.env == "prod" and (key == spec.dev_api_key or len(key) < 24
                                       or looks_like_placeholder(key)):
            raise ValueError(f"{spec.api_key_env} holds a placeholder or short key; "
                             "set a random key of 24+ characters for production")
        keys[hash_key(key)] = spec.name
    return keys
