"""The deadline check: mark cases 临期 (due soon) and 超期 (overdue), urge overdue
ones once per day, and escalate repeatedly urged ones to supervisors.

Set-based SQL (UPDATE ... RETURNING, then one INSERT of events) so a million open
cases cost a few statements, not a million round trips. Each changed case gets
its version bumped, so a form opened before the check must be reloaded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, update
from sqlalchemy.orm import Session

from hub.config import DeadlineSpec
from hub.lifecycle.calendar import WorkCalendar
from hub.lifecycle.states import OPEN_WORK
from hub.models import Case, CaseEvent, utcnow

SYSTEM = "system:deadline-check"


def _events(session: Session, rows: list[Any], action: str, note: str,
            now: datetime) -> None:
    if rows:
        session.execute(insert(CaseEvent), [
            {"case_id": r.id, "at": now, "actor": SYSTEM, "action": action,
             "from_state": r.state, "to_state": r.state, "unit_id": r.unit_id, "note": note}
            for r in rows])


def check_deadlines(session: Session, spec: DeadlineSpec, calendar: WorkCalendar,
                    now: datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    open_work = Case.state.in_(OPEN_WORK)
    returning = (Case.id, Case.state, Case.unit_id, Case.urge_count, Case.escalated)
    bump = {"updated_at": now, "version": Case.version + 1}

    overdue = list(session.execute(
        update(Case).where(open_work, Case.deadline_at < now, Case.due_state != "overdue")
        .values(due_state="overdue", **bump).returning(*returning)))
    _events(session, overdue, "overdue", "已超过办理期限", now)

    soon_limit = calendar.add_workdays(now, spec.due_soon_days)
    due_soon = list(session.execute(
        update(Case).where(open_work, Case.due_state == "ok", Case.deadline_at >= now,
                           Case.deadline_at <= soon_limit)
        .values(due_state="due_soon", **bump).returning(*returning)))
    _events(session, due_soon, "due_soon", f"{spec.due_soon_days}个工作日内到期", now)

    urged = list(session.execute(
        update(Case).where(open_work, Case.due_state == "overdue", or_(
            Case.last_urged_at.is_(None), Case.last_urged_at <= now - timedelta(hours=23)))
        .values(urge_count=Case.urge_count + 1, last_urged_at=now, **bump)
        .returning(*returning)))
    _events(session, urged, "urge", "超期自动催办", now)

    escalated = list(session.execute(
        update(Case).where(open_work, Case.escalated.is_(False), and_(
            Case.due_state == "overdue", Case.urge_count >= spec.escalate_after_urges))
        .values(escalated=True, **bump).returning(*returning)))
    _events(session, escalated, "escalate",
            f"超期催办{spec.escalate_after_urges}次以上, 升级至督办人员", now)
    return {"overdue": len(overdue), "due_soon": len(due_soon), "urged": len(urged),
            "escalated": len(escalated)}
