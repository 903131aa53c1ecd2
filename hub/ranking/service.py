"""Ranking a period: the one use case behind `hub rank`, the weekly job and the site.

A closed period's report is stored the first time it is made and published as
stored; re-running recomputes from the same event log and gives the same bytes
(the tests check it), but does not rewrite what was published. Reports stored by
an earlier version (another layout and method) stay published as they were; asked
for again, such a period is computed afresh for the files, and not stored.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from hub import topics
from hub.core import Hub
from hub.db import transaction
from hub.jobs import run_once_per_period
from hub.lifecycle.calendar import WorkCalendar
from hub.models import utcnow
from hub.ranking.period import Period, last_full_week, parse_period
from hub.ranking.publish import write_files
from hub.ranking.report import build_report, is_current, store, stored

log = logging.getLogger(__name__)
HOT_ISSUE_KINDS = ("week", "month")  # clustering a year of appeals is left to offline work


def compute(session: Session, hub: Hub, period: Period) -> dict[str, Any]:
    calendar = WorkCalendar(hub.config.deadlines)
    before = period.previous()
    previous = stored(session, before.label)
    if not is_current(previous):
        previous = build_report(session, hub.config, before, calendar, with_hot_issues=False)
    return build_report(session, hub.config, period, calendar, previous=previous,
                        with_hot_issues=period.kind in HOT_ISSUE_KINDS)


def rank(hub: Hub, label: str, out_dir: Path | None = None, recompute: bool = False,
         now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    period = parse_period(label, WorkCalendar(hub.config.deadlines).tz)
    closed = period.end <= now
    topics.assign_backlog(hub.sessions)  # hot issues aggregate every opened appeal's topic
    with transaction(hub.sessions) as s:
        kept = stored(s, period.label)
        payload = None if recompute or not is_current(kept) else kept
        if payload is None:
            payload = compute(s, hub, period)
            if closed and kept is None:
                store(s, payload, now)
            elif kept is not None and not is_current(kept):
                log.warning("the report published for %s uses an earlier layout; it stays "
                            "published, the files are computed afresh", period.label)
    if out_dir is not None:
        write_files(payload, out_dir)
    return payload


def weekly_job(hub: Hub, now: datetime | None = None) -> dict[str, Any] | None:
    """Monday morning: rank last week once across all processes, write the files."""
    period = last_full_week(now or utcnow(), WorkCalendar(hub.config.deadlines).tz)

    topics.assign_backlog(hub.sessions)  # hot issues aggregate every opened appeal's topic

    def work(session: Session) -> dict[str, Any]:
        kept = stored(session, period.label)
        payload = kept if is_current(kept) else compute(session, hub, period)
        if kept is None:
            store(session, payload, utcnow())
        paths = write_files(payload, hub.settings.var_dir / "reports")
        log.info("ranking for %s published: %s", period.label, [p.name for p in paths])
        return {"period": period.label, "ranked": sum(1 for e in payload["entries"]
                                                      if e["rank"] is not None)}

    return run_once_per_period(hub, "weekly-ranking", period.label, work)
