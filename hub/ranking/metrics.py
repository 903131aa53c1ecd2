"""Per-unit figures for one period, read only from timestamped rows (events,
ratings, evaluations) inside the period's bounds, so a closed period gives the
same numbers whenever it is re-run.

Definitions (what the published report states):
- assigned (交办量): cases given to the unit (交办/改派) in the period; the cohort.
- signed / replied / closed / returned / reopened / overdue: distinct cases with that
  event for the unit in the period.
- completion (办结率): share of the cohort the unit replied to before the period ended.
- on_time (按时办结率): share of the cohort replied to by the deadline: the end of the
  N-th working day after assignment (N from config: normal/hard; +extension when
  one was granted before the reply).
- reply time: working days from the latest 交办/改派/重办 to each reply in the
  period; median and 90th percentile.
- wrongful returns (错退): returns after which the case was assigned back to the
  same unit.
- satisfaction (满意率): (满意 + 基本满意) / ratings, over ratings given in the period.
- evaluations (扫码评议): per aspect, the share of 满意 and 基本满意; evaluations
  flagged as possible vote-stuffing count only once a supervisor accepted them.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from hub.config import DeadlineSpec
from hub.lifecycle.calendar import WorkCalendar
from hub.lifecycle.evaluations import ASPECTS, counted
from hub.models import Case, CaseEvent, Rating, UnitEvaluation
from hub.ranking.period import Period

START_ACTIONS = ("assign", "reassign")


@dataclass
class UnitFigures:
    assigned: int = 0
    signed: int = 0
    replied: int = 0
    closed: int = 0
    returned: int = 0
    wrongful_returns: int = 0
    reopened: int = 0
    overdue: int = 0
    completed: int = 0  # cohort replied before the end
    on_time: int = 0  # cohort replied by the deadline
    reply_days: list[float] = field(default_factory=list)
    ratings: dict[str, int] = field(default_factory=lambda: {"满意": 0, "基本满意": 0, "不满意": 0})
    evaluations: dict[str, dict[str, int]] = field(default_factory=lambda: {
        k: {"满意": 0, "基本满意": 0, "不满意": 0} for k in ASPECTS})

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())

    @property
    def satisfied(self) -> int:
        return self.ratings["满意"] + self.ratings["基本满意"]

    def reply_median(self) -> float | None:
        return round(statistics.median(self.reply_days), 3) if self.reply_days else None

    def reply_p90(self) -> float | None:
        if not self.reply_days:
            return None
        ordered = sorted(self.reply_days)
        return round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3)


def _in(period: Period, column: Any) -> Any:
    return and_(column >= period.start, column < period.end)


def collect(session: Session, period: Period, spec: DeadlineSpec,
            calendar: WorkCalendar) -> dict[int, UnitFigures]:
    figures: dict[int, UnitFigures] = defaultdict(UnitFigures)
    _event_counts(session, period, figures)
    _cohort(session, period, spec, calendar, figures)
    _reply_times(session, period, calendar, figures)
    _wrongful_returns(session, period, figures)
    for unit_id, grade, n in session.execute(
            select(Rating.unit_id, Rating.grade, func.count()).where(_in(period, Rating.at))
            .group_by(Rating.unit_id, Rating.grade)):
        if unit_id is not None and grade in figures[unit_id].ratings:
            figures[unit_id].ratings[grade] += n
    for aspect in ASPECTS:
        column = getattr(UnitEvaluation, aspect)
        for unit_id, grade, n in session.execute(
                select(UnitEvaluation.unit_id, column, func.count())
                .where(_in(period, UnitEvaluation.at), counted())
                .group_by(UnitEvaluation.unit_id, column)):
            if grade in figures[unit_id].evaluations[aspect]:
                figures[unit_id].evaluations[aspect][grade] += n
    return dict(figures)


def _merged(period: Period) -> Any:
    """Cases merged into another before the period ended: duplicates count nowhere."""
    return select(CaseEvent.case_id).where(CaseEvent.action == "merge",
                                           CaseEvent.to_state == "merged",
                                           CaseEvent.at < period.end)


def _event_counts(session: Session, period: Period, figures: dict[int, UnitFigures]) -> None:
    fields = {"assign": "assigned", "reassign": "assigned", "sign": "signed",
              "reply": "replied", "close": "closed", "return": "returned",
              "reopen": "reopened", "overdue": "overdue"}
    rows = session.execute(
        select(CaseEvent.unit_id, CaseEvent.action,
               func.count(func.distinct(CaseEvent.case_id)))
        .where(_in(period, CaseEvent.at), CaseEvent.action.in_(list(fields)),
               CaseEvent.unit_id.is_not(None), CaseEvent.case_id.not_in(_merged(period)))
        .group_by(CaseEvent.unit_id, CaseEvent.action))
    for unit_id, action, n in rows:
        target = figures[unit_id]
        setattr(target, fields[action], getattr(target, fields[action]) + n)
    # a case both assigned and reassigned to the same unit counts once
    for unit_id, n in session.execute(
            select(CaseEvent.unit_id, func.count(func.distinct(CaseEvent.case_id)))
            .where(_in(period, CaseEvent.at), CaseEvent.action.in_(START_ACTIONS),
                   CaseEvent.unit_id.is_not(None), CaseEvent.case_id.not_in(_merged(period)))
            .group_by(CaseEvent.unit_id)):
        figures[unit_id].assigned = n


def _cohort(session: Session, period: Period, spec: DeadlineSpec, calendar: WorkCalendar,
            figures: dict[int, UnitFigures]) -> None:
    """Completion and on-time for cases given to each unit in the period."""
    start = aliased(CaseEvent)
    reply = aliased(CaseEvent)
    ext = aliased(CaseEvent)
    first_reply = (select(func.min(reply.at)).where(
        reply.case_id == start.case_id, reply.action == "reply", reply.unit_id == start.unit_id,
        reply.at >= start.at, reply.at < period.end).scalar_subquery())
    granted = (select(func.count()).where(
        ext.case_id == start.case_id, ext.action == "grant_extension", ext.at >= start.at,
        ext.at < period.end).scalar_subquery())
    first_start = (select(func.min(start.id))
                   .where(_in(period, start.at), start.action.in_(START_ACTIONS),
                          start.case_id.not_in(_merged(period)))
                   .group_by(start.case_id, start.unit_id))
    rows = session.execute(
        select(start.unit_id, start.at, first_reply, granted, Case.difficulty)
        .join(Case, Case.id == start.case_id).where(start.id.in_(first_start)))
    days = spec.reply_days
    for unit_id, assigned_at, replied_at, extensions, difficulty in rows:
        if unit_id is None or replied_at is None:
            continue
        target = figures[unit_id]
        target.completed += 1
        allowed = days.get(difficulty, days["normal"]) + (days.get("extension", 0)
                                                          if extensions else 0)
        if replied_at <= calendar.add_workdays(assigned_at, allowed):
            target.on_time += 1


def _reply_times(session: Session, period: Period, calendar: WorkCalendar,
                 figures: dict[int, UnitFigures]) -> None:
    reply = aliased(CaseEvent)
    start = aliased(CaseEvent)
    began = (select(func.max(start.at)).where(
        start.case_id == reply.case_id, start.action.in_((*START_ACTIONS, "reopen")),
        start.at <= reply.at).scalar_subquery())
    for unit_id, replied_at, began_at in session.execute(
            select(reply.unit_id, reply.at, began)
            .where(_in(period, reply.at), reply.action == "reply")):
        if unit_id is not None and began_at is not None:
            figures[unit_id].reply_days.append(
                round(calendar.workdays_between(_aware(began_at), _aware(replied_at)), 3))


def _wrongful_returns(session: Session, period: Period, figures: dict[int, UnitFigures]) -> None:
    ret = aliased(CaseEvent)
    nxt = aliased(CaseEvent)
    next_assign = (select(nxt.unit_id).where(
        nxt.case_id == ret.case_id, nxt.action.in_(START_ACTIONS), nxt.id > ret.id,
        nxt.at < period.end).order_by(nxt.id).limit(1).scalar_subquery())
    for unit_id, back_to in session.execute(
            select(ret.unit_id, next_assign).where(_in(period, ret.at), ret.action == "return")):
        if unit_id is not None and back_to == unit_id:
            figures[unit_id].wrongful_returns += 1


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
