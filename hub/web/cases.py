"""A case's page and the actions taken on it from the page (its read:
hub/web/case_queries.py; the same actions by API: hub/web/staff_api.py)."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.core import Hub
from hub.db import transaction
from hub.lifecycle.actions import AWAITING_DISPATCH, STAFF_ACTIONS, available
from hub.lifecycle.resolutions import RESOLUTIONS
from hub.lifecycle.service import CaseError, CaseService
from hub.models import utcnow
from hub.security.text import parse_id
from hub.surge.store import surge_for_case
from hub.web import checked_form, require_staff
from hub.web.access import can_view
from hub.web.actions import perform
from hub.web.auth import Staff
from hub.web.case_queries import case_detail
from hub.web.choices import choices
from hub.web.contact_views import record as record_views
from hub.web.contact_views import shows_contact

routes = web.RouteTableDef()


def _hub(request: web.Request) -> Hub:
    return request.app["hub"]  # type: ignore[no-any-return]


def _staff(request: web.Request) -> Staff:
    return request["staff"]  # type: ignore[no-any-return]


async def _render_case(request: web.Request, case_id: int, error: str | None = None,
                       notice: str | None = None, status: int = 200,
                       draft: dict[str, str] | None = None) -> web.StreamResponse:
    hub, staff = _hub(request), _staff(request)
    calendar = request.app["case_service"].calendar

    def load() -> tuple[dict[str, Any], Any, list[dict[str, str]]]:
        with hub.sessions() as s:
            detail = case_detail(s, staff, case_id, calendar)
            return detail, surge_for_case(s, case_id), _templates(s, staff, detail, calendar)

    try:
        detail, surge, reply_templates = await hub.run(load)
    except CaseError as exc:
        return aiohttp_jinja2.render_template("error.html", request, {
            "heading": "找不到工单", "message": str(exc)}, status=exc.status)
    if shows_contact(detail):  # no record, no view: a failed write fails the page
        await hub.run(record_views, hub.sessions, staff, [case_id], "page")
    return aiohttp_jinja2.render_template("case.html", request, {
        **choices(hub), "d": detail, "actions": available(staff.role, detail["case"]),
        "declared": STAFF_ACTIONS, "resolutions": RESOLUTIONS,
        "awaiting_dispatch": detail["case"].state in AWAITING_DISPATCH, "surge": surge,
        "error": error, "notice": notice, "draft": draft or {},
        "reply_templates": reply_templates}, status=status)


def _templates(session: Any, staff: Staff, detail: dict[str, Any], calendar: Any
               ) -> list[dict[str, str]]:
    """The unit's reply templates for this case, placeholders filled (答复模板)."""
    from hub.replies.templates import fill, for_case

    case = detail["case"]
    if staff.role != "unit" or case.unit_id != staff.unit_id:
        return []
    today = utcnow().astimezone(calendar.tz).date()
    return [{"name": t.name, "resolution": t.resolution or "",
             "body": fill(t.body, case.number, today, detail.get("contact_name"))}
            for t in for_case(session, case.unit_id, case.category)]


def _case_id(request: web.Request) -> int:
    case_id = parse_id(request.match_info["case_id"])
    if case_id is None:
        raise web.HTTPNotFound()
    return case_id


@routes.get("/cases/{case_id}")
@require_staff()
async def case_page(request: web.Request) -> web.StreamResponse:
    notice = {"done": "已保存"}.get(request.query.get("ok", ""))
    return await _render_case(request, _case_id(request), notice=notice)


@routes.post("/cases/{case_id}/act")
@require_staff()
async def case_action(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub, staff = _hub(request), _staff(request)
    svc: CaseService = request.app["case_service"]
    case_id = _case_id(request)
    action = str(form.get("action", ""))

    def run() -> bool:
        with transaction(hub.sessions) as s:
            return can_view(staff, perform(svc, s, staff, case_id, action, form))

    try:
        still_visible = await hub.run(run)
    except CaseError as exc:  # the form is shown again with what the user typed
        draft = {k: str(v) for k, v in form.items() if k not in ("csrf", "version")}
        return await _render_case(request, case_id, error=str(exc), status=exc.status,
                                  draft=draft)
    if not still_visible:  # a unit's return: the case left its list
        raise web.HTTPSeeOther("/inbox?view=mine&ok=returned")
    raise web.HTTPSeeOther(f"/cases/{case_id}?ok=done")
