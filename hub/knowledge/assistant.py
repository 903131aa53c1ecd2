"""The operator's assistant: while a call is typed, what the hub would suggest. The
router's category, unit and county; the knowledge-base articles that match; an open
case that looks like the same matter (the duplicate clusters, read only); and the
caller's earlier cases by phone. Hints only: nothing is filed, nothing changes.

A whistleblower's report is never shown, by phone or by likeness: the caller on the
line may not be the one who filed it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from classifiers.decision import RouteDecision
from hub.dedupe import matching_original
from hub.knowledge.store import search
from hub.lifecycle.states import state_label
from hub.models import Appeal, Case, Unit
from hub.privacy import mask_text

SHOWN_CASES = 5
CLOSED = ("closed", "merged")


def _phones(phone: str) -> list[str]:
    digits = re.sub(r"\D", "", phone or "")
    return list(dict.fromkeys(p for p in (phone.strip(), digits) if len(p) >= 7))


def _case_line(case: Case, title: str, unit: str | None, known: tuple[str | None, ...]
               ) -> dict[str, Any]:
    return {"number": case.number, "id": case.id, "title": mask_text(title, known),
            "state": state_label(case.state), "unit": unit, "open": case.state not in CLOSED}


def caller_cases(session: Session, phone: str) -> list[dict[str, Any]]:
    """The caller's earlier cases, newest first (whistleblowers' reports left out)."""
    phones = _phones(phone)
    if not phones:
        return []
    rows = session.execute(
        select(Case, Appeal.title, Unit.name, Appeal.contact_name, Appeal.contact_phone)
        .join(Appeal, Appeal.id == Case.appeal_id).outerjoin(Unit, Unit.id == Case.unit_id)
        .where(Appeal.contact_phone.in_(phones), Case.hide_identity.is_(False))
        .order_by(Case.id.desc()).limit(SHOWN_CASES))
    return [_case_line(c, t, u, (n, p)) for c, t, u, n, p in rows]


def same_matter(session: Session, title: str, body: str, now: datetime
                ) -> dict[str, Any] | None:
    """The open case carrying a matter this account repeats, if any: the case of the
    matter's original appeal, or the case that one was merged into."""
    original = matching_original(session, title, body, now)
    case = session.scalar(select(Case).where(Case.appeal_id == original)) \
        if original is not None else None
    if case is not None and case.state == "merged" and case.merged_into_id:
        case = session.get(Case, case.merged_into_id)
    if case is None or case.state in CLOSED or case.hide_identity:
        return None
    appeal = session.get(Appeal, case.appeal_id)
    unit = session.get(Unit, case.unit_id) if case.unit_id else None
    return _case_line(case, appeal.title if appeal else "", unit.name if unit else None,
                      (appeal.contact_name, appeal.contact_phone) if appeal else ())


def suggest(session: Session, decision: RouteDecision, title: str, body: str, phone: str,
            now: datetime, today: date, unit_names: dict[str, str],
            county_names: dict[str, str]) -> dict[str, Any]:
    text = f"{title} {body}".strip()
    return {
        "category": decision.category, "confidence": round(decision.confidence, 2),
        "unit": unit_names.get(decision.unit_code or "", decision.unit_code),
        "county": county_names.get(decision.county_code or "", decision.county_code),
        "urgent": decision.urgent,
        "articles": [{"id": a["id"], "title": a["title"], "category": a["category"],
                      "body": a["body"][:200]} for a in search(session, text, today, limit=3)],
        "same_matter": same_matter(session, title, body, now) if len(body) >= 8 else None,
        "caller_cases": caller_cases(session, phone),
    }
