"""The inbox page, its CSV/XLSX export and bulk assignment (its reads:
hub/web/inbox_queries.py)."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from openpyxl import Workbook

from hub.core import Hub
from hub.db import transaction
from hub.lifecycle.service import CaseError, CaseService
from hub.models import utcnow
from hub.security.cells import safe_row
from hub.security.text import parse_id
from hub.web import checked_form, require_staff, surges
from hub.web.actions import perform
from hub.web.auth import Staff
from hub.web.choices import choices
from hub.web.contact_views import record as record_views
from hub.web.inbox_queries import (
    COUNT_CAP,
    ROLE_VIEWS,
    VIEWS,
    Filters,
    count_cases,
    export_rows,
    list_cases,
)

routes = web.RouteTableDef()


def _hub(request: web.Request) -> Hub:
    return request.app["hub"]  # type: ignore[no-any-return]


def _staff(request: web.Request) -> Staff:
    return request["staff"]  # type: ignore[no-any-return]


@routes.get("/inbox")
@require_staff()
async def inbox(request: web.Request) -> web.StreamResponse:
    hub, staff = _hub(request), _staff(request)
    filters = Filters.from_query(request.query)
    calendar = request.app["case_service"].calendar

    def load() -> tuple[Any, bool, int]:
        with hub.sessions() as s:
            rows, more = list_cases(s, staff, filters, calendar)
            return rows, more, count_cases(s, staff, filters)

    rows, more, total = await hub.run(load)
    return aiohttp_jinja2.render_template("inbox.html", request, {
        **choices(hub), "filters": filters, "rows": rows, "more": more, "total": total,
        "count_cap": COUNT_CAP, "surges": await surges.banners(request),
        "bulk": staff.role == "dispatcher",
        "views": {k: VIEWS[k] for k in ROLE_VIEWS.get(staff.role, VIEWS)},
        "notice": NOTICES.get(request.query.get("ok", ""))})


@routes.get(r"/inbox/export.{fmt:(csv|xlsx)}")
@require_staff()
async def export(request: web.Request) -> web.StreamResponse:
    hub, staff = _hub(request), _staff(request)
    filters = Filters.from_query(request.query)

    viewed: list[int] = []

    def load() -> list[dict[str, Any]]:
        with hub.sessions() as s:
            return export_rows(s, staff, filters, viewed)

    rows = await hub.run(load)
    await hub.run(record_views, hub.sessions, staff, viewed, "export")
    stamp = f"{utcnow():%Y%m%d%H%M}"
    if request.match_info["fmt"] == "csv":
        body = await hub.run(_csv_bytes, rows)
        return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
            "Content-Disposition": f'attachment; filename="cases-{stamp}.csv"'})
    body = await hub.run(_xlsx_bytes, rows)
    return web.Response(body=body, headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Content-Disposition": f'attachment; filename="cases-{stamp}.xlsx"'})


EXPORT_COLUMNS = ("工单编号", "状态", "渠道", "受理时间", "标题", "内容", "分类", "承办单位",
                  "区县", "办理期限", "期限状态", "联系人", "联系电话")


def _csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    """Cells that would start a formula open as text (hub/security/cells.py)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(safe_row([row[c] for c in EXPORT_COLUMNS]) for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens it as UTF-8


def _xlsx_bytes(rows: list[dict[str, Any]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("工单")
    sheet.append(list(EXPORT_COLUMNS))
    for row in rows:
        sheet.append(safe_row([row[c] for c in EXPORT_COLUMNS]))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


#: what a redirect to the inbox after an action says (?ok=...)
NOTICES = {"returned": "已保存：已退回，等待分拨中心仲裁；仲裁前工单仍计本单位办理时限"}


@routes.post("/inbox/bulk")
@require_staff("dispatcher")
async def bulk_assign(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub, staff = _hub(request), _staff(request)
    svc: CaseService = request.app["case_service"]
    ids = [i for i in (parse_id(v) for v in form.getall("case_id", [])) if i][:200]
    unit = str(form.get("unit", ""))

    def run() -> None:
        with transaction(hub.sessions) as s:  # all or nothing
            for case_id in ids:
                perform(svc, s, staff, case_id, "assign", {"unit": unit, "note": "批量交办"})

    try:
        await hub.run(run)
    except CaseError as exc:
        return aiohttp_jinja2.render_template("error.html", request, {
            "message": f"批量交办未执行（全部回滚）：{exc}"}, status=exc.status)
    raise web.HTTPSeeOther("/inbox?" + urlencode({"view": "triage"}))
