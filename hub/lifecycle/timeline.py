"""The whole loop as a citizen may read it: received, which unit, signed, paused and
why, replied and how it ended, rated, reopened; in plain Chinese.

Built from the case's event log, action by action, from a fixed list of what each
step says. Staff notes are never shown (they may name people or internal matters):
only the unit's name, a pause's kind of reason (one of PAUSE_KINDS), a reply's
resolution (one of RESOLUTIONS), the citizen's own grade and deadlines.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.lifecycle.pauses import PAUSE_KINDS
from hub.lifecycle.resolutions import RESOLUTIONS
from hub.lifecycle.states import GRADES
from hub.models import Case, CaseEvent, Unit


def citizen_timeline(session: Session, case: Case, tz: Any) -> list[dict[str, Any]]:
    """One line per step a citizen cares about, oldest first."""
    units = {u.id: u.name for u in session.scalars(select(Unit))}
    lines: list[dict[str, Any]] = []
    pause_kind: str | None = None
    for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                             .order_by(CaseEvent.id)):
        unit = units.get(e.unit_id or -1, "承办单位")
        if e.action == "request_pause":
            pause_kind = _known_prefix(e.note, PAUSE_KINDS)
            continue
        text = _say(e, unit, pause_kind, tz)
        if text:
            lines.append({"at": e.at, "text": text})
    return lines


def _say(e: CaseEvent, unit: str, pause_kind: str | None, tz: Any) -> str | None:
    action = e.action
    if action == "receive":
        return "您的诉求已受理"
    if action in ("assign", "reassign"):
        due = f"，办理期限 {_day(e.deadline_at, tz)}" if e.deadline_at else ""
        return f"已交由{unit}办理{due}"
    if action == "sign":
        return f"{unit}已签收，正在办理"
    if action == "return":
        return "承办单位申请退回，正在审核后重新分派"
    if action == "grant_extension":
        return f"经批准延期办理，办理期限延至 {_day(e.deadline_at, tz)}"
    if action == "grant_pause":
        return "暂停计时" + (f"：{pause_kind}" if pause_kind else "")
    if action == "resume":
        return f"恢复计时，办理期限 {_day(e.deadline_at, tz)}"
    if action == "answer_directly":
        return "热线工作人员已当场答复（已解释说明）"
    if action == "reply":
        ending = _known_prefix((e.note or "").lstrip("【"), RESOLUTIONS)
        return f"{unit}已答复" + (f"（{ending}）" if ending else "")
    if action in ("close", "reopen"):  # after a rating (web, API or 回访) it says which
        grade = _known_prefix(e.note, GRADES)
        then = "重新办理（重办）" if action == "reopen" else "办结"
        return f"评价：{grade}，{then}" if grade else then
    if action == "callback" and (e.note or "").startswith("回访接通"):
        return "工作人员已电话回访"
    if action == "conclude":
        return "经督办审核，办结"
    if action == "cohandle":  # the event names the co-handling unit
        return f"{unit}协助办理"
    if action == "merge" and e.to_state == "merged":
        return "与其他市民反映的同一事项合并办理"
    return None


def _known_prefix(note: str | None, known: tuple[str, ...]) -> str | None:
    """The listed word ``note`` starts with (longest first: 基本满意 before 满意)."""
    for word in sorted(known, key=len, reverse=True):
        if (note or "").startswith(word):
            return word
    return None


def _day(moment: datetime | None, tz: Any) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d") if moment else "—"
