"""Surges in the published hot-issue report (热点问题).

Callers linked to a surge's carrying case are merged cases, which the report's own
clustering leaves out (a duplicate counts once); without this a hot event with
thousands of callers would show as one case. Each surge with callers in the period
becomes a hot issue of its own: its label (words callers share, stored when it was
raised), its callers in the period, the carrying case and caller case numbers. No
text, names or phone numbers: the same rule as the rest of the report.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.config import CityConfig
from hub.models import Appeal, AppealCluster, Case, Surge
from hub.ranking.period import Period

MAX_NUMBERS = 50  # caller case numbers listed per surge, as for other hot issues


def surge_issues(session: Session, period: Period, config: CityConfig) -> list[dict[str, Any]]:
    counties = {c.code: c.name for c in config.counties}
    issues = []
    surges = session.execute(
        select(Surge.id, Surge.cluster_id, Surge.label, Surge.county_code, Surge.category,
               Surge.raised_at, Surge.state, Case.number)
        .join(Case, Case.id == Surge.case_id)
        .join(AppealCluster, AppealCluster.id == Surge.cluster_id)
        .where(Surge.raised_at < period.end, AppealCluster.last_at >= period.start)
        .order_by(Surge.id)).all()
    for s in surges:
        in_period = (Appeal.cluster_id == s.cluster_id, Appeal.received_at >= period.start,
                     Appeal.received_at < period.end)
        volume, channels, votes, first, last = session.execute(
            select(func.count(), func.count(func.distinct(Appeal.source_id)),
                   func.coalesce(func.sum(Appeal.votes), 0), func.min(Appeal.received_at),
                   func.max(Appeal.received_at)).where(*in_period)).one()
        if not volume:
            continue
        numbers = list(session.scalars(
            select(Case.number).join(Appeal, Appeal.id == Case.appeal_id).where(*in_period)
            .order_by(Case.number).limit(MAX_NUMBERS)))
        issues.append({
            "county": counties.get(s.county_code or "", "全市"),
            "category": s.category or "未分类", "label": s.label, "volume": int(volume),
            "channels": int(channels), "votes": int(votes),
            "first": first.isoformat(), "last": last.isoformat(), "cases": numbers,
            "surge": {"raised_at": s.raised_at.isoformat(), "case": s.number,
                      "callers": int(volume), "state": s.state},
        })
    return issues
