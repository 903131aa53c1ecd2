"""Case actions. Each call changes one case and writes its event in the caller's
transaction (helpers never commit), guarded by the case's version number so two
people acting at once cannot both win.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from classifiers.decision import RouteDecision
from hub.config import CityConfig
from hub.lifecycle import callbacks, pauses, warnings
from hub.lifecycle.calendar import WorkCalendar
from hub.lifecycle.resolutions import Resolution
from hub.lifecycle.states import GRADES, OPEN_WORK, IllegalTransition, target_of
from hub.models import Appeal, Case, CaseEvent, Rating, Reply, RoutingLabel, utcnow

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


class CaseError(ValueError):
    """A request about a case that cannot be carried out; ``status`` suits HTTP."""

    status = 400
    code = "bad_request"


class NotFound(CaseError):
    status, code = 404, "not_found"


class Conflict(CaseError):
    status, code = 409, "conflict"


class Forbidden(CaseError):
    status, code = 403, "forbidden"


def new_query_code() -> str:
    """Six characters without look-alikes (0/O, 1/I): easy to read out on the phone."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


def case_number(appeal: Appeal, tz: Any) -> str:
    assert appeal.id is not None
    return f"{appeal.received_at.astimezone(tz):%Y%m%d}{appeal.id:06d}"


