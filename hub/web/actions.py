"""Staff actions on a case, shared by the web forms and the JSON API.

Each call checks the role, the case's visibility and the version the user saw,
reads the fields as the action declares them (hub/lifecycle/actions.py), then calls
its handler, one per declared action, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.lifecycle import arbitration, callbacks, cohandling, pauses, resolutions
from hub.lifecycle.actions import STAFF_ACTIONS
from hub.lifecycle.service import CaseError, CaseService
from hub.lifecycle.states import IllegalTransition
from hub.models import Case, CaseEvent, utcnow
from hub.replies.gate import review
from hub.web.access import require_action, require_view
from hub.web.auth import Staff


def _version(params: Mapping[str, Any]) -> int | None:
    raw = params.get("version")
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise CaseError("版本号须为数字，请刷新页面后重试") from None


class _Input:
    """One request's fields, read as the action declares them (hub/lifecycle/actions.py):
    text within the declared limit, required fields present."""

    def __init__(self, action: str, params: Mapping[str, Any]) -> None:
        self.params = params
        self.fields = {f.name: f for f in STAFF_ACTIONS[action].fields}

    def __call__(self, name: str) -> str:
        declared = self.fields[name]
        value = self.params.get(name) or ""
        if declared.kind == "bool":
            return "yes" if str(value).lower() in ("1", "true", "yes", "grant") else ""
        said = declared.label or FIELD_NAMES.get(name, name)
        if not isinstance(value, str):
            raise CaseError(f"“{said}”须为文字")
        if len(value) > declared.limit:
            raise CaseError(f"“{said}”最多 {declared.limit} 个字")
        value = value.strip()
        if declared.required and not value:
            raise CaseError(_MISSING.get(name, f"请填写“{said}”"))
        return value


#: fields whose declaration carries no label (their own forms label them)
FIELD_NAMES = {"unit": "承办单位", "category": "分类", "difficulty": "难度", "note": "意见",
               "override_reason": "改派理由", "into": "并入工单编号", "body": "答复内容",
               "reason": "理由", "grant": "审批结果"}


_MISSING = {"unit": "请选择承办单位", "category": "请选择分类",
            "resolution": "请选择办理结果（" + "、".join(resolutions.RESOLUTIONS) + "）",
            "kind": "请选择挂起原因类别", "code": "请选择退回原因类别", "task": "请写明协办事项",
            "note": "请写明理由",
            "ruling": "请选择仲裁结果：退回成立或退回不成立",
            "reached": "请选择回访结果：接通或未接通"}


def perform(svc: CaseService, session: Session, staff: Staff, case_id: int, action: str,
            params: Mapping[str, Any]) -> Case:
    try:
        return _perform(svc, session, staff, case_id, action, params)
    except IllegalTransition as exc:
        raise CaseError(str(exc)) from None


@dataclass(frozen=True)
class _Call:
    svc: CaseService
    session: Session
    staff: Staff
    case: Case
    actor: str
    version: int | None
    value: _Input

    @property
    def unit_id(self) -> int | None:
        return self.staff.unit_id if self.staff.role == "unit" else None


def _perform(svc: CaseService, session: Session, staff: Staff, case_id: int, action: str,
             params: Mapping[str, Any]) -> Case:
    require_action(staff, action)
    case = CaseService.load(session, case_id)
    require_view(staff, case)
    call = _Call(svc, session, staff, case, f"{staff.role}:{staff.username}",
                 _version(params), _Input(action, params))
    return HANDLERS[action](call)


def _assign(c: _Call) -> Case:
    unit, category = c.value("unit"), c.value("category") or None
    case = c.case
    if category and category != case.category:
        _record_correction(c.svc, c.session, case, c.actor, category, unit)
    elif case.suggestions and unit != (case.suggestions[0] or {}).get("unit"):
        _record_correction(c.svc, c.session, case, c.actor, case.category, unit)
    # only a supervisor may send a whistleblower's report outside discipline bodies
    override = c.value("override_reason") if c.staff.role == "supervisor" else ""
    assert case.id is not None
    return c.svc.assign(c.session, case.id, unit, c.actor,
                        difficulty=c.value("difficulty") or "normal",
                        note=c.value("note") or None, expected_version=c.version,
                        category=category, override_reason=override or None)


def _correct(c: _Call) -> Case:
    category = c.value("category")
    assert c.case.id is not None
    c.svc.correct(c.session, c.case.id, c.actor, category, c.value("unit") or None)
    return c.svc.recategorize(c.session, c.case.id, c.actor, category,
                              expected_version=c.version)


def _merge(c: _Call) -> Case:
    number = c.value("into")
    target = c.session.scalar(select(Case).where(Case.number == number))
    if target is None or target.id is None:
        raise CaseError(f"没有编号为 {number} 的工单")
    assert c.case.id is not None
    return c.svc.merge(c.session, c.case.id, target.id, c.actor, expected_version=c.version)


HANDLERS: dict[str, Callable[[_Call], Case]] = {
    "assign": _assign,
    "correct": _correct,
    "merge": _merge,
    "sign": lambda c: c.svc.sign(c.session, c.case.id, c.actor, unit_id=c.unit_id,
                                 expected_version=c.version),
    "reply": lambda c: c.svc.reply(c.session, c.case.id, c.actor, c.value("body"),
                                   unit_id=c.unit_id, expected_version=c.version,
                                   resolution=_resolution(c),
                                   quality=review(c.session, c.case, c.value("body"),
                                                  c.value("send_anyway"))),
    "return": lambda c: c.svc.return_case(c.session, c.case.id, c.actor, c.value("reason"),
                                          unit_id=c.unit_id, expected_version=c.version,
                                          code=c.value("code"),
                                          suggested=c.value("suggested") or None),
    "conclude": lambda c: c.svc.conclude(c.session, c.case.id, c.actor, c.value("note"),
                                         expected_version=c.version),
    "cohandle": lambda c: cohandling.add(c.svc, c.session, c.case.id, c.actor, c.value("unit"),
                                         c.value("task"), expected_version=c.version),
    "arbitrate": lambda c: arbitration.rule(c.svc, c.session, c.case.id, c.actor,
                                            c.value("ruling"), c.value("unit") or None,
                                            c.value("note") or None,
                                            expected_version=c.version),
    "request_extension": lambda c: c.svc.request_extension(
        c.session, c.case.id, c.actor, c.value("reason"), unit_id=c.unit_id),
    "decide_extension": lambda c: c.svc.decide_extension(
        c.session, c.case.id, c.actor, bool(c.value("grant")), note=c.value("note") or None),
    "urge": lambda c: c.svc.urge(c.session, c.case.id, c.actor,
                                 c.value("note") or "请加快办理"),
    "request_pause": lambda c: pauses.request(c.svc, c.session, c.case.id, c.actor,
                                              c.value("kind"), c.value("reason"),
                                              unit_id=c.unit_id),
    "decide_pause": lambda c: pauses.decide(c.svc, c.session, c.case.id, c.actor,
                                            bool(c.value("grant")),
                                            note=c.value("note") or None),
    "callback": lambda c: callbacks.record(
        c.svc, c.session, c.case.id, c.actor, c.value("reached"),
        grade=c.value("grade") or None, solved=resolutions.solved_answer(c.value("solved")),
        note=c.value("note") or None, expected_version=c.version),
    "resume": lambda c: pauses.resume(c.svc, c.session, c.case.id, c.actor,
                                      note=c.value("note") or None, unit_id=c.unit_id),
}


def _resolution(c: _Call) -> resolutions.Resolution:
    return resolutions.checked(c.value("resolution"), c.value("planned_on"),
                               c.value("resolution_note"), utcnow(), c.svc.calendar.tz)


def _record_correction(svc: CaseService, session: Session, case: Case, actor: str,
                       category: str | None, unit: str | None) -> None:
    svc.correct(session, case.id, actor, category, unit)
    session.add(CaseEvent(case_id=case.id, actor=actor, action="correct",
                          from_state=case.state, to_state=case.state, unit_id=case.unit_id,
                          note=f"分类更正: {case.category or '-'} → {category or '-'}"
                               + (f", 单位 {unit}" if unit else "")))
