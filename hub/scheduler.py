"""APScheduler 3 inside ``hub serve``, one in-memory job store per process.

Job stores are never shared between processes; every run is guarded in the
database instead (hub/jobs.py): interval jobs by a lease row that is renewed while
the job runs and records when it last started, so each runs once per interval
across all processes and a dead process's job is taken over within
``HUB_LEASE_SECONDS``; calendar jobs by a unique (job, period) row so a week's
ranking is made once however many processes wake up on Monday.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text

from hub.core import Hub
from hub.db import is_postgres, transaction
from hub.jobs import run_exclusive, run_once_per_period
from hub.outage import guarded

log = logging.getLogger(__name__)
DEADLINE_EVERY = 600.0  # seconds
SEARCH_INDEX_EVERY = 5.0
TOPIC_EVERY = 10.0
RETENTION_EVERY = 86_400.0


def deadline_job(hub: Hub, every: float | None = None) -> dict[str, int] | None:
    """Mark due-soon and overdue cases (once per ``every`` seconds across processes)."""
    from hub.lifecycle.calendar import WorkCalendar
    from hub.lifecycle.deadlines import check_deadlines
    from hub.lifecycle.service import CaseService
    from hub.lifecycle.warnings import send_due

    calendar = WorkCalendar(hub.config.deadlines)

    def work() -> dict[str, int]:
        with transaction(hub.sessions) as s:
            result = check_deadlines(s, hub.config.deadlines, calendar)
            result["warned"] = send_due(s, CaseService(hub.config, hub.unit_ids))
            if not is_postgres(s):
                # SQLite plans from statistics only ANALYZE writes; the job has just
                # changed how many cases are late, which decides whether the 临期/超期
                # view reads its own index (well under a second at a million cases)
                s.execute(text("ANALYZE work_order"))
        log.info("deadline check: %s", result)
        return result

    return run_exclusive(hub, "deadline-check", work, every=every)  # type: ignore[no-any-return]


def _batch(hub: Hub, size: int) -> int:
    """A background job's batch per write transaction. On SQLite each holds the file's
    one write lock, and the intake waits for the transaction running when it asks
    (hub/db.py WriteGate): a timing probe of the soak showed the topic job holding it
    111 ms on average (408 ms at worst) and the index 69 ms (226 ms) at full batches,
    enough for the intake's p99; a tenth of the batch holds it a tenth as long."""
    return size if is_postgres(hub.engine) else max(1, size // 10)


def search_index_job(hub: Hub, every: float | None = None) -> int | None:
    """Index the appeals the pipeline has opened cases for since the last run."""
    from hub import search

    return run_exclusive(hub, "search-index",  # type: ignore[no-any-return]
                         lambda: search.index_backlog(hub.sessions, batch=_batch(hub, 200),
                                                      limit=100_000), every=every)


def topic_job(hub: Hub, every: float | None = None) -> int | None:
    """Decide the topic (hot-issue matter) of the appeals opened since the last run."""
    from hub import topics
    from hub.models import utcnow

    def work() -> int:
        done = topics.assign_backlog(hub.sessions, batch=_batch(hub, 500),
                                     limit=50_000).appeals
        with transaction(hub.sessions) as s:
            topics.prune(s, utcnow())
        return done

    return run_exclusive(hub, "topic-index", work, every=every)  # type: ignore[no-any-return]


def retention_job(hub: Hub, every: float | None = None) -> dict[str, int] | None:
    """Anonymise contact details of cases closed more than HUB_RETENTION_MONTHS ago."""
    from hub.erasure import apply_retention

    if hub.settings.retention_months <= 0:
        return None
    return run_exclusive(hub, "privacy-retention",  # type: ignore[no-any-return]
                         lambda: apply_retention(hub), every=every)


def interval_jobs(hub: Hub) -> set[str]:
    """The lease names of the interval jobs this configuration schedules."""
    names = {"deadline-check", "search-index", "topic-index"}
    if hub.settings.retention_months > 0:
        names.add("privacy-retention")
    from connectors.registry import connector_class

    names.update(f"pull:{s.name}" for s in hub.config.sources
                 if connector_class(s.kind) is not None and s.interval_seconds > 0 and s.enabled)
    return names


def build_scheduler(app: web.Application) -> AsyncIOScheduler:
    hub: Hub = app["hub"]
    scheduler = AsyncIOScheduler(timezone=hub.config.deadlines.timezone)
    now = datetime.now(scheduler.timezone)

    def interval(name: str, fn: Callable[[], Awaitable[Any]], seconds: float,
                 first: float | None = None) -> None:
        scheduler.add_job(guarded(name, fn), "interval", seconds=seconds, id=name,
                          next_run_time=now + timedelta(seconds=first if first is not None
                                                        else seconds),
                          max_instances=1, coalesce=True)

    from hub.health import SCHEDULER_TICK_SECONDS

    async def beat() -> None:
        app["scheduler_beat"].tick()

    interval("scheduler-beat", beat, SCHEDULER_TICK_SECONDS, first=0)
    interval("deadline-check", lambda: hub.run(deadline_job, hub, DEADLINE_EVERY),
             DEADLINE_EVERY, first=20)
    # search trails routing by seconds: indexing is kept off the pipeline's path
    interval("search-index", lambda: hub.run(search_index_job, hub, SEARCH_INDEX_EVERY),
             SEARCH_INDEX_EVERY)
    # topics trail routing too: the weekly report only aggregates them
    interval("topic-index", lambda: hub.run(topic_job, hub, TOPIC_EVERY), TOPIC_EVERY)
    # the lease records the day's run: the timer only asks every half hour
    interval("privacy-retention", lambda: hub.run(retention_job, hub, RETENTION_EVERY),
             1800, first=300)

    async def ranking() -> None:
        from hub.ranking.service import weekly_job

        await hub.run(weekly_job, hub)

    # Monday 06:30 for the week before; a process that starts later in the week
    # catches up at once (the (job, period) row keeps it to one run)
    scheduler.add_job(guarded("weekly-ranking", ranking), "cron", day_of_week="mon", hour=6,
                      minute=30, id="weekly-ranking", max_instances=1, coalesce=True,
                      misfire_grace_time=6 * 86400)
    scheduler.add_job(guarded("weekly-ranking", ranking), "date", id="weekly-ranking-catch-up",
                      run_date=now + timedelta(seconds=60))

    def retrain_job() -> dict[str, Any] | None:
        from zoneinfo import ZoneInfo

        from classifiers.retrain import retrain
        from hub.ranking.period import period_containing

        tz = ZoneInfo(hub.config.deadlines.timezone)
        week = period_containing(datetime.now(tz).date(), "week", tz).label
        return run_once_per_period(hub, "router-retrain", week, lambda _s: retrain(hub))

    async def retrain_async() -> None:
        await hub.run(retrain_job)

    # Sunday night: the week's corrections go into a candidate model (kept only if
    # it does at least as well on held-back corrections); pipelines reload it
    scheduler.add_job(guarded("router-retrain", retrain_async), "cron", day_of_week="sun",
                      hour=2, id="router-retrain", max_instances=1, coalesce=True,
                      misfire_grace_time=3 * 86400)
    from connectors.schedule import add_pull_jobs

    add_pull_jobs(scheduler, app)
    for extra in app.get("scheduled_jobs", []):
        extra(scheduler, app)
    return scheduler
