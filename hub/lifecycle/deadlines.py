"""The deadline check: mark cases 临期 (due soon) and 超期 (overdue), urge overdue
ones once per day, and escalate repeatedly urged ones to supervisors.

Set-based SQL (an UPDATE and an INSERT ... SELECT of the events per step, inside
the database) so a million open cases cost a few statements and no rows in Python.
Each changed case gets its version bumped, so a form opened before the check must
be reloaded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, literal, or_, select, text, update
from sqlalchemy.orm import Session

from hub.config import DeadlineSpec
from hub.db import is_postgres
from hub.lifecycle.calendar import WorkCalendar
from hub.lifecycle.states import OPEN_WORK_SQL
from hub.models import Case, CaseEvent, utcnow

SYSTEM = "system:deadline-check"


def check_deadlines(session: Session, spec: DeadlineSpec, calendar: WorkCalendar,
                    now: datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    # written out so SQLite uses the partial index on open work's deadlines
    open_work = text(f"work_order.{OPEN_WORK_SQL}")
    bump = {"updated_at": now, "version": Case.version + 1}

    overdue = _mark(session, and_(open_work, Case.deadline_at < now,
                                  Case.due_state != "overdue"),
                    {"due_state": "overdue", **bump}, "overdue", "已超过办理期限", now)
    soon_limit = calendar.add_workdays(now, spec.due_soon_days)
    due_soon = _mark(session, and_(open_work, Case.due_state == "ok", Case.deadline_at >= now,
                                   Case.deadline_at <= soon_limit),
                     {"due_state": "due_soon", **bump}, "due_soon",
                     f"{spec.due_soon_days}个工作日内到期", now)
    urged = _mark(session, and_(open_work, Case.due_state == "overdue", or_(
        Case.last_urged_at.is_(None), Case.last_urged_at <= now - timedelta(hours=23))),
        {"urge_count": Case.urge_count + 1, "last_urged_at": now, **bump}, "urge",
        "超期自动催办", now)
    escalated = _mark(session, and_(open_work, Case.escalated.is_(False),
                                    Case.due_state == "overdue",
                                    Case.urge_count >= spec.escalate_after_urges),
                      {"escalated": True, **bump}, "escalate",
                      f"超期催办{spec.escalate_after_urges}次以上, 升级至督办人员", now)
    return {"overdue": overdue, "due_soon": due_soon, "urged": urged, "escalated": escalated}


def _mark(session: Session, where: Any, values: dict[str, Any], action: str, note: str,
          now: datetime) -> int:
    """Update the matching cases and log one event each, inside the database: no rows
    travel to Python, so a million open cases cost two statements, not a million
    objects. PostgreSQL does both in one statement (a data-modifying CTE); SQLite,
    whose write lock the transaction already holds, logs first and then updates."""
    cols = ["case_id", "at", "actor", "action", "from_state", "to_state", "unit_id", "note"]
    consts = [literal(now, type_=CaseEvent.__table__.c.at.type), literal(SYSTEM),
              literal(action), ]
    if is_postgres(session):
        changed = (update(Case).where(where).values(**values)
                   .returning(Case.id, Case.state, Case.unit_id).cte("changed"))
        rows = select(changed.c.id, *consts, changed.c.state, changed.c.state,
                      changed.c.unit_id, literal(note))
        logged = (insert(CaseEvent).from_select(cols, rows).returning(CaseEvent.id)
                  .cte("logged"))
        return int(session.scalar(select(func.count()).select_from(logged)) or 0)
    rows = select(Case.id, *consts, Case.state, Case.state, Case.unit_id,
                  literal(note)).where(where)
    logged = session.execute(insert(CaseEvent).from_select(cols, rows)).rowcount  # type: ignore[attr-defined]
    session.execute(update(Case).where(where).values(**values)
                    .execution_options(synchronize_session=False))
    return int(logged)
