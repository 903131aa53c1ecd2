"""Pulls inside `hub serve`: each source with an interval runs on APScheduler, in one
process at a time (a lease row in the database), and not while its circuit is open.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from connectors.registry import connector_class
from connectors.runner import pull
from hub.core import Hub
from hub.models import Source, utcnow
from hub.scheduler import acquire_lease, release_lease, stops_quietly

log = logging.getLogger(__name__)


def _paused(hub: Hub, name: str) -> datetime | None:
    with hub.sessions() as s:
        src = s.get(Source, hub.source_ids[name])
        until = src.paused_until if src else None
    return until if until and until > utcnow() else None


@stops_quietly
async def scheduled_pull(app: web.Application, name: str) -> dict[str, Any] | None:
    hub: Hub = app["hub"]
    lease = f"pull:{name}"
    if not await hub.run(acquire_lease, hub, lease, timedelta(minutes=30)):
        return None  # another process is pulling this source
    try:
        until = await hub.run(_paused, hub, name)
        if until is not None:
            log.info("source %s is paused until %s after repeated failures", name, until)
            return None
        summary = await pull(hub, name, app["http"])
        log.info("pulled %s: %s", name, {k: summary[k] for k in ("new", "duplicates",
                                                               "quarantined", "error")})
        return summary
    finally:
        await hub.run(release_lease, hub, lease)


def add_pull_jobs(scheduler: AsyncIOScheduler, app: web.Application) -> list[str]:
    hub: Hub = app["hub"]
    names = []
    for spec in hub.config.sources:
        if connector_class(spec.kind) is not None and spec.interval_seconds > 0 and spec.enabled:
            scheduler.add_job(scheduled_pull, "interval", args=[app, spec.name],
                              seconds=spec.interval_seconds, id=f"pull:{spec.name}",
                              next_run_time=datetime.now(scheduler.timezone)
                              + timedelta(seconds=2), max_instances=1, coalesce=True)
            names.append(spec.name)
    return names
