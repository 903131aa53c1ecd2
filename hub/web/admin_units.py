"""The admin's view of the 1+8+N unit tree: who is in it, how busy, and a switch to
pause automatic dispatch to a unit (while it is reorganised, say).

The tree itself (names, parents, counties) is config/units.toml: a city edits it and
restarts, and the page says so. The pause is the one thing kept in the database, so
it survives restarts and config changes.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import func, select, update

from hub.core import Hub
from hub.db import transaction
from hub.models import Case, Unit, User
from hub.web import checked_form, require_staff
from hub.web.inbox_queries import OPEN_WORK_CLAUSE

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
KIND_LABELS = {"city": "市平台", "county": "县区分平台", "department": "市直部门",
               "county_department": "县区部门", "enterprise": "公共企事业单位"}


def unit_rows(hub: Hub) -> list[dict[str, Any]]:
    """Every unit in tree order (the city, each county followed by its departments,
    then the municipal departments) with its staff and open cases."""
    with hub.sessions() as s:
        units = list(s.scalars(select(Unit).order_by(Unit.id)))
        staff = dict(s.execute(select(User.unit_id, func.count()).where(User.active)
                               .group_by(User.unit_id)).all())
        open_cases = dict(s.execute(select(Case.unit_id, func.count())
                                    .where(Case.unit_id.is_not(None), OPEN_WORK_CLAUSE)
                                    .group_by(Case.unit_id)).all())
    children: dict[int | None, list[Unit]] = {}
    for u in units:
        children.setdefault(u.parent_id, []).append(u)
    ordered: list[tuple[Unit, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for u in children.get(parent, []):
            ordered.append((u, depth))
            walk(u.id, depth + 1)

    walk(None, 0)
    return [{"code": u.code, "name": u.name, "kind": KIND_LABELS.get(u.kind, u.kind),
             "depth": depth, "county": u.county_code, "active": u.active,
             "staff": staff.get(u.id, 0), "open": open_cases.get(u.id, 0),
             "paused": u.auto_assign_paused, "note": u.paused_note} for u, depth in ordered]


@routes.get("/admin/units")
@require_staff("admin")
async def units_page(request: web.Request) -> web.StreamResponse:
    hub: Hub = request.app["hub"]
    return aiohttp_jinja2.render_template("admin_units.html", request,
                                          {"units": await hub.run(unit_rows, hub)})


@routes.post(r"/admin/units/{code}/{switch:(pause|resume)}")
@require_staff("admin")
async def switch_auto_assign(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub: Hub = request.app["hub"]
    code, pause = request.match_info["code"], request.match_info["switch"] == "pause"
    note = str(form.get("note", "")).strip()[:200] or None
    if pause and not note:
        return aiohttp_jinja2.render_template("error.html", request, {
            "heading": "未暂停", "message": "暂停自动派单需要填写原因"}, status=422)

    def apply() -> int:
        with transaction(hub.sessions) as s:
            return s.execute(update(Unit).where(Unit.code == code).values(
                auto_assign_paused=pause, paused_note=note if pause else None)).rowcount  # type: ignore[attr-defined]

    if not await hub.run(apply):
        return aiohttp_jinja2.render_template("error.html", request, {
            "heading": "没有这个单位", "message": code}, status=404)
    log.info("automatic dispatch to %s %s by %s", code, "paused" if pause else "resumed",
             request["staff"].username)
    raise web.HTTPSeeOther("/admin/units")
