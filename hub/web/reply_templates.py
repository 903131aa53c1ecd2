"""答复模板 pages for a unit's staff: their unit's templates, saved (by name: the same
name again replaces it) and deleted; the case page offers them in the reply form
(hub/replies/templates.py)."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from hub.core import Hub
from hub.db import transaction
from hub.lifecycle.resolutions import RESOLUTIONS
from hub.lifecycle.service import CaseError
from hub.replies import templates
from hub.security.text import parse_id
from hub.web import checked_form, require_staff
from hub.web.auth import Staff

routes = web.RouteTableDef()


async def _render(request: web.Request, error: str | None = None, status: int = 200,
                  draft: dict[str, str] | None = None) -> web.StreamResponse:
    hub: Hub = request.app["hub"]
    staff: Staff = request["staff"]

    def load() -> list[templates.ReplyTemplate]:
        with hub.sessions() as s:
            return templates.of_unit(s, staff.unit_id) if staff.unit_id else []

    return aiohttp_jinja2.render_template("reply_templates.html", request, {
        "templates": await hub.run(load), "resolutions": RESOLUTIONS,
        "categories": sorted(hub.config.routing.categories), "error": error,
        "draft": draft or {}, "placeholders": templates.PLACEHOLDERS,
        "notice": "已保存" if request.query.get("ok") else None}, status=status)


@routes.get("/templates")
@require_staff("unit")
async def template_list(request: web.Request) -> web.StreamResponse:
    return await _render(request)


@routes.post("/templates")
@require_staff("unit")
async def template_save(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub: Hub = request.app["hub"]
    staff: Staff = request["staff"]
    fields = {k: str(form.get(k, "")) for k in ("name", "body", "category", "resolution")}

    def run() -> None:
        assert staff.unit_id is not None
        with transaction(hub.sessions) as s:
            templates.save(s, staff.unit_id, f"{staff.role}:{staff.username}", fields,
                           tuple(hub.config.routing.categories), RESOLUTIONS)

    try:
        await hub.run(run)
    except CaseError as exc:
        return await _render(request, str(exc), exc.status, fields)
    raise web.HTTPSeeOther("/templates?ok=1")


@routes.post("/templates/{template_id}/delete")
@require_staff("unit")
async def template_delete(request: web.Request) -> web.StreamResponse:
    await checked_form(request)
    hub: Hub = request.app["hub"]
    staff: Staff = request["staff"]
    template_id = parse_id(request.match_info["template_id"])

    def run() -> None:
        with transaction(hub.sessions) as s:
            if staff.unit_id is not None and template_id is not None:
                templates.remove(s, staff.unit_id, template_id)

    await hub.run(run)
    raise web.HTTPSeeOther("/templates")
