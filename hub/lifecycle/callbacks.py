"""回访 (call-back): most citizens of a hotline never open a web page, so after every
reply an operator calls them and records the answer.

A reply puts the case in the operators' 待回访 queue, due within ``[callback]
within_days`` working days (deadlines.toml). The operator records either the
citizen's answer (是否解决 and the grade: a rating like one given on the web, so
不满意 or 未解决 reopens the case) or that nobody answered; unanswered calls are
tried again, and after ``attempts`` failures the case is closed to call-backs as 未回访
(counted apart in the rankings, never as a rating). A rating the citizen gives on
the web or by API first ends the call-back: nobody is called about a reply already
rated. A whistleblower's report is never called back by operators (their identity is
for the discipline body alone), nor is a linked caller (their case is merged).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.models import Case, CaseEvent, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.lifecycle.service import CaseService

PENDING, DONE, UNREACHED = "pending", "done", "unreached"
REACHED_CHOICES = ("接通", "未接通")


def on_reply(svc: CaseService, case: Case, now: datetime) -> dict[str, Any]:
    """What a reply sets: a call-back due within the configured working days."""
    if case.hide_identity:
        return {"callback_state": None, "callback_due_at": None, "callback_attempts": 0}
    return {"callback_state": PENDING, "callback_attempts": 0,
            "callback_due_at": svc.calendar.add_workdays(now, svc.config.deadlines.callback_days)}


def on_rating(case: Case) -> dict[str, Any]:
    """A rating, however given, answers the pending call-back."""
    return {"callback_state": DONE} if case.callback_state == PENDING else {}


def record(svc: CaseService, session: Session, case_id: int, actor: str, reached: str,
           grade: str | None = None, solved: bool | None = None, note: str | None = None,
           expected_version: int | None = None, now: datetime | None = None) -> Case:
    """One call: the citizen's answer (a rating by the channel 回访), or no answer."""
    from hub.lifecycle.service import CaseError, Conflict

    now = now or utcnow()
    case = svc.load(session, case_id)
    if case.callback_state != PENDING:
        raise Conflict("这件工单没有待回访")
    if reached not in REACHED_CHOICES:
        raise CaseError("请选择回访结果：接通或未接通")
    note = (note or "").strip()[:500] or None
    if reached == "接通":
        if grade is None:
            raise CaseError("接通的，请记录群众的评价（满意、基本满意、不满意）")
        if solved is None:
            raise CaseError("接通的，请记录问题是否解决")
        moved = svc._move(session, case, "callback", actor, expected_version=expected_version,
                          now=now, note="回访接通" + (f"：{note}" if note else ""))
        return svc.record_rating(session, moved, grade, note, "callback", now, solved,
                                 actor=actor)
    attempts = case.callback_attempts + 1
    limit = svc.config.deadlines.callback_attempts
    moved = svc._move(session, case, "callback", actor, expected_version=expected_version,
                      now=now, note=f"回访未接通（第{attempts}次）" + (f"：{note}" if note else ""),
                      callback_attempts=attempts,
                      callback_state=UNREACHED if attempts >= limit else PENDING)
    if attempts >= limit:  # 未回访: counted apart in the rankings
        session.add(CaseEvent(case_id=moved.id, at=now, actor=actor,
                              action="callback_unreached", from_state=moved.state,
                              to_state=moved.state, unit_id=moved.unit_id,
                              deadline_at=moved.deadline_at,
                              note=f"{attempts}次未接通，未回访"))
        session.flush()
    return moved
