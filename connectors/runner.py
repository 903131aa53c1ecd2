"""The shared runner: owns checkpoints, writes items and the checkpoint together.

Items are queued in batches; each batch's transaction also stores the checkpoint
of its last item, so a crash re-reads (replays are no-ops) rather than loses.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from connectors.base import Abort, BadItem, Connector, RawItem, RetryLater
from connectors.board import BoardConnector
from connectors.hotline import HotlineConnector
from connectors.newsapp import NewsAppConnector
from connectors.rss import RssConnector
from connectors.subplatform import SubPlatformConnector
from hub.core import Hub
from hub.db import transaction
from hub.intake_schema import ItemError, validate_item
from hub.models import Source, utcnow
from hub.queue import enqueue, quarantine
from hub.security.text import unstorable

CONNECTORS: dict[str, type[Connector]] = {c.kind: c for c in (
    HotlineConnector, NewsAppConnector, BoardConnector, RssConnector, SubPlatformConnector)}


def make_connector(hub: Hub, name: str, http: aiohttp.ClientSession) -> Connector:
    spec = hub.config.source(name)
    if spec.kind not in CONNECTORS:
        raise ValueError(f"source {name!r} is of kind {spec.kind!r}, which has no connector")
    return CONNECTORS[spec.kind](name, spec.options, http)


def _commit(hub: Hub, source_id: int, items: list[RawItem], bad: list[BadItem],
            checkpoint: str | None, stats: dict[str, int]) -> None:
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
        for res in enqueue(s, source_id, valid):
            stats["new" if res.created else "duplicates"] += 1
        for item in bad:
            quarantine(s, source_id, item.raw, item.reason, item.external_id)
        src = s.get(Source, source_id)
        assert src is not None
        if checkpoint is not None:
            src.checkpoint = checkpoint
    stats["quarantined"] += len(bad)


async def pull(hub: Hub, name: str, http: aiohttp.ClientSession,
               batch_size: int = 200) -> dict[str, Any]:
    """Run one pull of source ``name``; returns the JSON summary `hub pull` prints."""
    source_id = hub.source_ids[name]
    connector = make_connector(hub, name, http)

    def checkpoint_now() -> str | None:
        with hub.sessions() as s:
            src = s.get(Source, source_id)
            return src.checkpoint if src else None

    since = await hub.run(checkpoint_now)
    stats = {"fetched": 0, "new": 0, "duplicates": 0, "quarantined": 0, "errors": 0}
    started = time.perf_counter()
    batch: list[RawItem] = []
    bad: list[BadItem] = []
    error: str | None = None
    try:
        async for item in connector.fetch(since):
            stats["fetched"] += 1
            if isinstance(item, BadItem):
                bad.append(item)
            else:
                batch.append(item)
            if len(batch) + len(bad) >= batch_size:
                last = batch[-1].checkpoint if batch else None
                await hub.run(_commit, hub, source_id, batch, bad, last, stats)
                batch, bad = [], []
    except (RetryLater, Abort) as exc:
        stats["errors"] += 1
        error = f"{type(exc).__name__}: {exc}"
    if batch or bad:
        # what was read before an error is still queued; the checkpoint moves only
        # when the whole pull finished, to the page it ended on
        final = batch[-1].checkpoint if batch and error is None else None
        await hub.run(_commit, hub, source_id, batch, bad, final, stats)

    def health() -> str | None:
        with transaction(hub.sessions) as s:
            src = s.get(Source, source_id)
            assert src is not None
            now = utcnow()
            if error:
                src.last_error_at, src.last_error = now, error
                src.consecutive_failures += 1
                src.paused_until = circuit_pause(src.consecutive_failures,
                                                 hub.config.source(name).interval_seconds, now)
            else:
                src.last_success_at, src.consecutive_failures = now, 0
                src.paused_until = None
            return src.paused_until.isoformat() if src.paused_until else None

    paused = await hub.run(health)
    return {**stats, "source": name, "error": error, "paused_until": paused,
            "retries": connector.fetcher.retried if connector.fetcher else 0,
            "seconds": round(time.perf_counter() - started, 2)}


CIRCUIT_AFTER = 3  # consecutive failed pulls before a source is paused
MAX_PAUSE = timedelta(hours=1)


def circuit_pause(failures: int, interval_seconds: int, now: datetime) -> datetime | None:
    """Open the circuit after CIRCUIT_AFTER failures: pause for the interval, doubling
    with each further failure, at most an hour. Scheduled pulls skip a paused source."""
    if failures < CIRCUIT_AFTER:
        return None
    base = timedelta(seconds=max(interval_seconds, 60))
    return now + min(base * 2 ** (failures - CIRCUIT_AFTER), MAX_PAUSE)
