"""受理 in bulk: the cases for a batch of routed appeals, and their first events.

Two multi-row INSERTs however many cases the batch holds (the pipeline's hot
path); CaseService.open_cases and open_case call it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from classifiers.decision import RouteDecision
from hub import topics
from hub.lifecycle import warnings
from hub.models import Appeal, Case, CaseEvent, Unit, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.lifecycle.service import CaseService


def open_cases(svc: CaseService, session: Session, batch: list[tuple[Any, RouteDecision]],
               actor: str = "router", now: datetime | None = None,
               deadline_kind: str | None = None) -> list[int]:
    """Each case and its events (受理, then 交办 or 转人工分拨).

    ``batch`` holds (appeal, decision); an appeal needs ``id``, ``received_at`` and
    ``raw``. Returns the case ids in batch order.
    """
    from hub.lifecycle.service import case_number

    if not batch:
        return []
    now = now or utcnow()
    limits: dict[str | None, tuple[datetime, datetime, dict[str, Any]]] = {}
    rows, plans = [], []
    paused = set(session.scalars(select(Unit.code).where(Unit.auto_assign_paused)))
    for appeal, d in batch:
        held = d.unit_code in paused  # an admin paused automatic dispatch to it
        auto = bool(not d.needs_triage and d.unit_code and d.unit_code in svc.unit_ids
                    and not held)
        if d.category not in limits:  # the deadlines of the decision's category
            due = svc.deadline(now, deadline_kind or "normal", d.category)
            limits[d.category] = (due, svc.sign_deadline(now, d.category),
                                  warnings.clock(svc, due, now))
        deadline, sign_by, clock = limits[d.category]
        rows.append({
            "number": case_number(appeal, svc.calendar.tz), "appeal_id": appeal.id,
            "state": "assigned" if auto else "triage", "category": d.category,
            "unit_id": svc.unit_ids[d.unit_code] if auto else None,
            "county_code": d.county_code, "confidence": d.confidence,
            "route_model": d.model if d.rule is None else None,
            "route_category": d.category if d.rule is None and d.model else None,
            "suggestions": d.suggestions, "urgent": d.urgent,
            "urgent_terms": list(d.urgent_terms), "hide_identity": d.hide_identity,
            "accused_units": list(d.accused) or None,
            "difficulty": "normal", "deadline_at": deadline if auto else None,
            "due_state": "ok", "urge_count": 0, "escalated": False,
            "query_code": _given_code(appeal), "reopen_count": 0, "return_count": 0,
            "extension_requested": False, "created_at": now, "updated_at": now,
            "assigned_at": now if auto else None, "version": 2,
            **(clock if auto else warnings.clock(svc, None, now))})
        plans.append((auto, held, appeal, d, deadline, sign_by))
    table = Case.__table__
    ids = list(session.scalars(  # Core insert: no per-row ORM work
        insert(table).returning(table.c.id, sort_by_parameter_order=True),  # type: ignore[attr-defined]
        rows))
    events = []
    for case_id, (auto, held, appeal, d, deadline, sign_by) in zip(ids, plans,
                                                                   strict=True):
        events.append({"case_id": case_id, "at": now, "actor": actor, "action": "receive",
                       "from_state": None, "to_state": "received", "unit_id": None,
                       "note": f"渠道诉求 #{appeal.id}" + (f"; 规则 {d.rule}" if d.rule
                                                         else ""),
                       "deadline_at": None, "sign_deadline_at": None})
        if auto:
            events.append({"case_id": case_id, "at": now, "actor": actor,
                           "action": "assign", "from_state": "received",
                           "to_state": "assigned", "unit_id": svc.unit_ids[d.unit_code],
                           "note": f"自动派单 置信度 {d.confidence:.2f}" if d.rule is None
                           else f"按规则 {d.rule} 交办",
                           "deadline_at": deadline, "sign_deadline_at": sign_by})
        else:
            events.append({"case_id": case_id, "at": now, "actor": actor,
                           "action": "triage", "from_state": "received",
                           "to_state": "triage", "unit_id": None,
                           "note": _suggestion_note(d, svc.unit_names, held),
                           "deadline_at": None, "sign_deadline_at": None})
    session.execute(insert(CaseEvent.__table__), events)  # type: ignore[arg-type]
    # every opened appeal gets its hot-issue topic from the topic job (hub/topics.py),
    # except a whistleblower's report: hot issues are published, with their titles
    topics.enqueue(session, [appeal.id for appeal, d in batch if not d.hide_identity])
    return ids


def _given_code(appeal: Appeal) -> str:
    """The code told to the citizen at intake (web form, hotline desk), else a new one."""
    from hub.lifecycle.service import CODE_ALPHABET, new_query_code

    code = (appeal.raw or {}).get("query_code") if isinstance(appeal.raw, dict) else None
    if isinstance(code, str) and len(code) == 6 and set(code) <= set(CODE_ALPHABET):
        return code
    return new_query_code()


def _suggestion_note(decision: RouteDecision, names: dict[str, str], paused: bool = False
                     ) -> str:
    """Why a case waits for a dispatcher, with the router's top suggestions, in the
    units' names (the history never shows internal codes)."""
    if not decision.suggestions:
        return "待人工分拨"
    tops = ", ".join(f"{s.get('category')}→{names.get(s.get('unit') or '', s.get('unit'))} "
                     f"{s.get('p', 0):.2f}" for s in decision.suggestions[:3])
    unit = names.get(decision.unit_code or "", decision.unit_code)
    why = f"{unit} 已暂停自动派单" if paused else "置信度不足"
    return f"{why}, 建议: {tops}"
