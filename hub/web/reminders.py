"""我的提醒: the staged warnings (hub/lifecycle/warnings.py) addressed to the
logged-in user: a unit's handlers see their unit's, its head also the head's stage,
supervisors theirs. Only cases still with the unit and still open are listed: a
reminder about work that moved on is no longer anyone's to act on."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import and_, select, text
from sqlalchemy.orm import Session

from hub.config_norms import AUDIENCES
from hub.core import Hub
from hub.lifecycle.states import OPEN_WORK_SQL
from hub.models import Appeal, Case, Reminder
from hub.privacy import mask_text
from hub.web import require_staff
from hub.web.auth import Staff

routes = web.RouteTableDef()
SHOWN = 200


def audiences(staff: Staff) -> tuple[str, ...]:
    if staff.role == "unit":
        return ("handler", "head") if staff.head else ("handler",)
    return ("supervisor",) if staff.role == "supervisor" else ()


def reminders_for(session: Session, staff: Staff, limit: int = SHOWN) -> list[dict[str, Any]]:
    """The newest reminders for this user on open cases they may see."""
    heard = audiences(staff)
    if not heard:
        return []
    query = (select(Reminder, Case.number, Case.deadline_at, Appeal.title,
                    Appeal.contact_name, Appeal.contact_phone)
             .join(Case, Case.id == Reminder.case_id).join(Appeal, Appeal.id == Case.appeal_id)
             .where(Reminder.audience.in_(heard), text(f"work_order.{OPEN_WORK_SQL}")))
    if staff.role == "unit":  # unit isolation: its own cases, still with it
        query = query.where(and_(Reminder.unit_id == staff.unit_id,
                                 Case.unit_id == staff.unit_id))
    rows = session.execute(query.order_by(Reminder.at.desc(), Reminder.id.desc()).limit(limit))
    return [{"at": r.at, "case_id": r.case_id, "number": number,
             "title": mask_text(title, (name, phone)), "share": round(r.share * 100),
             "to": AUDIENCES[r.audience], "deadline_at": due}
            for r, number, due, title, name, phone in rows]


@routes.get("/reminders")
@require_staff()
async def my_reminders(request: web.Request) -> web.StreamResponse:
    hub: Hub = request.app["hub"]
    staff: Staff = request["staff"]

    def load() -> list[dict[str, Any]]:
        with hub.sessions() as s:
            return reminders_for(s, staff)

    return aiohttp_jinja2.render_template("reminders.html", request, {
        "reminders": await hub.run(load), "hears": bool(audiences(staff))})
