"""The shared runner: one pull of one source, under the checkpoint contract stated in
connectors/base.py. Items, quarantined items, upstream updates and the checkpoint
are written in batches, each in one transaction; the outcome goes into the
source's health whatever went wrong, so `hub sources` shows it without logs.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select

from connectors.base import (
    Abort,
    BadItem,
    Checkpoint,
    Connector,
    KnownItems,
    RawItem,
    RetryLater,
)
from connectors.registry import connector_class
from connectors.updates import apply_updates, resolve_recovered
from hub.core import Hub
from hub.db import transaction
from hub.intake_schema import ItemError, validate_item
from hub.models import Appeal, Source, utcnow
from hub.queue import enqueue, quarantine
from hub.security.text import unstorable

log = logging.getLogger(__name__)


class NotPullable(ValueError):
    """No such source, or one the hub does not pull (push, internal)."""


def pullable(hub: Hub) -> list[str]:
    return sorted(s.name for s in hub.config.sources if connector_class(s.kind) is not None)


def make_connector(hub: Hub, name: str, http: aiohttp.ClientSession | None) -> Connector:
    try:
        spec = hub.config.source(name)
    except KeyError:
        raise NotPullable(f"no source named {name!r} in sources.toml; sources that can be "
                          f"pulled: {', '.join(pullable(hub)) or 'none'}") from None
    cls = connector_class(spec.kind)
    if cls is None:
        raise NotPullable(f"source {name!r} is of kind {spec.kind!r}: its items arrive by "
                          "themselves, there is nothing to pull")
    return cls(name, spec.options, http)


def _stamps(hub: Hub, source_id: int, ids: list[str]) -> dict[str, str | None]:
    with hub.sessions() as s:
        rows = s.execute(select(Appeal.external_id, Appeal.raw).where(
            Appeal.source_id == source_id, Appeal.external_id.in_(ids)))
        return {ext: ((raw or {}).get("extra") or {}).get("stamp") for ext, raw in rows}


def _any_stored(hub: Hub, source_id: int) -> bool:
    with hub.sessions() as s:
        return s.scalar(select(Appeal.id).where(Appeal.source_id == source_id).limit(1)) \
            is not None


def _moves_forward(connector: Connector, old: str | None, new: str) -> bool:
    """False when the new checkpoint sorts before the stored one (never backwards)."""
    if not old:
        return True
    try:
        old_key, new_key = connector.checkpoint_key(old), connector.checkpoint_key(new)
        return old_key is None or new_key is None or new_key >= old_key
    except (TypeError, ValueError):
        return True


def _commit(hub: Hub, connector: Connector, source_id: int, items: list[RawItem],
            bad: list[BadItem], checkpoint: str | None, stats: dict[str, int]) -> None:
    valid = []
    for raw in items:
        try:
            valid.append(validate_item(raw.fields, hub.config.earliest))
        except ItemError as exc:
            # kept as sent, even text no column can hold (lone surrogates): the raw
            # bytes column takes anything, the external id is kept only if storable
            ext = str(raw.fields.get("external_id"))[:128]
            bad.append(BadItem(f"{exc.code}: {exc.message}"[:2000],
                               json.dumps(raw.fields, ensure_ascii=False).encode(
                                   "utf-8", "surrogatepass"),
                               None if unstorable(ext) else ext))
    with transaction(hub.sessions) as s:
        seen_again, created = [], []
        for item, res in zip(valid, enqueue(s, source_id, valid), strict=True):
            (created if res.created else seen_again).append(item)
        updated = apply_updates(s, source_id, seen_again)
        stats["new"] += len(created)
        stats["updated"] += updated
        stats["duplicates"] += len(seen_again) - updated
        resolve_recovered(s, source_id, [i.external_id for i in created])
        for item in bad:
            quarantine(s, source_id, item.raw, item.reason, item.external_id)
        src = s.get(Source, source_id)
        assert src is not None
        if checkpoint is not None and checkpoint != src.checkpoint:
            if _moves_forward(connector, src.checkpoint, checkpoint):
                src.checkpoint = checkpoint
            else:
                stats["checkpoint_kept"] += 1
                log.info("source %s: checkpoint %r would move back from %r; kept",
                         connector.name, checkpoint, src.checkpoint)
    stats["quarantined"] += len(bad)


async def pull(hub: Hub, name: str, http: aiohttp.ClientSession,
               batch_size: int = 200) -> dict[str, Any]:
    """Run one pull of source ``name``; returns the summary `hub pull` prints.

    Raises NotPullable for an unknown or push/internal source; every other failure
    is caught, reported in the summary and recorded in the source's health."""
    source_id = hub.source_ids.get(name)
    try:
        connector = make_connector(hub, name, http)
    except NotPullable:
        raise
    except Exception as exc:  # options the checks let through but the connector refuses
        if source_id is None:
            raise
        error = f"{type(exc).__name__}: {exc}"
        log.info("source %s cannot be set up: %s", name, error)  # the caller reports it
        paused = await hub.run(_record_health, hub, name, source_id, error, [])
        return {"fetched": 0, "new": 0, "duplicates": 0, "updated": 0, "quarantined": 0,
                "errors": 1, "checkpoint_kept": 0, "source": name, "status": "error",
                "error": error, "warnings": [], "paused_until": paused, "retries": 0,
                "seconds": 0.0}
    if source_id is None:  # configured after this process started
        raise NotPullable(f"source {name!r} is not in the database yet: run `hub init`")

    def checkpoint_now() -> str | None:
        with hub.sessions() as s:
            src = s.get(Source, source_id)
            return src.checkpoint if src else None

    stats = {"fetched": 0, "new": 0, "duplicates": 0, "updated": 0, "quarantined": 0,
             "errors": 0, "checkpoint_kept": 0}
    started = time.perf_counter()
    batch: list[RawItem] = []
    bad: list[BadItem] = []
    pending: str | None = None  # the checkpoint valid once everything read so far is in
    error: str | None = None
    try:
        since = await hub.run(checkpoint_now)

        async def lookup(ids: list[str]) -> dict[str, str | None]:
            return await hub.run(_stamps, hub, source_id, ids)

        connector.known = KnownItems(lookup, await hub.run(_any_stored, hub, source_id))
        async for item in connector.fetch(since):
            if isinstance(item, Checkpoint):
                pending = item.value
                continue
            stats["fetched"] += 1
            if isinstance(item, BadItem):
                bad.append(item)
            else:
                batch.append(item)
                pending = item.checkpoint if item.checkpoint is not None else pending
            if len(batch) + len(bad) >= batch_size:
                await hub.run(_commit, hub, connector, source_id, batch, bad, pending, stats)
                batch, bad, pending = [], [], None
    except (RetryLater, Abort) as exc:
        error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a connector bug or an unforeseen fault: still one line
        error = f"{type(exc).__name__}: {exc}".strip()
        log.debug("pull of %s failed", name, exc_info=True)
    if error:
        stats["errors"] += 1
        log.info("pull of %s failed: %s", name, error)  # the caller reports it
    if batch or bad or (pending is not None and error is None):
        # what was read before an error is still queued; a checkpoint only without one
        await hub.run(_commit, hub, connector, source_id, batch, bad,
                      None if error else pending, stats)
    warnings = list(dict.fromkeys(connector.warnings))
    paused = await hub.run(_record_health, hub, name, source_id, error, warnings)
    status = "error" if error else "warning" if warnings else "ok"
    return {**stats, "source": name, "status": status, "error": error, "warnings": warnings,
            "paused_until": paused,
            "retries": connector.fetcher.retried if connector.fetcher else 0,
            "seconds": round(time.perf_counter() - started, 2)}


