"""Public pages: submit an appeal, look a case up and rate it, evaluate a unit
behind its QR code. No login; every form carries a double-submit CSRF token.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
import segno
from aiohttp import web
from sqlalchemy import select

from hub.api.cases import citizen_view, rate_as_citizen, set_device_cookie
from hub.core import Hub
from hub.db import transaction
from hub.intake_schema import ItemError
from hub.lifecycle.codes import CodeLocked
from hub.lifecycle.evaluations import ASPECTS, SOURCE_NAME, EvaluationClient, evaluate_unit
from hub.lifecycle.resolutions import solved_answer
from hub.lifecycle.service import GRADES, CaseError, CaseService
from hub.security.clients import client_address
from hub.security.devices import COOKIE as DEVICE_COOKIE
from hub.security.devices import verified_device
from hub.security.headers import cacheable
from hub.security.text import clean_line
from hub.web import checked_form, citizen_session

routes = web.RouteTableDef()


def _hub(request: web.Request) -> Hub:
    return request.app["hub"]  # type: ignore[no-any-return]


@aiohttp_jinja2.template("public/home.html")
async def home(request: web.Request) -> dict[str, Any]:
    return {}


@routes.get("/submit")
@aiohttp_jinja2.template("public/submit.html")
async def submit_page(request: web.Request) -> dict[str, Any]:
    return {"form": {}}


@routes.post("/submit")
async def submit(request: web.Request) -> web.StreamResponse:
    from hub.web.staff import enqueue_with_code

    form = await checked_form(request)
    fields = {k: str(form.get(k, "")).strip() for k in
              ("title", "body", "contact_name", "contact_phone")}
    try:
        receipt = await enqueue_with_code(request, "web", fields)
    except ItemError as exc:
        return aiohttp_jinja2.render_template("public/submit.html", request, {
            "form": fields, "error": f"提交失败：{exc.message}"}, status=422)
    # post/redirect/get: reloading the receipt never files the appeal again
    return citizen_session.redirect(request, "/submit/done", citizen_session.RECEIPT,
                                    receipt["number"], receipt["code"])


@routes.get("/submit/done")
async def submitted(request: web.Request) -> web.StreamResponse:
    kept = citizen_session.recall(request, citizen_session.RECEIPT)
    if kept is None:  # expired or never set: the look-up asks for number and code
        raise web.HTTPSeeOther("/lookup")
    return aiohttp_jinja2.render_template("public/submitted.html", request, {
        "number": kept[0], "code": kept[1]})


@routes.get("/lookup")
@aiohttp_jinja2.template("public/lookup.html")
async def lookup_page(request: web.Request) -> dict[str, Any]:
    return {"number": clean_line(request.query.get("number", ""), 24)}


async def _show_case(request: web.Request, number: str, code: str,
                     notice: str | None = None, error: str | None = None,
                     status: int = 200, verified: bool = False) -> web.StreamResponse:
    hub = _hub(request)
    try:
        view = await hub.run(citizen_view, hub, number, code, client_address(request),
                             verified)
    except CodeLocked as exc:
        response = aiohttp_jinja2.render_template("public/lookup.html", request, {
            "number": number, "error": str(exc)}, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except CaseError:
        return aiohttp_jinja2.render_template("public/lookup.html", request, {
            "number": number, "error": "工单编号或查询验证码不正确（刚提交的诉求请稍候再查）"},
            status=404)
    return aiohttp_jinja2.render_template("public/case.html", request, {
        "v": view, "code": code, "grades": GRADES, "notice": notice, "error": error},
        status=status)


@routes.post("/lookup")
async def lookup(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    number, code = str(form.get("number", "")).strip()[:24], str(form.get("code", "")).strip()[:12]
    shown = await _show_case(request, number, code)
    if shown.status != 200:  # a wrong code or a limit: said on the form itself
        return shown
    return citizen_session.redirect(request, "/lookup/case", citizen_session.CASE, number,
                                    code.upper())


LOOKUP_NOTICES = {"rated": "感谢评价。",
                  "reopened": "感谢评价。您不满意的答复已退回承办单位重新办理。"}


@routes.get("/lookup/case")
async def looked_up(request: web.Request) -> web.StreamResponse:
    """The case a citizen looked up or rated (post/redirect/get: reloading is safe)."""
    kept = citizen_session.recall(request, citizen_session.CASE)
    if kept is None:
        raise web.HTTPSeeOther("/lookup")
    return await _show_case(request, *kept, notice=LOOKUP_NOTICES.get(request.query.get("ok", "")),
                            verified=True)


@routes.post("/lookup/rate")
async def rate(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub = _hub(request)
    svc: CaseService = request.app["case_service"]
    number, code = str(form.get("number", ""))[:24], str(form.get("code", ""))[:12]
    grade, comment = str(form.get("grade", "")), str(form.get("comment", ""))[:2000]
    try:
        solved = solved_answer(str(form.get("solved", ""))[:8])
        await hub.run(rate_as_citizen, hub, svc, number, code, grade, comment, "web",
                      client_address(request), solved)
    except CodeLocked as exc:
        response = aiohttp_jinja2.render_template("public/lookup.html", request, {
            "number": number, "error": str(exc)}, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except CaseError as exc:
        return await _show_case(request, number, code, error=str(exc), status=exc.status)
    done = "reopened" if grade == "不满意" or solved is False else "rated"
    return citizen_session.redirect(request, f"/lookup/case?ok={done}", citizen_session.CASE,
                                    number.strip(), code.strip().upper())


# -- unit evaluations (扫码评议) ---------------------------------------------------------
def _unit(hub: Hub, code: str) -> dict[str, Any]:
    spec = next((u for u in hub.config.units if u.code == code and u.kind != "city"), None)
    if spec is None:
        raise web.HTTPNotFound(text="没有这个单位", content_type="text/plain")
    return {"code": spec.code, "name": spec.name}


@routes.get("/evaluate/{unit}")
async def evaluate_page(request: web.Request) -> web.StreamResponse:
    hub = _hub(request)
    unit = _unit(hub, request.match_info["unit"])
    response = aiohttp_jinja2.render_template("public/evaluate.html", request, {
        "unit": unit, "aspects": ASPECTS, "grades": GRADES})
    if verified_device(hub.settings.secret_key, request.cookies.get(DEVICE_COOKIE)) is None:
        set_device_cookie(response, hub)  # the device the evaluation limits count
    return response


@routes.get("/evaluate/{unit}/qr.svg")
async def evaluate_qr(request: web.Request) -> web.StreamResponse:
    """The QR code a unit prints at its service window, pointing at its evaluation page
    on the configured public address (HUB_PUBLIC_URL), never at whatever Host header
    or parameter a request brings."""
    hub = _hub(request)
    unit = _unit(hub, request.match_info["unit"])
    base = hub.settings.resolved_public_url
    if base is None:
        raise web.HTTPServiceUnavailable(text="未配置公开网址（HUB_PUBLIC_URL），无法生成二维码",
                                         content_type="text/plain")
    svg = segno.make(f"{base}/evaluate/{unit['code']}", error="m").svg_inline(
        scale=6, title=f"扫码评议 {unit['name']}")
    return cacheable(web.Response(text=svg, content_type="image/svg+xml", charset="utf-8"))


@routes.post("/evaluate/{unit}")
async def evaluate(request: web.Request) -> web.StreamResponse:
    hub = _hub(request)
    unit = _unit(hub, request.match_info["unit"])
    form = await checked_form(request)
    grades = {k: str(form.get(k, "")) for k in ASPECTS}
    secret = hub.settings.secret_key
    device = verified_device(secret, request.cookies.get(DEVICE_COOKIE))
    client = EvaluationClient(client_address(request), device)
    svc: CaseService = request.app["case_service"]

    def run() -> Any:
        with transaction(hub.sessions) as s:
            return evaluate_unit(s, svc, hub.source_ids[SOURCE_NAME], unit["code"], grades,
                                 str(form.get("comment", "")), client, secret)

    context: dict[str, Any] = {"unit": unit, "aspects": ASPECTS, "grades": GRADES}
    try:
        result = await hub.run(run)
    except CaseError as exc:
        return aiohttp_jinja2.render_template("public/evaluate.html", request, {
            **context, "error": str(exc)}, status=exc.status)
    # post/redirect/get: reloading the thanks never evaluates again
    response = citizen_session.redirect(
        request, f"/evaluate/{unit['code']}/done", citizen_session.RECEIPT,
        result.case_number or "-", result.query_code or "-")
    if device is None:
        set_device_cookie(response, hub)
    return response


@routes.get("/evaluate/{unit}/done")
async def evaluated(request: web.Request) -> web.StreamResponse:
    unit = _unit(_hub(request), request.match_info["unit"])
    kept = citizen_session.recall(request, citizen_session.RECEIPT)
    number, code = kept if kept and kept[0] != "-" else (None, None)
    return aiohttp_jinja2.render_template("public/evaluate.html", request, {
        "unit": unit, "aspects": ASPECTS, "grades": GRADES, "done": True, "number": number,
        "code": code})


# -- published reports ------------------------------------------------------------------
@routes.get("/reports")
async def reports_index(request: web.Request) -> web.StreamResponse:
    from hub.models import RankingReport

    hub = _hub(request)

    def load() -> list[dict[str, Any]]:
        from zoneinfo import ZoneInfo

        from hub.ranking.period import PeriodError, parse_period, period_title

        tz = ZoneInfo(hub.config.deadlines.timezone)

        def title(label: str) -> str:
            try:
                return period_title(parse_period(label, tz))
            except PeriodError:
                return label

        with hub.sessions() as s:
            return [{"period": p, "at": at, "title": title(p)} for p, at in s.execute(
                select(RankingReport.period, RankingReport.generated_at)
                .order_by(RankingReport.period.desc()).limit(200))]

    return cacheable(aiohttp_jinja2.render_template("public/reports.html", request,
                                                    {"reports": await hub.run(load)}), 60)


@routes.get(r"/reports/{period:[0-9]{4}(-W[0-9]{2}|-Q[1-4]|-[0-9]{2})?}{ext:(\.csv|\.xlsx|\.json)?}")
async def report(request: web.Request) -> web.StreamResponse:
    from hub.ranking import publish
    from hub.ranking.report import is_current, stored

    hub = _hub(request)
    label, ext = request.match_info["period"], request.match_info["ext"]

    def load() -> dict[str, Any] | None:
        with hub.sessions() as s:
            return stored(s, label)

    payload = await hub.run(load)
    if payload is None:
        raise web.HTTPNotFound(text="该期排行榜尚未发布", content_type="text/plain")
    if ext != ".json" and not is_current(payload):
        # published by an earlier version in another layout: kept as published, as JSON
        return web.Response(
            text=f"该期排行榜按旧版格式发布，请下载 /reports/{label}.json 查看原始数据。",
            content_type="text/plain", charset="utf-8")
    name = f"ranking-{label}{ext}"
    if ext == ".csv":
        return cacheable(web.Response(
            body=publish.csv_bytes(payload), content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'}))
    if ext == ".xlsx":
        body = await hub.run(publish.xlsx_bytes, payload)
        return cacheable(web.Response(body=body, headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": f'attachment; filename="{name}"'}))
    if ext == ".json":
        return cacheable(web.Response(body=publish.json_bytes(payload),
                                      content_type="application/json"))
    return cacheable(web.Response(text=await hub.run(publish.render_html, payload),
                                  content_type="text/html"))
