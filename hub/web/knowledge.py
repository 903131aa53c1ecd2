"""知识库 pages: every staff member reads and searches; admins and the owning unit
write; each save keeps a revision (the history); articles past their review date are
flagged to their owners on the list (hub/knowledge/store.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.core import Hub
from hub.db import transaction
from hub.knowledge.store import Draft, history, listing, may_edit, save, search
from hub.lifecycle.service import CaseError
from hub.models import Article, Unit, utcnow
from hub.security.text import clean_line, parse_id
from hub.web import checked_form, require_staff
from hub.web.auth import Staff
from hub.web.choices import choices

routes = web.RouteTableDef()


def _today(request: web.Request) -> date:
    return utcnow().astimezone(request.app["case_service"].calendar.tz).date()


def _date(form: Any, name: str) -> date | None:
    raw = str(form.get(name, "")).strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CaseError(f"日期格式应为 YYYY-MM-DD：{raw[:20]}") from None


def _draft(form: Any) -> Draft:
    return Draft(title=clean_line(str(form.get("title", "")), 200),
                 body=str(form.get("body", ""))[:20000],
                 category=str(form.get("category", "")).strip() or None,
                 unit_code=str(form.get("unit", "")).strip() or None,
                 valid_from=_date(form, "valid_from"), valid_to=_date(form, "valid_to"),
                 review_on=_date(form, "review_on"))


@routes.get("/knowledge")
@require_staff()
async def knowledge_list(request: web.Request) -> web.StreamResponse:
    hub: Hub = request.app["hub"]
    staff: Staff = request["staff"]
    q = clean_line(request.query.get("q", ""), 100)
    today = _today(request)

    def load() -> dict[str, Any]:
        with hub.sessions() as s:
            return {"found": search(s, q, today, limit=20) if q else None,
                    "articles": listing(s, today),
                    "mine": [a for a in listing(s, today, staff.unit_id) if a["stale"]]
                    if staff.role == "unit" and staff.unit_id else []}

    return aiohttp_jinja2.render_template("knowledge_list.html", request, {
        **await hub.run(load), "q": q,
        "can_create": may_edit(staff.role, staff.unit_id, None)})


async def _render(request: web.Request, article_id: int | None, error: str | None = None,
                  status: int = 200, draft: dict[str, str] | None = None) -> web.StreamResponse:
    hub: Hub = request.app["hub"]
    staff: Staff = request["staff"]

    def load() -> dict[str, Any]:
        with hub.sessions() as s:
            article = s.get(Article, article_id) if article_id else None
            unit = s.get(Unit, article.unit_id) if article and article.unit_id else None
            return {"article": article, "unit_name": unit.name if unit else None,
                    "revisions": history(s, article_id) if article_id else [],
                    "editable": may_edit(staff.role, staff.unit_id, article)}

    page = await hub.run(load)
    if article_id and page["article"] is None:
        return aiohttp_jinja2.render_template("error.html", request, {
            "heading": "找不到这篇知识", "message": "它可能已被删除或地址有误。"}, status=404)
    return aiohttp_jinja2.render_template("knowledge.html", request, {
        **choices(hub), **page, "error": error, "draft": draft or {},
        "notice": "已保存" if request.query.get("ok") else None}, status=status)


@routes.get("/knowledge/new")
@require_staff("admin", "unit")
async def new_article(request: web.Request) -> web.StreamResponse:
    return await _render(request, None)


@routes.get("/knowledge/{article_id}")
@require_staff()
async def article_page(request: web.Request) -> web.StreamResponse:
    article_id = parse_id(request.match_info["article_id"])
    if article_id is None:
        raise web.HTTPNotFound()
    return await _render(request, article_id)


@routes.post("/knowledge/new")
@routes.post("/knowledge/{article_id}")
@require_staff("admin", "unit")
async def save_article(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub: Hub = request.app["hub"]
    staff: Staff = request["staff"]
    raw_id = request.match_info.get("article_id")
    article_id = parse_id(raw_id) if raw_id else None
    if raw_id and article_id is None:
        raise web.HTTPNotFound()
    version = parse_id(str(form.get("version", "")))
    categories = tuple(hub.config.routing.categories)

    def run() -> int:
        with transaction(hub.sessions) as s:
            article = save(s, _draft(form), f"{staff.role}:{staff.username}", staff.role,
                           staff.unit_id, article_id, version, categories)
            assert article.id is not None
            return article.id

    try:
        saved = await hub.run(run)
    except CaseError as exc:
        draft = {k: str(v) for k, v in form.items() if k != "csrf"}
        return await _render(request, article_id, str(exc), exc.status, draft)
    raise web.HTTPSeeOther(f"/knowledge/{saved}?ok=1")