def _record_health(hub: Hub, name: str, source_id: int, error: str | None,
                   warnings: list[str]) -> str | None:
    with transaction(hub.sessions) as s:
        src = s.get(Source, source_id)
        assert src is not None
        now = utcnow()
        if error:
            src.last_error_at, src.last_error = now, error[:2000]
            src.consecutive_failures += 1
            src.paused_until = circuit_pause(src.consecutive_failures,
                                             hub.config.source(name).interval_seconds, now)
        else:
            src.last_success_at, src.consecutive_failures = now, 0
            src.paused_until = None
            src.last_warning = "; ".join(warnings)[:2000] if warnings else None
            if warnings:
                src.last_warning_at = now
        return src.paused_until.isoformat() if src.paused_until else None


CIRCUIT_AFTER = 3  # consecutive failed pulls before a source is paused
MAX_PAUSE = timedelta(hours=1)


def circuit_pause(failures: int, interval_seconds: int, now: datetime) -> datetime | None:
    """Open the circuit after CIRCUIT_AFTER failures: pause for the interval, doubling
    with each further failure, at most an hour. Scheduled pulls skip a paused source."""
    if failures < CIRCUIT_AFTER:
        return None
    base = timedelta(seconds=max(interval_seconds, 60))
    return now + min(base * 2 ** (failures - CIRCUIT_AFTER), MAX_PAUSE)
