"""派单目录: the dispatch catalogue's page. Admins add a line or import a revision
(CSV or XLSX) with its effective date; dispatchers and supervisors read it, with
the lines to come and the history of ended ones (hub/catalogue/store.py)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from hub.catalogue import store
from hub.core import Hub
from hub.db import transaction
from hub.models import DispatchEntry
from hub.web import checked_form, require_staff

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
MAX_UPLOAD = 2 * 1024 * 1024


def _today(hub: Hub) -> date:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(hub.config.deadlines.timezone)).date()


def _rows(hub: Hub) -> dict[str, Any]:
    today = _today(hub)
    names = {u.code: u.name for u in hub.config.units}
    counties = {c.code: c.name for c in hub.config.counties}
    with hub.sessions() as s:
        lines = list(s.scalars(select(DispatchEntry).order_by(
            DispatchEntry.category, DispatchEntry.subcategory, DispatchEntry.item,
            DispatchEntry.county_code, DispatchEntry.effective_from)))
    newest_first = sorted(lines, key=lambda e: -(e.id or 0))[:300]

    def view(e: DispatchEntry) -> dict[str, Any]:
        return {"category": e.category, "sub": e.subcategory or "", "item": e.item or "",
                "county": counties.get(e.county_code, e.county_code)
                if e.county_code else "全市（任一县区）",
                "unit": names.get(e.unit_code, e.unit_code), "from": e.effective_from,
                "to": e.effective_to, "note": e.note or "", "by": e.created_by,
                "ended_by": e.ended_by}

    return {"today": today,
            "current": [view(e) for e in lines if e.effective_from <= today and
                        (e.effective_to is None or e.effective_to > today)],
            "coming": [view(e) for e in lines if e.effective_from > today and
                       (e.effective_to is None or e.effective_to > e.effective_from)],
            "ended": [view(e) for e in newest_first if e.effective_to is not None and
                      e.effective_to <= today or (e.effective_to is not None and
                                                   e.effective_to <= e.effective_from)],
            "categories": sorted(hub.config.routing.categories),
            "counties": [(c.code, c.name) for c in hub.config.counties],
            "units": [(u.code, u.name) for u in hub.config.units if u.kind != "city"]}


async def _page(request: web.Request, status: int = 200, **extra: Any) -> web.StreamResponse:
    hub: Hub = request.app["hub"]
    context = await hub.run(_rows, hub)
    return aiohttp_jinja2.render_template("catalogue.html", request, {**context, **extra},
                                          status=status)


@routes.get("/admin/catalogue")
@require_staff("admin", "dispatcher", "supervisor")
async def catalogue_page(request: web.Request) -> web.StreamResponse:
    done = request.query.get("done", "")
    return await _page(request, notice={"added": "已保存目录行", "imported": "已导入新版目录"}
                       .get(done))


def _start(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise store.CatalogueError("请填写生效日期（如 2027-01-01）") from None


@routes.post("/admin/catalogue")
@require_staff("admin")
async def add_line(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub: Hub = request.app["hub"]
    actor = request["staff"].username
    fields = {k: str(form.get(k, "")) for k in ("category", "subcategory", "item", "county",
                                                 "unit")}

    def apply() -> None:
        with transaction(hub.sessions) as s:
            store.add_line(s, hub.config, actor, fields, _start(str(form.get("from", ""))),
                           str(form.get("note", "")))

    try:
        await hub.run(apply)
    except store.CatalogueError as exc:
        return await _page(request, status=422, error=str(exc), form=fields)
    log.info("dispatch catalogue line added by %s", actor)
    raise web.HTTPSeeOther("/admin/catalogue?done=added")


@routes.post("/admin/catalogue/import")
@require_staff("admin")
async def import_revision(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub: Hub = request.app["hub"]
    actor = request["staff"].username
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return await _page(request, status=422, error="请选择要导入的 CSV 或 Excel 文件")
    data = upload.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return await _page(request, status=422, error="文件过大（最多 2 MB）")

    def apply() -> int:
        start = _start(str(form.get("from", "")))
        rows = store.read_sheet(upload.filename or "", data)
        with transaction(hub.sessions) as s:
            return store.import_revision(s, hub.config, actor, rows, start,
                                         str(form.get("note", "")))

    try:
        count = await hub.run(apply)
    except store.CatalogueError as exc:
        return await _page(request, status=422, error=str(exc))
    log.info("dispatch catalogue revision of %d lines imported by %s", count, actor)
    raise web.HTTPSeeOther("/admin/catalogue?done=imported")
