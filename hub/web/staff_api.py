"""Staff JSON API: the same reads and actions as the inbox pages, for the hotline
centre's own tools. Authenticated by the session cookie (from POST
/api/v1/staff/login) plus the session's CSRF token in ``X-CSRF-Token`` on writes.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.api.errors import ApiError, json_object
from hub.api.openapi import error, json_answer, register_paths
from hub.core import Hub
from hub.db import transaction
from hub.lifecycle.actions import STAFF_ACTIONS, request_schema
from hub.lifecycle.service import CaseError, CaseService
from hub.security.text import parse_id, same_secret
from hub.web.actions import perform
from hub.web.auth import Staff
from hub.web.contact_views import record as record_views
from hub.web.contact_views import shows_contact
from hub.web.login import LoginRefused, attempt_login, set_session_cookie
from hub.web.queries import Filters, case_detail, case_json, count_cases, list_cases

routes = web.RouteTableDef()


def _staff(request: web.Request, write: bool = False) -> Staff:
    staff: Staff | None = request.get("staff")
    if staff is None:
        raise ApiError(401, "unauthorized", "log in first (POST /api/v1/staff/login)")
    if write:
        sent = request.headers.get("X-CSRF-Token", "")
        if not same_secret(sent, staff.csrf_token):
            raise ApiError(403, "csrf", "send the session's csrf_token in X-CSRF-Token")
    return staff


@routes.post("/api/v1/staff/login")
async def login(request: web.Request) -> web.Response:
    hub: Hub = request.app["hub"]
    body = await json_object(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ApiError(422, "missing_field", "username and password are required strings")
    try:
        outcome = await attempt_login(request, username[:60], password[:200])
    except LoginRefused as exc:
        raise ApiError(exc.status, "too_many_requests" if exc.status == 429 else "busy",
                       exc.message, headers={"Retry-After": str(exc.retry_after)}) from None
    if outcome is None:
        raise ApiError(401, "bad_credentials", "wrong username or password")
    response = web.json_response({"csrf_token": outcome.staff.csrf_token})
    set_session_cookie(response, hub, outcome.token)
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
    case_id = parse_id(request.match_info["case_id"])
    if case_id is None:
        raise ApiError(404, "not_found", "no such case")
    return case_id


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
_CASE_ROW = {"type": "object", "required": ["id", "number", "state", "state_label", "title"],
             "properties": {"id": {"type": "integer"}, "number": {"type": "string"},
                            "state": {"type": "string"}, "state_label": {"type": "string"},
                            "title": {"type": "string"}}}
register_paths({
    "/api/v1/staff/login": {"post": {
        "summary": "Log in; sets the session cookie and returns the CSRF token for writes",
        "description": "Attempts are limited per (username, client address) and per "
                       "address, reserved before the password is checked; never one lock "
                       "per username.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["username", "password"],
            "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}}}},
        "responses": {"200": json_answer("{csrf_token}", {
                          "type": "object", "required": ["csrf_token"],
                          "properties": {"csrf_token": {"type": "string"}}}),
                      "401": error("wrong username or password"),
                      "429": error("too many failed attempts (Retry-After)"),
                      "503": error("too many password checks waiting (Retry-After)")}}},
    "/api/v1/staff/cases": {"get": {
        "summary": "The inbox: cases this user may see, filtered like the web page",
        "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}} for n in
                       ("view", "state", "due", "channel", "county", "unit", "q", "sort",
                        "page")],
        "responses": {"200": json_answer("{total, page, more, cases}", {
                          "type": "object", "required": ["total", "page", "more", "cases"],
                          "properties": {"total": {"type": "integer"},
                                         "page": {"type": "integer"},
                                         "more": {"type": "boolean"},
                                         "cases": {"type": "array", "items": _CASE_ROW}}}),
                      "401": error("not logged in")}}},
    "/api/v1/staff/cases/{case_id}": {"get": {
        "summary": "One case with its event log, replies and ratings (masked by role)",
        "parameters": [_CASE_ID],
        "responses": {"200": json_answer("the case", {
                          **_CASE_ROW, "required": [*_CASE_ROW["required"], "version", "body",
                                                    "events", "replies", "ratings"],
                          "properties": {**_CASE_ROW["properties"],
                                         "version": {"type": "integer"},
                                         "body": {"type": "string"},
                                         "events": {"type": "array"},
                                         "replies": {"type": "array"},
                                         "ratings": {"type": "array"}}}),
                      "401": error("not logged in"),
                      "404": error("no such case, or not yours")}}},
    "/api/v1/staff/cases/{case_id}/actions": {"post": {
        "summary": "Act on a case: " + ", ".join(STAFF_ACTIONS),
        "description": "A whistleblower's (hidden-identity) case goes only to discipline "
                       "bodies, never to a unit it names; a supervisor may send it elsewhere "
                       "with override_reason, kept in the event log.",
        "parameters": [_CASE_ID, {"name": "X-CSRF-Token", "in": "header", "required": True,
                                  "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": request_schema()}}},
        "responses": {"200": json_answer("the case's new state and version", {
                          "type": "object", "required": ["id", "number", "state", "version"],
                          "properties": {"id": {"type": "integer"},
                                         "number": {"type": "string"},
                                         "state": {"type": "string"},
                                         "version": {"type": "integer"}}}),
                      "400": error("not allowed in this state"),
                      "401": error("not logged in"),
                      "403": error("wrong role, missing CSRF token, or a whistleblower's "
                                   "case to a unit it may not go to"),
                      "404": error("no such case, or not yours"),
                      "409": error("someone else changed the case")}}},
})
