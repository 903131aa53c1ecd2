"""Who saw a citizen's identity: every view of unmasked contact details is recorded
(case page, staff API, export), and admins read the record on /admin/contact-views
beside the log of erasures and retention runs.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from hub.core import Hub
from hub.db import transaction
from hub.models import Case, ContactView, PrivacyEvent, User
from hub.privacy import mask_text
from hub.web import require_staff
from hub.web.auth import Staff

routes = web.RouteTableDef()
VIAS = {"page": "工单页面", "api": "接口", "export": "导出", "surge": "热点事件来电人"}
PAGE_ROWS = 200


def record(sessions: sessionmaker[Session], staff: Staff, case_ids: list[int],
           via: str) -> None:
    """One row per case whose contact details this staff member was shown unmasked."""
    if not case_ids:
        return
    rows = [{"user_id": staff.user_id, "username": staff.username, "role": staff.role,
             "case_id": case_id, "via": via} for case_id in sorted(set(case_ids))]
    with transaction(sessions) as s:
        for start in range(0, len(rows), 1000):
            s.execute(insert(ContactView.__table__), rows[start:start + 1000])  # type: ignore[arg-type]


def shows_contact(detail: dict[str, Any]) -> bool:
    """Did this case page/API answer carry the citizen's identity unmasked: the contact
    fields, or a phone or ID number in the text that others see masked?"""
    if detail["contact_masked"]:
        return False
    return bool(detail["contact_name"] or detail["contact_phone"]) or \
        mask_text(detail["body"] or "") != (detail["body"] or "")


def load(session: Session, case_number: str, username: str) -> dict[str, Any]:
    query = (select(ContactView, Case.number).join(Case, Case.id == ContactView.case_id)
             .order_by(ContactView.id.desc()).limit(PAGE_ROWS))
    if case_number:
        query = query.where(Case.number == case_number)
    if username:
        query = query.where(ContactView.username == username)
    views = [{"at": v.at, "username": v.username, "role": v.role, "case": number,
              "case_id": v.case_id, "via": VIAS.get(v.via, v.via)}
             for v, number in session.execute(query)]
    events = [{"at": e.at, "actor": e.actor, "action": e.action, "reason": e.reason,
               "appeals": e.appeals, "cases": e.cases or []}
              for e in session.scalars(select(PrivacyEvent).order_by(PrivacyEvent.id.desc())
                                       .limit(PAGE_ROWS))]
    users = list(session.scalars(select(User.username).order_by(User.username)))
    return {"views": views, "events": events, "users": users}


@routes.get("/admin/contact-views")
@require_staff("admin")
async def contact_views_page(request: web.Request) -> web.StreamResponse:
    hub: Hub = request.app["hub"]
    case_number = request.query.get("case", "").strip()[:24]
    username = request.query.get("user", "").strip()[:60]

    def run() -> dict[str, Any]:
        with hub.sessions() as s:
            return load(s, case_number, username)

    return aiohttp_jinja2.render_template("admin_privacy.html", request, {
        **await hub.run(run), "case_number": case_number, "username": username,
        "limit": PAGE_ROWS})
