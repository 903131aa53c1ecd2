"""Paused clocks (挂起): a unit cannot go on until something outside it happens.

A unit asks to pause a case's reply clock with a kind of reason citizens can read
(waiting for the citizen's documents, a court ruling, an inspection date ...) and a
note for staff; a supervisor grants or refuses it. While paused the case has no
deadline (the deadline check and the 临期/超期 views pass it by, and rankings see its
obligation ended by the ``grant_pause`` event) and ``pause_left_days`` keeps the
working time it had left. Resuming (the unit or a supervisor) sets the deadline again:
the end of the working day in which that time runs out, counted over holidays.

A pause survives reassignment: the new unit inherits a paused case with the full time
of its new assignment left. Replying to, returning or merging a paused case ends the
pause. ``paused_days`` adds up the working days of every pause; the case's history
keeps each request, decision and resumption with its reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.lifecycle.states import OPEN_WORK
from hub.models import Case, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.lifecycle.service import CaseService

#: reasons a citizen is shown (the staff note stays internal: it may name people)
PAUSE_KINDS = ("等待群众补充材料", "等待司法或仲裁结论", "等待现场勘查或检测",
               "等待其他部门意见", "其他客观原因")


def is_paused(case: Any) -> bool:
    """Paused now (works on a Case or a page's dict-like view of one)."""
    value = case.get("paused_at") if isinstance(case, dict) else getattr(case, "paused_at", None)
    return value is not None


def request(svc: CaseService, session: Session, case_id: int, actor: str, kind: str,
            reason: str, unit_id: int | None = None, now: datetime | None = None) -> Case:
    """申请挂起: the unit handling the case asks; a supervisor decides."""
    from hub.lifecycle.service import CaseError, Conflict

    if kind not in PAUSE_KINDS:
        raise CaseError("请选择挂起原因类别")
    if not reason.strip():
        raise CaseError("申请挂起须写明理由")
    case = svc.load(session, case_id)
    svc._own(case, unit_id)
    if case.pause_requested:
        raise Conflict("已有挂起申请等待审批")
    if is_paused(case):
        raise CaseError("工单已经挂起")
    return svc._move(session, case, "request_pause", actor, note=f"{kind}：{reason.strip()}",
                     now=now, pause_requested=True, pause_kind=kind)


def decide(svc: CaseService, session: Session, case_id: int, actor: str, grant: bool,
           note: str | None = None, now: datetime | None = None) -> Case:
    """挂起审批: granting stops the clock and keeps the working time left."""
    from hub.lifecycle.service import CaseError

    now = now or utcnow()
    case = svc.load(session, case_id)
    if not case.pause_requested:
        raise CaseError("这件工单没有待审批的挂起申请")
    if not grant:
        return svc._move(session, case, "refuse_pause", actor, note=note, now=now,
                         pause_requested=False, pause_kind=None)
    left = svc.calendar.workdays_between(now, case.deadline_at) if case.deadline_at else 0.0
    return svc._move(session, case, "grant_pause", actor,
                     note=note or f"挂起：{case.pause_kind}", now=now,
                     pause_requested=False, paused_at=now, pause_left_days=left,
                     deadline_at=None, due_state="ok")


def resume(svc: CaseService, session: Session, case_id: int, actor: str,
           note: str | None = None, unit_id: int | None = None,
           now: datetime | None = None) -> Case:
    """恢复计时: the deadline from the working time that was left."""
    from hub.lifecycle.service import CaseError

    now = now or utcnow()
    case = svc.load(session, case_id)
    svc._own(case, unit_id)
    if not is_paused(case):
        raise CaseError("工单没有挂起，无需恢复计时")
    deadline = svc.calendar.add_working_time(now, case.pause_left_days or 0.0)
    return svc._move(session, case, "resume", actor, note=note, now=now,
                     deadline_at=deadline, due_state="ok", **_ended(svc, case, now))


def _ended(svc: CaseService, case: Case, now: datetime) -> dict[str, Any]:
    assert case.paused_at is not None
    paused = svc.calendar.workdays_between(case.paused_at, now)
    return {"paused_at": None, "pause_left_days": None, "pause_kind": None,
            "paused_days": round((case.paused_days or 0.0) + paused, 4)}


def on_move(svc: CaseService, case: Case, target: str, values: dict[str, Any],
            now: datetime) -> None:
    """What a paused case's other transitions change (called by CaseService._move):
    leaving open work (答复, 退回, 合并) ends the pause and a pending request; a
    reassignment keeps the case paused with its new assignment's time left."""
    if not (is_paused(case) or case.pause_requested) or "paused_at" in values:
        return
    if target not in OPEN_WORK:
        values.update(pause_requested=False, pause_kind=None)
        if is_paused(case):
            values.update(_ended(svc, case, now))
    elif values.get("deadline_at") is not None:  # 改派 (or an extension) while paused
        if case.pause_requested and values.get("unit_id") not in (None, case.unit_id):
            values.update(pause_requested=False, pause_kind=None)  # the new unit asks anew
        if is_paused(case):
            values.update(deadline_at=None, pause_left_days=svc.calendar.workdays_between(
                now, values["deadline_at"]))
