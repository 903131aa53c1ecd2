"""How a case ended, not only that it was answered (办理结果), and whether the citizen
says the problem was solved (是否解决).

A unit's reply carries one resolution: 已解决, 已解释说明 (a policy explained),
列入计划 (scheduled: with the date, which becomes the case's follow-up date), 无法解决
(with the reason). "不属于本单位职责" is not a resolution: that is a return (退回).
A citizen rating a reply is asked two things, solved or not and how satisfied; the
rankings keep 解决率 (solved / asked) apart from 满意率.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

RESOLUTIONS = ("已解决", "已解释说明", "列入计划", "无法解决")
PLANNED, UNSOLVABLE = "列入计划", "无法解决"
MAX_PLAN_DAYS = 3 * 366  # a plan further off than three years is not a follow-up
SOLVED_ANSWERS = {"是": True, "已解决": True, "否": False, "未解决": False}


@dataclass(frozen=True)
class Resolution:
    code: str
    planned_on: date | None = None
    note: str | None = None

    def follow_up_at(self, tz: ZoneInfo) -> datetime | None:
        """列入计划: the end of the planned day, when someone checks it was done."""
        if self.planned_on is None:
            return None
        return datetime.combine(self.planned_on, time(23, 59, 59), tzinfo=tz).astimezone(
            ZoneInfo("UTC"))


def checked(code: str | None, planned_on: str | None, note: str | None, now: datetime,
            tz: ZoneInfo) -> Resolution:
    """The resolution a reply states, or a CaseError saying in Chinese what is missing."""
    from hub.lifecycle.service import CaseError

    code = (code or "").strip()
    if code not in RESOLUTIONS:
        raise CaseError("请选择办理结果（" + "、".join(RESOLUTIONS) + "）")
    note = (note or "").strip()[:500] or None
    if code == UNSOLVABLE and not note:
        raise CaseError("无法解决的，请说明原因")
    if code != PLANNED:
        return Resolution(code, None, note)
    day = _day(planned_on or "")
    if day is None:
        raise CaseError("列入计划的，请填写计划完成日期（如 2027-03-31）")
    today = now.astimezone(tz).date()
    if not today < day <= today + timedelta(days=MAX_PLAN_DAYS):
        raise CaseError("计划完成日期应在今天之后、三年之内")
    return Resolution(code, day, note)


_DAY = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$",
                  re.ASCII)


def _day(text: str) -> date | None:
    """2027-03-31, 2027/3/31 or 2027年3月31日, full-width digits too; None if not a
    real day."""
    match = _DAY.match(unicodedata.normalize("NFKC", text))
    if match is None:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def solved_answer(raw: object) -> bool | None:
    """是否解决 from a form or JSON (是/否, 已解决/未解决, true/false); None if not asked."""
    if isinstance(raw, bool) or raw is None:
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        if text in SOLVED_ANSWERS:
            return SOLVED_ANSWERS[text]
        if text.lower() in ("true", "false", "yes", "no"):
            return text.lower() in ("true", "yes")
    from hub.lifecycle.service import CaseError

    raise CaseError("是否解决 must be 是 or 否")
