"""Disputed returns (退单) and their arbitration (仲裁).

A unit that believes a case is not its own returns it with a reason code, a reason
and, where the code says the case belongs elsewhere, the unit it believes
responsible. The case waits in the dispatchers' 退单仲裁 queue (state ``returned``)
and a dispatcher rules:

- 退回成立 (rightful): the case goes to another unit (the one suggested, or another
  the dispatcher picks) with a fresh deadline; the return taught the router
  (a RoutingLabel, as before).
- 退回不成立 (wrongful, 错退): back to the same unit with its clock still running,
  that is with the deadline it had before the return (首接负责: the first unit
  stays responsible until another accepts). A deadline that passed while the case
  waited makes it overdue at once.

The rankings (hub/ranking/metrics.py) judge a return by the next assignment from
``returned``: to the same unit 错退, to another 正确退回; both rulings are such
assignments. A case returned ``escalate_after_returns`` times (deadlines.toml) is
escalated to the supervisors.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from hub.lifecycle.states import DEADLINE_SETTING
from hub.models import Appeal, Case, CaseEvent, RoutingLabel, Unit, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.lifecycle.service import CaseService

#: why a unit returns a case; the first two say it belongs to another unit, which the
#: return must then name
ELSEWHERE = ("非本单位职责", "属地错误")
RETURN_CODES = (*ELSEWHERE, "诉求不清无法办理", "重复诉求", "其他")
RULINGS = ("退回成立", "退回不成立")


def return_case(svc: CaseService, session: Session, case_id: int, actor: str, reason: str,
                code: str | None = None, suggested: str | None = None,
                unit_id: int | None = None, expected_version: int | None = None,
                now: datetime | None = None) -> Case:
    """退回: the unit says the case is not its own; it waits for a dispatcher's ruling."""
    from hub.lifecycle.service import CaseError, _text

    if not reason or not reason.strip():
        raise CaseError("退回须写明原因")
    if code is not None and code not in RETURN_CODES:
        raise CaseError("退回原因类别须为：" + "、".join(RETURN_CODES))
    if code in ELSEWHERE and not suggested:
        raise CaseError("请注明您认为应由哪个单位办理（建议承办单位）")
    if suggested:
        svc._unit_id(suggested)  # a unit this city has
    case = svc.load(session, case_id)
    svc._own(case, unit_id)
    if suggested and case.unit_id == svc.unit_ids[suggested]:
        raise CaseError("建议承办单位不能是本单位")
    wrong = session.get(Unit, case.unit_id) if case.unit_id else None
    session.add(RoutingLabel(case_id=case.id, text=_text(session.get(Appeal, case.appeal_id)),
                             category=None, wrong_unit_code=wrong.code if wrong else None,
                             origin="return"))
    count = case.return_count + 1
    escalate = count >= svc.config.deadlines.escalate_after_returns and not case.escalated
    note = (f"【{code}】" if code else "") + reason.strip() + (
        f"（建议由 {_unit_name(session, suggested)} 办理）" if suggested else "")
    moved = svc._move(session, case, "return", actor, note=note[:1000],
                      expected_version=expected_version, unit_id=None, now=now,
                      return_count=count, deadline_at=None, return_code=code,
                      return_unit=suggested or None, escalated=case.escalated or escalate)
    if escalate:
        session.add(CaseEvent(case_id=moved.id, at=now or utcnow(), actor=actor,
                              action="escalate", from_state=moved.state,
                              to_state=moved.state, unit_id=None, deadline_at=None,
                              note=f"已退回 {count} 次, 升级督办"))
    return moved


def rule(svc: CaseService, session: Session, case_id: int, actor: str, ruling: str,
         unit_code: str | None = None, note: str | None = None,
         expected_version: int | None = None, now: datetime | None = None) -> Case:
    """仲裁: a dispatcher rules on a returned case (see the module's docstring)."""
    from hub.lifecycle.service import CaseError

    now = now or utcnow()
    if ruling not in RULINGS:
        raise CaseError("请选择仲裁结果：" + "或".join(RULINGS))
    case = svc.load(session, case_id)
    if case.state != "returned":
        raise CaseError("这件工单没有待仲裁的退回")
    returned = session.scalar(select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.action == "return")
        .order_by(CaseEvent.id.desc()).limit(1))
    by = returned.unit_id if returned else None
    said = f"：{note.strip()}" if note and note.strip() else ""
    if ruling == "退回成立":
        target = unit_code or case.return_unit
        if not target:
            raise CaseError("退回成立时请选择改派的承办单位")
        if by is not None and svc._unit_id(target) == by:
            raise CaseError("退回成立须改派其他单位；退回本单位请选“退回不成立”")
        moved = svc.assign(session, case.id, target, actor, note=f"仲裁：退回成立{said}",
                           expected_version=expected_version, now=now)
    else:
        if by is None:
            raise CaseError("找不到退回的单位，请直接交办")
        if unit_code and svc._unit_id(unit_code) != by:
            raise CaseError("退回不成立时工单回到原单位，请不要另选单位")
        deadline = (_running_deadline(session, case, returned)
                    or svc.deadline(now, "normal", case.category))
        moved = svc._move(session, case, "assign", actor, note=f"仲裁：退回不成立（错退）{said}",
                          expected_version=expected_version, now=now,
                          sign_by=svc.sign_deadline(now, case.category), unit_id=by,
                          assigned_at=now,
                          deadline_at=deadline, due_state="ok", extension_requested=False)
    session.execute(Case.__table__.update().where(Case.id == moved.id)
                    .values(return_code=None, return_unit=None))
    session.refresh(moved)
    return moved


def _running_deadline(session: Session, case: Case, returned: CaseEvent | None
                      ) -> datetime | None:
    """The deadline the case had when it was returned: its clock kept running."""
    if returned is None:
        return None
    return session.scalar(select(CaseEvent.deadline_at).where(
        CaseEvent.case_id == case.id, CaseEvent.id < returned.id,
        CaseEvent.action.in_(DEADLINE_SETTING)).order_by(CaseEvent.id.desc()).limit(1))


def _unit_name(session: Session, code: str | None) -> str:
    return session.scalar(select(Unit.name).where(Unit.code == code)) or str(code)

