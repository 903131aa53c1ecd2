"""Pulls inside `hub serve`: each source with an interval runs on APScheduler, once per
interval across all processes (a lease row in the database that records the last
pull, renewed while the pull runs: hub/jobs.py), and not while its circuit is open.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from connectors.registry import connector_class
from connectors.runner import pull
from hub import metrics
from hub.core import Hub
from hub.jobs import acquire_lease, release_lease
from hub.models import Source, utcnow
from hub.outage import guarded, report

log = logging.getLogger(__name__)


def _paused(hub: Hub, name: str) -> datetime | None:
    with hub.sessions() as s:
        src = s.get(Source, hub.source_ids[name])
        until = src.paused_until if src else None
    return until if until and until > utcnow() else None


async def scheduled_pull(app: web.Application, name: str) -> dict[str, Any] | None:
    hub: Hub = app["hub"]
    lease = f"pull:{name}"
    every = hub.config.source(name).interval_seconds or None
    if not await hub.run(acquire_lease, hub, lease, None, None, every):
        return None  # another process is pulling this source, or did this interval
    error: str | None = None
    try:
        until = await hub.run(_paused, hub, name)
        if until is not None:
            log.info("source %s is paused until %s after repeated failures", name, until)
            metrics.PULLS.labels(name, "paused").inc()
            return None
        summary = await pull(hub, name, app["http"])
        error = summary["error"]
        metrics.PULLS.labels(name, "error" if error else "ok").inc()
        metrics.job_finished(lease, summary["seconds"], not error)
        for key, result in (("new", "new"), ("duplicates", "duplicate"),
                            ("quarantined", "quarantined")):
            metrics.PULL_ITEMS.labels(name, result).inc(summary[key])
        # the operator's line for a scheduled pull (`hub pull` prints its own)
        log.log(logging.WARNING if error or summary["warnings"] else logging.INFO,
                "pulled %s: %s", name, {k: summary[k] for k in (
                    "new", "duplicates", "quarantined", "error", "warnings")})
        return summary
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        metrics.PULLS.labels(name, "error").inc()
        raise
    finally:
        try:
            await hub.run(release_lease, hub, lease, error)
        except Exception as exc:  # the lease then expires by itself
            report(exc, f"releasing lease {lease}", log)


def add_pull_jobs(scheduler: AsyncIOScheduler, app: web.Application) -> list[str]:
    hub: Hub = app["hub"]
    names = []
    for spec in hub.config.sources:
        if connector_class(spec.kind) is not None and spec.interval_seconds > 0 and spec.enabled:

            async def run(name: str = spec.name) -> None:
                await scheduled_pull(app, name)

            scheduler.add_job(guarded(f"pull:{spec.name}", run), "interval",
                              seconds=spec.interval_seconds, id=f"pull:{spec.name}",
                              next_run_time=datetime.now(scheduler.timezone)
                              + timedelta(seconds=2), max_instances=1, coalesce=True)
            names.append(spec.name)
    return names
