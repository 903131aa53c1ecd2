"""APScheduler 3 inside ``hub serve``, one in-memory job store per process.

Job stores are never shared between processes; instead every run is guarded in
the database: interval jobs by a lease row (one holder at a time, expiring if the
holder dies), calendar jobs by a unique (job, period) row so a week's ranking is
made once however many processes wake up on Monday.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import or_, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.core import Hub
from hub.db import insert_ignoring_conflicts, is_postgres, transaction
from hub.models import JobLease, JobRun, utcnow

log = logging.getLogger(__name__)


def stops_quietly(job: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A scheduled coroutine that ends without a traceback when shutdown cancels it
    (APScheduler logs any BaseException from a job as a crash; Ctrl-C is not one).
    The job's own lease and transaction make an interrupted run safe to repeat."""

    @functools.wraps(job)
    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return await job(*args, **kwargs)
        except asyncio.CancelledError:
            log.info("%s interrupted by shutdown", getattr(job, "__name__", "job"))
            return None

    return run


def acquire_lease(hub: Hub, name: str, ttl: timedelta, now: datetime | None = None) -> bool:
    """Take the named lease if it is free or expired; True when this process holds it."""
    now = now or utcnow()
    holder = hub.settings.instance_name
    with transaction(hub.sessions) as s:
        insert_ignoring_conflicts(s, JobLease.__table__, [{"name": name, "holder": None,
                                                           "until": None}], ["name"],
                                  [JobLease.__table__.c.name])
        got = s.execute(update(JobLease).where(
            JobLease.name == name,
            or_(JobLease.until.is_(None), JobLease.until < now, JobLease.holder == holder))
            .values(holder=holder, until=now + ttl).returning(JobLease.name)).first()
    return got is not None


def release_lease(hub: Hub, name: str) -> None:
    with transaction(hub.sessions) as s:
        s.execute(update(JobLease).where(JobLease.name == name,
                                         JobLease.holder == hub.settings.instance_name)
                  .values(until=None, holder=None))


def run_exclusive(hub: Hub, name: str, ttl: timedelta, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` only if no other process is running the same job right now."""
    if not acquire_lease(hub, name, ttl):
        log.debug("job %s is running elsewhere; skipped", name)
        return None
    try:
        return fn()
    finally:
        release_lease(hub, name)


def run_once_per_period(hub: Hub, job: str, period: str,
                        fn: Callable[[Session], dict[str, Any]]) -> dict[str, Any] | None:
    """Claim (job, period) with a unique row; the work and its result commit together."""
    try:
        with transaction(hub.sessions) as s:
            run = JobRun(job=job, period=period, holder=hub.settings.instance_name)
            s.add(run)
            s.flush()
    except IntegrityError:
        log.info("%s for %s already ran or is running", job, period)
        return None
    try:
        with transaction(hub.sessions) as s:
            result = fn(s)
            s.execute(update(JobRun).where(JobRun.id == run.id)
                      .values(finished_at=utcnow(), result=result))
        return result
    except Exception:
        with transaction(hub.sessions) as s:  # free the period so a later run can retry
            s.query(JobRun).filter(JobRun.id == run.id).delete()
        raise


def deadline_job(hub: Hub) -> dict[str, int] | None:
    from hub.lifecycle.calendar import WorkCalendar
    from hub.lifecycle.deadlines import check_deadlines

    calendar = WorkCalendar(hub.config.deadlines)

    def work() -> dict[str, int]:
        with transaction(hub.sessions) as s:
            result = check_deadlines(s, hub.config.deadlines, calendar)
            if not is_postgres(s):
                # SQLite plans from statistics only ANALYZE writes; the job has just
                # changed how many cases are late, which decides whether the 临期/超期
                # view reads its own index (well under a second at a million cases)
                s.execute(text("ANALYZE work_order"))
        log.info("deadline check: %s", result)
        return result

    return run_exclusive(hub, "deadline-check", timedelta(minutes=30), work)


def search_index_job(hub: Hub) -> int | None:
    """Index the appeals the pipeline has opened cases for since the last run."""
    from hub import search

    return run_exclusive(hub, "search-index", timedelta(minutes=10),
                         lambda: search.index_backlog(hub.sessions, limit=100_000))


def build_scheduler(app: web.Application) -> AsyncIOScheduler:
    hub: Hub = app["hub"]
    scheduler = AsyncIOScheduler(timezone=hub.config.deadlines.timezone)
    # a line per run of a 5-second job drowns the log; failures are still logged
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)

    @stops_quietly
    async def deadlines() -> None:
        await hub.run(deadline_job, hub)

    scheduler.add_job(deadlines, "interval", minutes=10, id="deadline-check",
                      next_run_time=datetime.now(scheduler.timezone) + timedelta(seconds=20),
                      max_instances=1, coalesce=True)

    @stops_quietly
    async def search_index() -> None:
        await hub.run(search_index_job, hub)

    # search trails routing by seconds: indexing is kept off the pipeline's path
    scheduler.add_job(search_index, "interval", seconds=5, id="search-index",
                      max_instances=1, coalesce=True)

    @stops_quietly
    async def ranking() -> None:
        from hub.ranking.service import weekly_job

        await hub.run(weekly_job, hub)

    # Monday 06:30 for the week before; a process that starts later in the week
    # catches up at once (the (job, period) row keeps it to one run)
    scheduler.add_job(ranking, "cron", day_of_week="mon", hour=6, minute=30, id="weekly-ranking",
                      max_instances=1, coalesce=True, misfire_grace_time=6 * 86400)
    scheduler.add_job(ranking, "date", id="weekly-ranking-catch-up",
                      run_date=datetime.now(scheduler.timezone) + timedelta(seconds=60))
    def retrain_job() -> dict[str, Any] | None:
        from zoneinfo import ZoneInfo

        from classifiers.retrain import retrain
        from hub.ranking.period import period_containing

        tz = ZoneInfo(hub.config.deadlines.timezone)
        week = period_containing(datetime.now(tz).date(), "week", tz).label
        return run_once_per_period(hub, "router-retrain", week, lambda _s: retrain(hub))

    @stops_quietly
    async def retrain_async() -> None:
        await hub.run(retrain_job)

    # Sunday night: the week's corrections go into a candidate model (kept only if
    # it does at least as well on held-back corrections); pipelines reload it
    scheduler.add_job(retrain_async, "cron", day_of_week="sun", hour=2, id="router-retrain",
                      max_instances=1, coalesce=True, misfire_grace_time=3 * 86400)
    from connectors.schedule import add_pull_jobs

    add_pull_jobs(scheduler, app)
    for extra in app.get("scheduled_jobs", []):
        extra(scheduler, app)
    return scheduler
