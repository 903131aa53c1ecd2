"""Staff JSON API: the same reads and actions as the inbox pages, for the hotline
centre's own tools. Authenticated by the session cookie (from POST
/api/v1/staff/login) plus the session's CSRF token in ``X-CSRF-Token`` on writes.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from hub.api.errors import ApiError, json_object
from hub.api.openapi import register_paths
from hub.core import Hub
from hub.db import transaction
from hub.lifecycle.service import CaseError, CaseService
from hub.web import SESSION_COOKIE
from hub.web.actions import perform
from hub.web.auth import LoginLimiter, Staff, authenticate, start_session
from hub.web.contact_views import record as record_views
from hub.web.contact_views import shows_contact
from hub.web.queries import Filters, case_detail, case_json, count_cases, list_cases

routes = web.RouteTableDef()


def _staff(request: web.Request, write: bool = False) -> Staff:
    staff: Staff | None = request.get("staff")
    if staff is None:
        raise ApiError(401, "unauthorized", "log in first (POST /api/v1/staff/login)")
    if write:
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent or not secrets.compare_digest(sent, staff.csrf_token):
            raise ApiError(403, "csrf", "send the session's csrf_token in X-CSRF-Token")
    return staff


@routes.post("/api/v1/staff/login")
async def login(request: web.Request) -> web.Response:
    hub: Hub = request.app["hub"]
    body = await json_object(request)
    username, password = str(body.get("username", ""))[:60], str(body.get("password", ""))[:200]
    limiter: LoginLimiter = request.app["login_limiter"]
    keys = (f"ip:{request.remote}", f"user:{username}")
    if await hub.run(limiter.blocked, *keys):
        raise ApiError(429, "too_many_requests", "too many failed logins; wait 5 minutes")

    def check() -> tuple[str, str] | None:
        from hub.web.auth import load_staff

        with transaction(hub.sessions) as s:
            user = authenticate(s, username, password)
            if user is None:
                return None
            token = start_session(s, user, hub.settings.session_hours)
            s.flush()
            staff = load_staff(s, token)
            assert staff is not None
            return token, staff.csrf_token

    got = await hub.run(check)
    if got is None:
        await hub.run(limiter.failed, *keys)
        raise ApiError(401, "bad_credentials", "wrong username or password")
    await hub.run(limiter.succeeded, *keys)
    response = web.json_response({"csrf_token": got[1]})
    response.set_cookie(SESSION_COOKIE, got[0], httponly=True, samesite="Lax",
                        secure=hub.settings.secure_cookies,
                        max_age=int(hub.settings.session_hours * 3600))
    return response


@routes.get("/api/v1/staff/cases")
async def list_json(request: web.Request) -> web.Response:
    staff = _staff(request)
    hub: Hub = request.app["hub"]
    filters = Filters.from_query(request.query)
    calendar = request.app["case_service"].calendar

    def load() -> dict[str, Any]:
        with hub.sessions() as s:
            rows, more = list_cases(s, staff, filters, calendar)
            return {"total": count_cases(s, staff, filters), "page": filters.page,
                    "more": more, "cases": [r.as_json() for r in rows]}

    return web.json_response(await hub.run(load))


def _case_id(request: web.Request) -> int:
    raw = request.match_info["case_id"]
    if not raw.isdigit():
        raise ApiError(404, "not_found", "no such case")
    return int(raw)


@routes.get("/api/v1/staff/cases/{case_id}")
async def get_json(request: web.Request) -> web.Response:
    staff = _staff(request)
    hub: Hub = request.app["hub"]
    calendar = request.app["case_service"].calendar
    case_id = _case_id(request)

    def load() -> dict[str, Any]:
        with hub.sessions() as s:
            detail = case_detail(s, staff, case_id, calendar)
        if shows_contact(detail):  # recorded before it is shown (hub/web/contact_views.py)
            record_views(hub.sessions, staff, [case_id], "api")
        return case_json(detail)

    try:
        return web.json_response(await hub.run(load))
    except CaseError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None


@routes.post("/api/v1/staff/cases/{case_id}/actions")
async def act_json(request: web.Request) -> web.Response:
    staff = _staff(request, write=True)
    hub: Hub = request.app["hub"]
    svc: CaseService = request.app["case_service"]
    case_id = _case_id(request)
    body = await json_object(request)
    action = str(body.get("action", ""))

    def run() -> dict[str, Any]:
        with transaction(hub.sessions) as s:
            case = perform(svc, s, staff, case_id, action, body)
            return {"id": case.id, "number": case.number, "state": case.state,
                    "version": case.version}

    try:
        return web.json_response(await hub.run(run))
    except CaseError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None


_CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
register_paths({
    "/api/v1/staff/login": {"post": {
        "summary": "Log in; sets the session cookie and returns the CSRF token for writes",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["username", "password"],
            "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}}}},
        "responses": {"200": {"description": "{csrf_token}"},
                      "401": {"description": "wrong username or password"},
                      "429": {"description": "too many failed attempts"}}}},
    "/api/v1/staff/cases": {"get": {
        "summary": "The inbox: cases this user may see, filtered like the web page",
        "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}} for n in
                       ("view", "state", "due", "channel", "county", "unit", "q", "sort",
                        "page")],
        "responses": {"200": {"description": "{total, page, more, cases}"},
                      "401": {"description": "not logged in"}}}},
    "/api/v1/staff/cases/{case_id}": {"get": {
        "summary": "One case with its event log, replies and ratings (masked by role)",
        "parameters": [_CASE_ID],
        "responses": {"200": {"description": "the case"},
                      "404": {"description": "no such case, or not yours"}}}},
    "/api/v1/staff/cases/{case_id}/actions": {"post": {
        "summary": "Act on a case: assign, merge, correct, sign, reply, return, "
                   "request_extension, decide_extension, urge",
        "parameters": [_CASE_ID, {"name": "X-CSRF-Token", "in": "header", "required": True,
                                  "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["action"], "properties": {
                "action": {"type": "string", "enum": [
                    "assign", "merge", "correct", "sign", "reply", "return",
                    "request_extension", "decide_extension", "urge"]},
                "version": {"type": "integer", "description": "the version you saw"},
                "unit": {"type": "string"}, "category": {"type": "string"},
                "difficulty": {"type": "string", "enum": ["normal", "hard"]},
                "body": {"type": "string"}, "reason": {"type": "string"},
                "note": {"type": "string"}, "into": {"type": "string"},
                "grant": {"type": "boolean"}}}}}},
        "responses": {"200": {"description": "the case's new state and version"},
                      "400": {"description": "not allowed in this state"},
                      "403": {"description": "wrong role or missing CSRF token"},
                      "404": {"description": "no such case, or not yours"},
                      "409": {"description": "someone else changed the case"}}}},
})