class CaseService:
    def __init__(self, config: CityConfig, unit_ids: dict[str, int]) -> None:
        self.config = config
        self.calendar = WorkCalendar(config.deadlines)
        self.unit_ids = unit_ids
        self.unit_names = {u.code: u.name for u in config.units}

    # -- helpers ---------------------------------------------------------------------------
    def _unit_id(self, code: str) -> int:
        if code not in self.unit_ids:
            raise CaseError(f"没有这个单位：{code}")
        return self.unit_ids[code]

    def deadline(self, start: datetime, kind: str, category: str | None = None) -> datetime:
        """The reply deadline of ``kind``; a category's own limit (deadlines.toml
        [categories]) replaces the normal one."""
        norm = self.config.deadlines.norms.categories.get(category or "")
        days = norm.reply_days if kind == "normal" and norm and norm.reply_days else \
            self.config.deadlines.reply_days.get(kind)
        if days is None:
            raise CaseError(f"没有配置“{kind}”的办理期限（deadlines.toml）")
        return self.calendar.add_workdays(start, days)

    def sign_deadline(self, start: datetime, category: str | None = None) -> datetime:
        """签收时限: the end of the configured working day after an assignment, or a
        category's limit in office hours."""
        norm = self.config.deadlines.norms.categories.get(category or "")
        if norm and norm.sign_hours:
            return self.calendar.add_office_hours(start, norm.sign_hours)
        return self.calendar.add_workdays(start, self.config.deadlines.sign_days)

    @staticmethod
    def load(session: Session, case_id: int) -> Case:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound("找不到这件工单")
        return case

    def _move(self, session: Session, case: Case, action: str, actor: str,
              note: str | None = None, expected_version: int | None = None,
              now: datetime | None = None, sign_by: datetime | None = None,
              event_unit: int | None = None, **changes: Any) -> Case:
        """Check the transition, apply ``changes`` with the version guard, log the event
        with the deadline as it stands after it (and ``sign_by`` for an assignment);
        the event names ``event_unit``, else the case's unit after the move."""
        now = now or utcnow()
        if expected_version is not None and expected_version != case.version:
            raise Conflict("工单在您打开后已有变化，请刷新页面后重试")
        to_state = target_of(action, case.state)
        values = {**changes, "state": to_state, "updated_at": now, "version": case.version + 1}
        pauses.on_move(self, case, to_state, values, now)
        warnings.on_move(self, case, values, now)
        result = session.execute(
            update(Case).where(Case.id == case.id, Case.version == case.version).values(**values)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("有人同时修改了这件工单，请刷新页面后重试")
        session.add(CaseEvent(case_id=case.id, at=now, actor=actor, action=action,
                              from_state=case.state, to_state=to_state,
                              unit_id=event_unit or values.get("unit_id") or case.unit_id,
                              note=note,
                              deadline_at=values.get("deadline_at", case.deadline_at),
                              sign_deadline_at=sign_by))
        session.flush()
        session.refresh(case)
        return case

    # -- intake ----------------------------------------------------------------------------
    def open_case(self, session: Session, appeal: Appeal, decision: RouteDecision,
                  actor: str = "router", now: datetime | None = None,
                  deadline_kind: str | None = None) -> Case:
        """受理: make the case for an appeal; assign it at once when the router is sure.

        The one-case form of ``open_cases`` (same rows, same events); a decision that
        names a unit this city does not have is an error here rather than a triage.
        """
        if not decision.needs_triage and decision.unit_code:
            self._unit_id(decision.unit_code)
        [case_id] = self.open_cases(session, [(appeal, decision)], actor, now, deadline_kind)
        return self.load(session, case_id)

    def open_cases(self, session: Session, batch: list[tuple[Any, RouteDecision]],
                   actor: str = "router", now: datetime | None = None,
                   deadline_kind: str | None = None) -> list[int]:
        """受理 in bulk (hub/lifecycle/opening.py); returns the case ids in batch order."""
        from hub.lifecycle.opening import open_cases

        return open_cases(self, session, batch, actor, now, deadline_kind)

    # -- dispatch --------------------------------------------------------------------------
    def assign(self, session: Session, case_id: int, unit_code: str, actor: str,
               difficulty: str = "normal", note: str | None = None,
               expected_version: int | None = None, now: datetime | None = None,
               category: str | None = None, deadline_kind: str | None = None,
               override_reason: str | None = None) -> Case:
        """派单/交办 (or 改派 when already with a unit): sets the unit and the deadline.

        A hidden-identity (misconduct) case never goes to a unit it names, and goes
        to a non-discipline unit only with ``override_reason`` (a supervisor's)."""
        now = now or utcnow()
        case = self.load(session, case_id)
        if difficulty not in ("normal", "hard"):
            raise CaseError("难度须为一般件或疑难件")
        if case.hide_identity:
            from hub.whistleblower import AssignmentRefused, check_assignment

            try:
                why = check_assignment(self.config, _text(session.get(Appeal, case.appeal_id)),
                                       case.accused_units, unit_code, override_reason)
            except AssignmentRefused as exc:
                raise Forbidden(str(exc)) from None
            if why:
                note = f"{note}；{why}" if note else why
        action = "reassign" if case.state in OPEN_WORK else "assign"
        changes: dict[str, Any] = {
            "unit_id": self._unit_id(unit_code), "assigned_at": now, "difficulty": difficulty,
            "deadline_at": self.deadline(now, deadline_kind or difficulty,
                                         category or case.category), "due_state": "ok",
            "extension_requested": False}
        if category:
            changes["category"] = category
        return self._move(session, case, action, actor, note=note,
                          expected_version=expected_version, now=now,
                          sign_by=self.sign_deadline(now, category or case.category),
                          **changes)

    def correct(self, session: Session, case_id: int, actor: str, category: str | None,
                unit_code: str | None) -> None:
        """A dispatcher's correction: stored, with the appeal's text, as a training label
        (the learning loop)."""
        case = self.load(session, case_id)
        session.add(RoutingLabel(case_id=case_id, text=_text(session.get(Appeal, case.appeal_id)),
                                 category=category, unit_code=unit_code, origin="correction"))

    def recategorize(self, session: Session, case_id: int, actor: str, category: str,
                     expected_version: int | None = None) -> Case:
        """更正分类: the dispatcher fixes the category without moving the case."""
        case = self.load(session, case_id)
        if category == case.category:  # nothing to correct: no event that says nothing
            raise CaseError(f"分类已经是“{category}”，没有变化")
        return self._move(session, case, "correct", actor,
                          note=f"分类: {case.category or '-'} → {category}",
                          expected_version=expected_version, category=category)

    def merge(self, session: Session, case_id: int, into_id: int, actor: str,
              expected_version: int | None = None, now: datetime | None = None) -> Case:
        """合并: a duplicate follows the case it repeats."""
        if case_id == into_id:
            raise CaseError("工单不能合并到它自己")
        target = self.load(session, into_id)
        if target.state == "merged":
            raise CaseError("请合并到原始工单，不要合并到另一件重复件")
        case = self.load(session, case_id)
        moved = self._move(session, case, "merge", actor, note=f"并入 {target.number}",
                           expected_version=expected_version, merged_into_id=into_id, now=now)
        session.add(CaseEvent(case_id=into_id, at=now or utcnow(), actor=actor, action="merge",
                              from_state=target.state, to_state=target.state,
                              unit_id=target.unit_id, deadline_at=target.deadline_at,
                              note=f"合并重复件 {case.number}"))
        return moved

    # -- unit work -------------------------------------------------------------------------
    def _own(self, case: Case, unit_id: int | None) -> None:
        if unit_id is not None and case.unit_id != unit_id:
            raise Forbidden("这件工单不是交给本单位办理的")

    def sign(self, session: Session, case_id: int, actor: str, unit_id: int | None = None,
             expected_version: int | None = None, now: datetime | None = None) -> Case:
        case = self.load(session, case_id)
        self._own(case, unit_id)
        return self._move(session, case, "sign", actor, expected_version=expected_version,
                          now=now)

    def return_case(self, session: Session, case_id: int, actor: str, reason: str,
                    unit_id: int | None = None, expected_version: int | None = None,
                    now: datetime | None = None, code: str | None = None,
                    suggested: str | None = None) -> Case:
        """退回: the unit says it was mis-routed; a dispatcher rules on it
        (hub/lifecycle/arbitration.py)."""
        from hub.lifecycle.arbitration import return_case

        return return_case(self, session, case_id, actor, reason, code, suggested,
                           unit_id, expected_version, now)

    def request_extension(self, session: Session, case_id: int, actor: str, reason: str,
                          unit_id: int | None = None, now: datetime | None = None) -> Case:
        if not reason.strip():
            raise CaseError("申请延期须写明理由")
        case = self.load(session, case_id)
        self._own(case, unit_id)
        if case.extension_requested:
            raise Conflict("已有延期申请等待审批")
        return self._move(session, case, "request_extension", actor, note=reason.strip(),
                          now=now, extension_requested=True)

    def decide_extension(self, session: Session, case_id: int, actor: str, grant: bool,
                         note: str | None = None, now: datetime | None = None) -> Case:
        now = now or utcnow()
        case = self.load(session, case_id)
        if not case.extension_requested:
            raise CaseError("这件工单没有待审批的延期申请")
        if not grant:
            return self._move(session, case, "refuse_extension", actor, note=note, now=now,
                              extension_requested=False)
        base = max(case.deadline_at or now, now)
        return self._move(session, case, "grant_extension", actor, note=note, now=now,
                          extension_requested=False, due_state="ok",
                          deadline_at=self.deadline(base, "extension"))

    def urge(self, session: Session, case_id: int, actor: str, note: str,
             now: datetime | None = None) -> Case:
        """督办/催办: counted; repeated urging escalates to supervisors."""
        case = self.load(session, case_id)
        count = case.urge_count + 1
        escalate = count >= self.config.deadlines.escalate_after_urges and not case.escalated
        case = self._move(session, case, "urge", actor, note=note, now=now, urge_count=count,
                          escalated=case.escalated or escalate)
        if escalate:
            session.add(CaseEvent(case_id=case.id, at=now or utcnow(), actor=actor,
                                  action="escalate", from_state=case.state,
                                  to_state=case.state, unit_id=case.unit_id,
                                  deadline_at=case.deadline_at,
                                  note=f"催办 {count} 次仍未办结, 升级督办"))
        return case

    def reply(self, session: Session, case_id: int, actor: str, body: str,
              unit_id: int | None = None, expected_version: int | None = None,
              now: datetime | None = None, resolution: Resolution | None = None,
              quality: tuple[list[str], str] | None = None) -> Case:
        """答复: the unit's answer, published to the citizen with the query code, with
        how the case ended (staff pages and the API require it; 列入计划 sets the
        follow-up date) and what the reply-quality check said (hub/replies/gate.py)."""
        now = now or utcnow()
        if not body or len(body.strip()) < 5:
            raise CaseError("答复内容为空或太短（至少5个字）")
        case = self.load(session, case_id)
        self._own(case, unit_id)
        ending = f"【{resolution.code}】" if resolution else ""
        moved = self._move(session, case, "reply", actor, expected_version=expected_version,
                           now=now, note=(ending + body.strip())[:200],
                           first_reply_at=case.first_reply_at or now,
                           follow_up_at=resolution.follow_up_at(self.calendar.tz)
                           if resolution else None, reply_flagged=bool(quality and quality[0]),
                           **callbacks.on_reply(self, case, now))
        session.add(Reply(case_id=case.id, unit_id=case.unit_id, author=actor,
                          body=body.strip(), at=now,
                          resolution=resolution.code if resolution else None,
                          planned_on=resolution.planned_on if resolution else None,
                          resolution_note=resolution.note if resolution else None,
                          quality_flags=(quality[0] or None) if quality else None,
                          quality_override=(quality[1] or None) if quality else None))
        return moved

    def close(self, session: Session, case_id: int, actor: str, note: str | None = None,
              now: datetime | None = None) -> Case:
        now = now or utcnow()
        case = self.load(session, case_id)
        return self._move(session, case, "close", actor, note=note, now=now, closed_at=now)

    # -- citizens --------------------------------------------------------------------------
    @staticmethod
    def find_for_citizen(session: Session, number: str, code: str) -> Case:
        """A citizen sees a case only with its number and query code (查询验证码),
        compared as bytes (any text may arrive); callers throttle the checks
        (hub/lifecycle/codes.py)."""
        from hub.lifecycle.codes import valid_number
        from hub.security.text import same_secret

        case = session.scalar(select(Case).where(Case.number == number.strip())) \
            if valid_number(number) else None
        if case is None or not same_secret(code.strip().upper(), case.query_code):
            raise NotFound("案件编号或查询验证码不正确")
        return case

    def rate(self, session: Session, number: str, code: str, grade: str,
             comment: str | None = None, channel: str = "web",
             now: datetime | None = None, solved: bool | None = None) -> Case:
        """评价: 满意/基本满意 closes; 不满意, or 未解决 (``solved`` False), reopens (重办),
        and twice goes to a supervisor."""
        now = now or utcnow()
        if grade not in GRADES:
            raise CaseError("评价须为：" + "、".join(GRADES))
        case = self.find_for_citizen(session, number, code)
        if case.state == "merged":  # a linked caller rates the reply of the carrying case
            from hub.lifecycle.linked import rate_as_linked

            return rate_as_linked(session, case, grade, comment, channel, now, solved)
        return self.record_rating(session, case, grade, comment, channel, now, solved)

    def record_rating(self, session: Session, case: Case, grade: str, comment: str | None,
                      channel: str, now: datetime, solved: bool | None,
                      actor: str = "citizen") -> Case:
        """One rating of the current reply, however it came (web, API, an operator's
        回访): 满意/基本满意 and not 未解决 closes, else 重办."""
        if grade not in GRADES:
            raise CaseError("评价须为：" + "、".join(GRADES))
        if case.state != "replied":
            raise Conflict("这件工单目前没有待评价的答复")
        exists = session.scalar(select(Rating.id).where(Rating.case_id == case.id,
                                                        Rating.round == case.reopen_count))
        if exists:
            raise Conflict("这次答复已经评价过了")
        session.add(Rating(case_id=case.id, unit_id=case.unit_id, round=case.reopen_count,
                           grade=grade, comment=(comment or "").strip()[:2000] or None,
                           channel=channel, at=now, solved=solved))
        note = f"{grade}" + ({True: "，已解决", False: "，未解决"}.get(solved, "")) + (
            f": {comment.strip()[:200]}" if comment and comment.strip() else "")
        answered = callbacks.on_rating(case)
        if grade != "不满意" and solved is not False:
            return self._move(session, case, "close", actor, note=note, now=now,
                              closed_at=now, **answered)
        # a second 不满意 (or 未解决) goes to the supervisors (二次督办): the case is
        # redone once more, and a supervisor may end the loop (conclude, 审核办结)
        escalate = case.reopen_count >= 1
        moved = self._move(session, case, "reopen", actor, note=note, now=now,
                           sign_by=self.sign_deadline(now, case.category),
                           reopen_count=case.reopen_count + 1, closed_at=None,
                           deadline_at=self.deadline(now, "redo"), due_state="ok",
                           escalated=case.escalated or escalate, **answered)
        if escalate:
            session.add(CaseEvent(case_id=moved.id, at=now, actor=actor, action="escalate",
                                  from_state=moved.state, to_state=moved.state,
                                  unit_id=moved.unit_id, deadline_at=moved.deadline_at,
                                  note=f"第{moved.reopen_count}次重办，二次督办"))
        return moved

    def conclude(self, session: Session, case_id: int, actor: str, note: str,
                 expected_version: int | None = None, now: datetime | None = None) -> Case:
        """审核办结: a supervisor ends a case redone after repeated 不满意 (the unit did
        what can be done; the reason is kept and shown on the history)."""
        if not note or len(note.strip()) < 4:
            raise CaseError("请写明审核办结的理由")
        case = self.load(session, case_id)
        if not case.escalated or case.reopen_count < 2:
            raise CaseError("只有二次及以上重办、已升级督办的工单可以审核办结")
        return self._move(session, case, "conclude", actor, note=note.strip()[:500],
                          expected_version=expected_version, now=now, closed_at=now or utcnow())


def _text(appeal: Appeal | None) -> str:
    return "" if appeal is None else f"{appeal.title}\n{appeal.body}"


__all__ = ["CaseService", "RouteDecision", "CaseError", "Conflict", "NotFound", "Forbidden",
           "IllegalTransition", "GRADES"]
