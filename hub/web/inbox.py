"""The inbox page, its live "n new" check and its CSV/XLSX export (its reads:
hub/web/inbox_queries.py; bulk actions: hub/web/inbox_bulk.py)."""

from __future__ import annotations

import csv
import io
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from openpyxl import Workbook

from hub.core import Hub
from hub.models import utcnow
from hub.security.cells import safe_row
from hub.security.text import parse_id
from hub.web import require_staff, surges
from hub.web.auth import Staff
from hub.web.choices import choices
from hub.web.contact_views import record as record_views
from hub.web.inbox_queries import (
    COUNT_CAP,
    ROLE_VIEWS,
    TAB_COUNT_CAP,
    VIEWS,
    Filters,
    count_cases,
    export_rows,
    list_cases,
    newer_than,
    overdue_by_unit,
    saved_views,
    tab_counts,
)

#: roles whose inbox rows carry check boxes for bulk actions (hub/web/inbox_bulk.py)
BULK_ROLES = ("dispatcher", "supervisor")

routes = web.RouteTableDef()


def _hub(request: web.Request) -> Hub:
    return request.app["hub"]  # type: ignore[no-any-return]


def _staff(request: web.Request) -> Staff:
    return request["staff"]  # type: ignore[no-any-return]


@routes.get("/inbox")
@require_staff()
async def inbox(request: web.Request) -> web.StreamResponse:
    return await render_inbox(request, Filters.from_query(request.query),
                              notice=notice_for(request.query))


async def render_inbox(request: web.Request, filters: Filters, notice: str | None = None,
                       error: str | None = None, selected: frozenset[int] = frozenset(),
                       status: int = 200) -> web.StreamResponse:
    """The inbox page; bulk actions render it again on failure, with the filters and
    the selection as they were (hub/web/inbox_bulk.py)."""
    hub, staff = _hub(request), _staff(request)
    calendar = request.app["case_service"].calendar
    views = ROLE_VIEWS.get(staff.role, tuple(VIEWS))

    def load() -> dict[str, Any]:
        with hub.sessions() as s:
            rows, more = list_cases(s, staff, filters, calendar)
            return {"rows": rows, "more": more, "total": count_cases(s, staff, filters),
                    "counts": tab_counts(s, staff, views),
                    "saved": saved_views(s, staff.user_id),
                    "by_unit": overdue_by_unit(s) if filters.view == "supervise"
                    and staff.role == "supervisor" else []}

    page = await hub.run(load)
    return aiohttp_jinja2.render_template("inbox.html", request, {
        **choices(hub), **page, "filters": filters, "count_cap": COUNT_CAP,
        "tab_cap": TAB_COUNT_CAP, "surges": await surges.banners(request),
        "bulk": staff.role in BULK_ROLES, "selected": selected,
        "views": {k: VIEWS[k] for k in views}, "notice": notice, "error": error},
        status=status)


#: the queue a role works through, case by case (the case page's 下一件)
QUEUES = {"dispatcher": "triage", "unit": "mine", "operator": "callback",
          "supervisor": "supervise"}


@routes.get("/inbox/next")
@require_staff()
async def next_case(request: web.Request) -> web.StreamResponse:
    """The next case of the role's queue after the one just handled (``skip``)."""
    hub, staff = _hub(request), _staff(request)
    filters = Filters(view=QUEUES.get(staff.role, "all"))
    skip = parse_id(request.query.get("skip", "")) or 0
    calendar = request.app["case_service"].calendar

    def load() -> int | None:
        with hub.sessions() as s:
            rows, _ = list_cases(s, staff, filters, calendar, limit=2)
            return next((r.id for r in rows if r.id != skip), None)

    found = await hub.run(load)
    if found is None:
        raise web.HTTPSeeOther(f"/inbox?view={filters.view}&ok=empty")
    raise web.HTTPSeeOther(f"/cases/{found}")


@routes.get("/inbox/newer")
@require_staff()
async def newer(request: web.Request) -> web.StreamResponse:
    """How many cases matching the page's filters arrived after the newest it shows
    (the page polls this and offers a reload, rows never jump)."""
    hub, staff = _hub(request), _staff(request)
    filters = Filters.from_query(request.query)
    after = parse_id(request.query.get("after", "")) or 0

    def load() -> int:
        with hub.sessions() as s:
            return newer_than(s, staff, filters, after)

    return web.json_response({"newer": await hub.run(load), "cap": TAB_COUNT_CAP})


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


#: what a redirect to the inbox after an action says (?ok=..., with n=how many)
NOTICES = {"returned": "已保存：已退回，等待分拨中心仲裁；仲裁前工单仍计本单位办理时限",
           "assigned": "已保存：批量交办 {n} 件", "urged": "已保存：批量督办 {n} 件",
           "empty": "这个队列已经处理完了"}


def notice_for(query: Any) -> str | None:
    text = NOTICES.get(query.get("ok", ""))
    count = query.get("n", "")
    return text.replace("{n}", count if count.isdigit() else "") if text else None
