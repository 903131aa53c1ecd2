"""Staff pages: login, the inbox, a case and its actions, logging a call, exports,
and the admin view of users (sources and quarantine: hub/web/admin_sources.py).
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from openpyxl import Workbook
from sqlalchemy import select

from hub.core import Hub
from hub.db import transaction
from hub.intake_schema import ItemError, validate_item
from hub.lifecycle.actions import AWAITING_DISPATCH, available
from hub.lifecycle.service import CaseError, CaseService, new_query_code
from hub.lifecycle.states import STATE_LABELS
from hub.models import Unit, User, utcnow
from hub.security.cells import safe_row
from hub.security.redirects import safe_next
from hub.security.text import parse_id
from hub.surge.store import surge_for_case
from hub.web import SESSION_COOKIE, checked_form, require_staff, surges
from hub.web.actions import perform
from hub.web.auth import ROLES, AuthError, Staff, add_user, end_session
from hub.web.contact_views import record as record_views
from hub.web.contact_views import shows_contact
from hub.web.login import LoginRefused, attempt_login, set_session_cookie
from hub.web.queries import (
    COUNT_CAP,
    SORTS,
    VIEWS,
    Filters,
    case_detail,
    count_cases,
    export_rows,
    list_cases,
)

routes = web.RouteTableDef()
DESK_SOURCE = "hotline-desk"


def _hub(request: web.Request) -> Hub:
    return request.app["hub"]  # type: ignore[no-any-return]


def _staff(request: web.Request) -> Staff:
    return request["staff"]  # type: ignore[no-any-return]


# -- login ------------------------------------------------------------------------------
@routes.get("/login")
@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict[str, Any]:
    return {"next": safe_next(request.query.get("next", "/inbox"))}


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    username = str(form.get("username", "")).strip()[:60]
    password = str(form.get("password", ""))[:200]
    context = {"next": safe_next(form.get("next", "/inbox")), "username": username}
    try:
        outcome = await attempt_login(request, username, password)
    except LoginRefused as exc:
        response = aiohttp_jinja2.render_template(
            "login.html", request, {**context, "error": exc.message}, status=exc.status)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if outcome is None:
        return aiohttp_jinja2.render_template(
            "login.html", request, {**context, "error": "用户名或密码不正确"}, status=401)
    response = web.HTTPSeeOther(context["next"])
    set_session_cookie(response, _hub(request), outcome.token)
    raise response


@routes.post("/logout")
@require_staff()
async def logout(request: web.Request) -> web.StreamResponse:
    await checked_form(request)
    hub = _hub(request)
    token = request.cookies.get(SESSION_COOKIE, "")

    def drop() -> None:
        with transaction(hub.sessions) as s:
            end_session(s, token)

    await hub.run(drop)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE)
    raise response


# -- inbox ------------------------------------------------------------------------------
def _choices(hub: Hub) -> dict[str, Any]:
    config = hub.config
    units = [u for u in config.units if u.kind != "city"]
    return {
        "units": units, "unit_names": {u.code: u.name for u in config.units},
        "counties": config.counties,
        "county_names": {c.code: c.name for c in config.counties},
        "categories": sorted(config.routing.categories),
        "sources": config.sources, "state_labels": STATE_LABELS,
        "views": VIEWS, "sorts": SORTS,
    }


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
        **_choices(hub), "filters": filters, "rows": rows, "more": more, "total": total,
        "count_cap": COUNT_CAP, "surges": await surges.banners(request),
        "bulk": staff.role == "dispatcher"})


@routes.get("/")
async def root(request: web.Request) -> web.StreamResponse:
    if request.get("staff"):
        raise web.HTTPSeeOther("/inbox")
    from hub.web.public import home

    return await home(request)


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


# -- one case ---------------------------------------------------------------------------
async def _render_case(request: web.Request, case_id: int, error: str | None = None,
                       notice: str | None = None, status: int = 200) -> web.StreamResponse:
    hub, staff = _hub(request), _staff(request)
    calendar = request.app["case_service"].calendar

    def load() -> tuple[dict[str, Any], Any]:
        with hub.sessions() as s:
            detail = case_detail(s, staff, case_id, calendar)
            return detail, surge_for_case(s, case_id)

    try:
        detail, surge = await hub.run(load)
    except CaseError as exc:
        return aiohttp_jinja2.render_template("error.html", request, {
            "heading": "找不到工单", "message": str(exc)}, status=exc.status)
    if shows_contact(detail):  # no record, no view: a failed write fails the page
        await hub.run(record_views, hub.sessions, staff, [case_id], "page")
    return aiohttp_jinja2.render_template("case.html", request, {
        **_choices(hub), "d": detail, "actions": available(staff.role, detail["case"]),
        "awaiting_dispatch": detail["case"].state in AWAITING_DISPATCH, "surge": surge,
        "error": error, "notice": notice}, status=status)


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

    def run() -> None:
        with transaction(hub.sessions) as s:
            perform(svc, s, staff, case_id, action, form)

    try:
        await hub.run(run)
    except CaseError as exc:
        return await _render_case(request, case_id, error=str(exc), status=exc.status)
    raise web.HTTPSeeOther(f"/cases/{case_id}?ok=done")


# -- hotline desk -----------------------------------------------------------------------
@routes.get("/calls/new")
@require_staff("operator", "dispatcher")
async def call_form(request: web.Request) -> web.StreamResponse:
    return aiohttp_jinja2.render_template("call_new.html", request, {
        "surges": await surges.banners(request)})


async def enqueue_with_code(request: web.Request, source_name: str,
                            fields: dict[str, Any],
                            extra_raw: dict[str, Any] | None = None) -> dict[str, str]:
    """Queue an appeal typed in by a person and tell them its case number and code now.

    The number is derived from the appeal (date + id) and the code travels in the
    raw payload, so the pipeline opens the case under exactly these.
    """
    hub = _hub(request)
    code = new_query_code()
    item = validate_item({**{k: v for k, v in fields.items() if v},
                          "external_id": f"{source_name}-{uuid.uuid4().hex}"})
    item.raw = {"query_code": code, "entered_by": source_name, **(extra_raw or {})}
    [queued] = await request.app["intake"].submit(hub.source_ids[source_name], [item])
    local = item.received_at.astimezone(request.app["case_service"].calendar.tz)
    return {"number": f"{local:%Y%m%d}{queued.id:06d}", "code": code}


@routes.post("/calls/new")
@require_staff("operator", "dispatcher")
async def call_submit(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    fields = {k: str(form.get(k, "")).strip() for k in
              ("title", "body", "contact_name", "contact_phone", "location")}
    active = await surges.banners(request)
    chosen = str(form.get("surge", "")).strip()
    surge = next((s for s in active if str(s.id) == chosen), None)
    if chosen and surge is None:
        return aiohttp_jinja2.render_template("call_new.html", request, {
            "surges": active, "error": "所选热点事件已结束或不存在，请重新选择后登记"}, status=422)
    try:
        receipt = await enqueue_with_code(request, DESK_SOURCE, fields,
                                          {"surge_id": surge.id} if surge else None)
    except ItemError as exc:
        return aiohttp_jinja2.render_template("call_new.html", request, {
            "surges": active, "error": f"无法登记：{exc}"}, status=422)
    return aiohttp_jinja2.render_template("call_new.html", request, {
        "surges": active, "receipt": {**receipt, "surge": surge.title if surge else None}})


# -- admin ------------------------------------------------------------------------------
@routes.get("/admin/users")
@require_staff("admin")
async def users_page(request: web.Request) -> web.StreamResponse:
    return await _render_users(request)


async def _render_users(request: web.Request, error: str | None = None,
                        status: int = 200) -> web.StreamResponse:
    hub = _hub(request)

    def load() -> list[dict[str, Any]]:
        with hub.sessions() as s:
            return [{"username": u.username, "display_name": u.display_name, "role": u.role,
                     "unit": name, "active": u.active}
                    for u, name in s.execute(select(User, Unit.name)
                                             .outerjoin(Unit, Unit.id == User.unit_id)
                                             .order_by(User.id))]

    return aiohttp_jinja2.render_template("admin_users.html", request, {
        **_choices(hub), "users": await hub.run(load), "roles": ROLES, "error": error},
        status=status)


@routes.post("/admin/users")
@require_staff("admin")
async def create_user(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub = _hub(request)

    def create() -> None:
        with transaction(hub.sessions) as s:
            add_user(s, str(form.get("username", "")).strip()[:60],
                     str(form.get("password", "")), str(form.get("role", "")),
                     str(form.get("display_name", "")).strip()[:60] or None,
                     str(form.get("unit", "")) or None)

    try:
        await hub.run(create)
    except AuthError as exc:
        return await _render_users(request, error=str(exc), status=422)
    raise web.HTTPSeeOther("/admin/users")
