"""Surge pages (热点突发): the list, one surge with its callers, and a supervisor's
edits. The banners on the call form and the inbox come from ``banners``.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.core import Hub
from hub.db import transaction
from hub.lifecycle.service import CaseError
from hub.surge import store
from hub.web import checked_form, require_staff
from hub.web.auth import Staff
from hub.web.contact_views import record as record_views

routes = web.RouteTableDef()
SEE_SURGES = ("operator", "dispatcher", "supervisor", "admin")
BANNER_ROLES = ("operator", "dispatcher", "supervisor")


def _hub(request: web.Request) -> Hub:
    return request.app["hub"]  # type: ignore[no-any-return]


async def banners(request: web.Request) -> list[store.SurgeCard]:
    """Active surges for this staff member's banner (none for unit staff)."""
    staff: Staff | None = request.get("staff")
    if staff is None or staff.role not in BANNER_ROLES:
        return []
    hub = _hub(request)

    def load() -> list[store.SurgeCard]:
        with hub.sessions() as s:
            return store.active_surges(s)

    return await hub.run(load)


def _names(hub: Hub) -> dict[str, str]:
    return {c.code: c.name for c in hub.config.counties}


@routes.get("/surges")
@require_staff(*SEE_SURGES)
async def surge_list(request: web.Request) -> web.StreamResponse:
    hub = _hub(request)

    def load() -> list[store.SurgeCard]:
        with hub.sessions() as s:
            return store.recent_surges(s)

    return aiohttp_jinja2.render_template("surges.html", request, {
        "surges": await hub.run(load), "county_names": _names(hub)})


def _surge_id(request: web.Request) -> int:
    raw = request.match_info["surge_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise web.HTTPNotFound(text="没有这个热点事件", content_type="text/plain")
    return int(raw)


async def _render(request: web.Request, surge_id: int, error: str | None = None,
                  notice: str | None = None, status: int = 200) -> web.StreamResponse:
    hub, staff = _hub(request), request["staff"]
    page = request.query.get("page", "1")
    page_no = int(page) if page.isdigit() and len(page) < 7 else 1

    see_contact = staff.role in ("dispatcher", "supervisor")

    def load() -> dict[str, Any]:
        with hub.sessions() as s:
            return store.surge_detail(s, surge_id, see_contact, page_no)

    try:
        detail = await hub.run(load)
    except CaseError as exc:
        return aiohttp_jinja2.render_template("error.html", request, {
            "heading": "找不到热点事件", "message": str(exc)}, status=exc.status)
    # callers' names and phones shown unmasked are views of their identity, recorded
    # like a case page's (hub/web/contact_views.py)
    shown = [c["id"] for c in detail["callers"]
             if see_contact and (c["name"] or c["phone"])]
    await hub.run(record_views, hub.sessions, staff, shown, "surge")
    return aiohttp_jinja2.render_template("surge.html", request, {
        **detail, "county_names": _names(hub), "error": error, "notice": notice,
        "can_edit": staff.role == "supervisor"}, status=status)


@routes.get("/surges/{surge_id}")
@require_staff(*SEE_SURGES)
async def surge_page(request: web.Request) -> web.StreamResponse:
    notice = {"done": "已保存"}.get(request.query.get("ok", ""))
    return await _render(request, _surge_id(request), notice=notice)


@routes.post("/surges/{surge_id}")
@require_staff("supervisor")
async def surge_action(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub, staff = _hub(request), request["staff"]
    surge_id = _surge_id(request)
    action = str(form.get("action", ""))
    raw_version = str(form.get("version", ""))
    version = int(raw_version) if raw_version.isdigit() and len(raw_version) < 10 else None
    actor = f"{staff.role}:{staff.username}"

    def run() -> None:
        with transaction(hub.sessions) as s:
            if action == "edit":
                store.edit(s, surge_id, actor, str(form.get("title", ""))[:400],
                           str(form.get("answer", ""))[:8000],
                           str(form.get("article_ref", ""))[:200], expected_version=version)
            elif action == "end":
                store.end(s, surge_id, actor, expected_version=version)
            elif action == "resume":
                store.resume(s, surge_id, actor, expected_version=version)
            else:
                raise CaseError("未知操作")

    try:
        await hub.run(run)
    except CaseError as exc:
        return await _render(request, surge_id, error=str(exc), status=exc.status)
    raise web.HTTPSeeOther(f"/surges/{surge_id}?ok=done")
