"""Staged warnings (分级预警): reminders as a case uses up its allowed time.

deadlines.toml lists the stages ([[warnings]]: share of the allowed working time and
who hears of it; by default 50 % to the unit's handlers, 80 % to its head, 100 % to
the supervisors). Whenever a case's deadline is set (assignment, extension, 重办,
resume after a pause) its clock starts again: ``on_move`` records the start and the
moment the first stage falls due. The scheduled check (``send_due``, run with the
deadline check) sends every stage whose moment has passed: a Reminder row for the
audience, an event on the case history, and the moment of the next stage. Work is
bounded by the partial index on ``next_warning_at`` over open work: the check
reads only cases with a warning due, however many cases are open.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text, update

from hub.config_norms import WarningStage
from hub.lifecycle.states import OPEN_WORK_SQL
from hub.models import Case, CaseEvent, Reminder, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.lifecycle.calendar import WorkCalendar
    from hub.lifecycle.service import CaseService

SYSTEM = "system:staged-warnings"
BATCH = 2_000  # cases per check; the rest wait for the next run


def stage_moment(calendar: WorkCalendar, stages: tuple[WarningStage, ...], start: datetime,
                 deadline: datetime | None, index: int) -> datetime | None:
    """When stage ``index`` falls due for a clock from ``start`` to ``deadline``."""
    if deadline is None or index >= len(stages):
        return None
    share = stages[index].share
    if share >= 1:
        return deadline
    total = calendar.workdays_between(start, deadline)
    return calendar.moment_after(start, share * total)


def clock(svc: CaseService, deadline: datetime | None, now: datetime) -> dict[str, Any]:
    """A case's warning columns for a deadline set at ``now``."""
    stages = svc.config.deadlines.norms.warnings
    return {"clock_started_at": now if deadline else None, "warning_stage": 0,
            "next_warning_at": stage_moment(svc.calendar, stages, now, deadline, 0)}


def on_move(svc: CaseService, case: Case, values: dict[str, Any], now: datetime) -> None:
    """CaseService._move's hook: a new deadline restarts the warning clock."""
    if "deadline_at" in values and values["deadline_at"] != case.deadline_at:
        values.update(clock(svc, values["deadline_at"], now))


def send_due(session: Session, svc: CaseService, now: datetime | None = None) -> int:
    """Send the stages that fell due (see the module's docstring); returns how many."""
    now = now or utcnow()
    stages = svc.config.deadlines.norms.warnings
    rows = session.execute(
        select(Case.id, Case.unit_id, Case.state, Case.clock_started_at, Case.deadline_at,
               Case.warning_stage)
        .where(text(f"work_order.{OPEN_WORK_SQL}"), Case.next_warning_at <= now)
        .order_by(Case.next_warning_at).limit(BATCH)).all()
    sent = 0
    for case_id, unit_id, state, start, deadline, index in rows:
        start = start or now
        moment = stage_moment(svc.calendar, stages, start, deadline, index)
        while moment is not None and moment <= now:
            stage = stages[index]
            session.add(Reminder(case_id=case_id, unit_id=unit_id, audience=stage.audience,
                                 share=stage.share, deadline_at=deadline, at=now))
            session.add(CaseEvent(case_id=case_id, at=now, actor=SYSTEM, action="warn",
                                  from_state=state, to_state=state, unit_id=unit_id,
                                  deadline_at=deadline, note=stage.label))
            sent += 1
            index += 1
            moment = stage_moment(svc.calendar, stages, start, deadline, index)
        session.execute(update(Case).where(Case.id == case_id).values(
            warning_stage=index, next_warning_at=moment, updated_at=now)
            .execution_options(synchronize_session=False))
    return sent


def share_used(case: Any, stages: tuple[WarningStage, ...]) -> int | None:
    """The share (in %) of the last stage sent, for the inbox's badge."""
    index = getattr(case, "warning_stage", 0) or 0
    return round(stages[index - 1].share * 100) if 0 < index <= len(stages) else None
