"""Staff actions on a case, shared by the web forms and the JSON API.

Each call checks the role, the case's visibility and the version the user saw,
then calls the lifecycle service inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.lifecycle.service import CaseError, CaseService
from hub.lifecycle.states import IllegalTransition
from hub.models import Case, CaseEvent
from hub.web.access import require_action, require_view
from hub.web.auth import Staff


def _version(params: Mapping[str, Any]) -> int | None:
    raw = params.get("version")
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise CaseError("version must be a number") from None


def _text(params: Mapping[str, Any], name: str, limit: int = 4000) -> str:
    value = params.get(name) or ""
    if not isinstance(value, str):
        raise CaseError(f"{name} must be text")
    if len(value) > limit:
        raise CaseError(f"{name} is longer than {limit} characters")
    return value.strip()


def perform(svc: CaseService, session: Session, staff: Staff, case_id: int, action: str,
            params: Mapping[str, Any]) -> Case:
    try:
        return _perform(svc, session, staff, case_id, action, params)
    except IllegalTransition as exc:
        raise CaseError(str(exc)) from None


def _perform(svc: CaseService, session: Session, staff: Staff, case_id: int, action: str,
             params: Mapping[str, Any]) -> Case:
    require_action(staff, action)
    case = CaseService.load(session, case_id)
    require_view(staff, case)
    actor = f"{staff.role}:{staff.username}"
    version = _version(params)
    unit_id = staff.unit_id if staff.role == "unit" else None
    if action == "assign":
        unit = _text(params, "unit", 40)
        if not unit:
            raise CaseError("choose a unit (承办单位)")
        category = _text(params, "category", 40) or None
        if category and category != case.category:
            _record_correction(svc, session, case, actor, category, unit)
        elif case.suggestions and unit != (case.suggestions[0] or {}).get("unit"):
            _record_correction(svc, session, case, actor, case.category, unit)
        # only a supervisor may send a whistleblower's report outside discipline bodies
        override = _text(params, "override_reason", 300) if staff.role == "supervisor" else ""
        return svc.assign(session, case_id, unit, actor,
                          difficulty=_text(params, "difficulty", 10) or "normal",
                          note=_text(params, "note", 500) or None,
                          expected_version=version, category=category,
                          override_reason=override or None)
    if action == "correct":
        category = _text(params, "category", 40)
        if not category:
            raise CaseError("choose a category")
        svc.correct(session, case.id, actor, category, _text(params, "unit", 40) or None)
        return svc.recategorize(session, case_id, actor, category, expected_version=version)
    if action == "merge":
        number = _text(params, "into", 24)
        target = session.scalar(select(Case).where(Case.number == number))
        if target is None:
            raise CaseError(f"no case numbered {number!r}")
        return svc.merge(session, case_id, target.id, actor, expected_version=version)
    if action == "sign":
        return svc.sign(session, case_id, actor, unit_id=unit_id, expected_version=version)
    if action == "reply":
        return svc.reply(session, case_id, actor, _text(params, "body"), unit_id=unit_id,
                         expected_version=version)
    if action == "return":
        return svc.return_case(session, case_id, actor, _text(params, "reason", 1000),
                               unit_id=unit_id, expected_version=version)
    if action == "request_extension":
        return svc.request_extension(session, case_id, actor, _text(params, "reason", 1000),
                                     unit_id=unit_id)
    if action == "decide_extension":
        grant = str(params.get("grant", "")).lower() in ("1", "true", "yes", "grant")
        return svc.decide_extension(session, case_id, actor, grant,
                                    note=_text(params, "note", 500) or None)
    if action == "urge":
        return svc.urge(session, case_id, actor, _text(params, "note", 500) or "请加快办理")
    raise CaseError(f"unknown action {action!r}")


def _record_correction(svc: CaseService, session: Session, case: Case, actor: str,
                       category: str | None, unit: str | None) -> None:
    svc.correct(session, case.id, actor, category, unit)
    session.add(CaseEvent(case_id=case.id, actor=actor, action="correct",
                          from_state=case.state, to_state=case.state, unit_id=case.unit_id,
                          note=f"分类更正: {case.category or '-'} → {category or '-'}"
                               + (f", 单位 {unit}" if unit else "")))
