"""Joint handling (主办/协办): one lead unit, co-handling units with sub-tasks.

The case's unit is the lead (主办单位): it signs, replies to the citizen once and is
ranked on the case as on any other. A dispatcher or supervisor asks another unit to
co-handle (协办) part of it: a sub-task with its own deadline (``reply_days.cohandle``
working days, deadlines.toml). The co-handling unit sees the appeal and its task on
its 协办 page and answers the lead unit, never the citizen; the lead reads every
answer on the case page before replying. Rankings count each co-handling unit's
sub-tasks that fell due in the period and how many it answered in time
(hub/ranking/metrics.py); the lead's work is counted on the case.

Co-handlers never see the citizen's contact details and are not given the case page:
unit isolation stays as it is, keyed on the case's unit.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hub.lifecycle.states import OPEN_WORK
from hub.models import Appeal, Case, CaseEvent, CoTask, Unit, utcnow
from hub.privacy import mask_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.lifecycle.service import CaseService

OPEN, ANSWERED = "open", "answered"
TASK_LIMIT, ANSWER_LIMIT = 500, 4000


def add(svc: CaseService, session: Session, case_id: int, actor: str, unit_code: str,
        task: str, expected_version: int | None = None,
        now: datetime | None = None) -> Case:
    """协办交办: ask ``unit_code`` to co-handle ``task`` on an open case."""
    from hub.lifecycle.service import CaseError, Conflict

    now = now or utcnow()
    task = (task or "").strip()
    if len(task) < 2:
        raise CaseError("请写明协办事项")
    if len(task) > TASK_LIMIT:
        raise CaseError(f"协办事项最多 {TASK_LIMIT} 字")
    unit_id = svc._unit_id(unit_code)
    case = svc.load(session, case_id)
    if case.state not in OPEN_WORK:
        raise CaseError("只有在办的工单可以交办协办")
    if case.unit_id == unit_id:
        raise CaseError("协办单位不能是主办单位")
    if session.scalar(select(CoTask.id).where(CoTask.case_id == case_id,
                                              CoTask.unit_id == unit_id,
                                              CoTask.state == OPEN)):
        raise Conflict("该单位已有未完成的协办任务")
    kind = "cohandle" if "cohandle" in svc.config.deadlines.reply_days else "normal"
    deadline = svc.deadline(now, kind)
    session.add(CoTask(case_id=case_id, unit_id=unit_id, task=task, deadline_at=deadline,
                       created_at=now))
    # the event names the co-handling unit (rankings count no "cohandle" event)
    return svc._move(session, case, "cohandle", actor, note=task[:200],
                     expected_version=expected_version, now=now, event_unit=unit_id)


def answer(session: Session, task_id: int, unit_id: int | None, actor: str, body: str,
           now: datetime | None = None) -> CoTask:
    """协办回复: the co-handling unit answers the lead unit (once)."""
    from hub.lifecycle.service import CaseError, Conflict, NotFound

    now = now or utcnow()
    task = session.get(CoTask, task_id)
    if task is None or unit_id is None or task.unit_id != unit_id:
        raise NotFound("找不到协办任务")  # the same answer for another unit's task
    body = (body or "").strip()
    if len(body) < 5:
        raise CaseError("协办意见太短，请写明办理情况")
    if len(body) > ANSWER_LIMIT:
        raise CaseError(f"协办意见最多 {ANSWER_LIMIT} 字")
    if task.state != OPEN:
        raise Conflict("这项协办任务已经回复过了")
    task.state, task.answer, task.answered_at, task.answered_by = ANSWERED, body, now, actor
    case = session.get(Case, task.case_id)
    assert case is not None
    session.add(CaseEvent(case_id=task.case_id, at=now, actor=actor, action="cohandle_answer",
                          from_state=case.state, to_state=case.state, unit_id=unit_id,
                          deadline_at=case.deadline_at, note=body[:200]))
    session.flush()
    return task


def tasks_of_case(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The case's co-handling tasks for its page, oldest first (the page masks the
    text as it masks the rest of the case for the viewer)."""
    rows = session.execute(select(CoTask, Unit.name).join(Unit, Unit.id == CoTask.unit_id)
                           .where(CoTask.case_id == case_id).order_by(CoTask.id))
    return [{"id": t.id, "unit": name, "task": t.task, "deadline_at": t.deadline_at,
             "state": t.state, "late": (t.answered_at or utcnow()) > t.deadline_at,
             "answer": t.answer, "answered_at": t.answered_at} for t, name in rows]


def tasks_of_unit(session: Session, unit_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """A unit's co-handling tasks: open ones by deadline, then the latest answered."""
    rows = session.execute(
        select(CoTask, Case.number, Appeal.title, Appeal.contact_name, Appeal.contact_phone)
        .join(Case, Case.id == CoTask.case_id).join(Appeal, Appeal.id == Case.appeal_id)
        .where(CoTask.unit_id == unit_id)
        .order_by((CoTask.state == OPEN).desc(), CoTask.deadline_at).limit(limit))
    return [{"id": t.id, "number": number, "title": mask_text(title, (name, phone)),
             "task": mask_text(t.task, (name, phone)), "deadline_at": t.deadline_at,
             "state": t.state, "answered_at": t.answered_at}
            for t, number, title, name, phone in rows]


def task_page(session: Session, task_id: int, unit_id: int | None) -> dict[str, Any]:
    """One task as its co-handling unit sees it: the appeal with personal data
    masked (a co-handler has no call to make), the lead unit, the task."""
    from hub.lifecycle.service import NotFound

    task = session.get(CoTask, task_id)
    if task is None or unit_id is None or task.unit_id != unit_id:
        raise NotFound("找不到协办任务")
    case = session.get(Case, task.case_id)
    assert case is not None
    appeal = session.get(Appeal, case.appeal_id)
    assert appeal is not None
    known = (appeal.contact_name, appeal.contact_phone)
    lead = session.get(Unit, case.unit_id) if case.unit_id else None
    return {"task": task, "number": case.number, "lead": lead.name if lead else "—",
            "title": mask_text(appeal.title, known), "body": mask_text(appeal.body, known),
            "text": mask_text(task.task, known)}
