"""协办 pages for a co-handling unit: its sub-tasks, one task with the appeal it is
about, and the answer to the lead unit (hub/lifecycle/cohandling.py). A unit sees
only its own tasks; another unit's task answers as if it did not exist."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.core import Hub
from hub.db import transaction
from hub.lifecycle import cohandling
from hub.lifecycle.service import CaseError
from hub.security.text import parse_id
from hub.web import checked_form, require_staff
from hub.web.auth import Staff

routes = web.RouteTableDef()


def _task_id(request: web.Request) -> int:
    task_id = parse_id(request.match_info["task_id"])
    if task_id is None:
        raise web.HTTPNotFound()
    return task_id


@routes.get("/cohandle")
@require_staff("unit")
async def my_tasks(request: web.Request) -> web.StreamResponse:
    hub: Hub = request.app["hub"]
    staff: Staff = request["staff"]

    def load() -> list[dict[str, Any]]:
        with hub.sessions() as s:
            return cohandling.tasks_of_unit(s, staff.unit_id) if staff.unit_id else []

    return aiohttp_jinja2.render_template("cohandle_list.html", request,
                                          {"tasks": await hub.run(load)})


async def _render(request: web.Request, task_id: int, error: str | None = None,
                  notice: str | None = None, status: int = 200) -> web.StreamResponse:
    hub: Hub = request.app["hub"]
    staff: Staff = request["staff"]

    def load() -> dict[str, Any]:
        with hub.sessions() as s:
            return cohandling.task_page(s, task_id, staff.unit_id)

    try:
        page = await hub.run(load)
    except CaseError as exc:
        return aiohttp_jinja2.render_template("error.html", request, {
            "heading": "找不到协办任务", "message": str(exc)}, status=exc.status)
    return aiohttp_jinja2.render_template("cohandle.html", request, {
        **page, "error": error, "notice": notice}, status=status)


@routes.get("/cohandle/{task_id}")
@require_staff("unit")
async def task_page(request: web.Request) -> web.StreamResponse:
    notice = "已回复主办单位" if request.query.get("ok") == "done" else None
    return await _render(request, _task_id(request), notice=notice)


@routes.post("/cohandle/{task_id}")
@require_staff("unit")
async def answer_task(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub: Hub = request.app["hub"]
    staff: Staff = request["staff"]
    task_id = _task_id(request)
    body = form.get("answer")

    def run() -> None:
        with transaction(hub.sessions) as s:
            cohandling.answer(s, task_id, staff.unit_id, f"unit:{staff.username}",
                              body if isinstance(body, str) else "")

    try:
        await hub.run(run)
    except CaseError as exc:
        return await _render(request, task_id, error=str(exc), status=exc.status)
    raise web.HTTPSeeOther(f"/cohandle/{task_id}?ok=done")
