"""Staff JSON API: the same reads and actions as the inbox pages, for the hotline
centre's own tools. Authenticated by the session cookie (from POST
/api/v1/staff/login) plus the session's CSRF token in ``X-CSRF-Token`` on writes.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.api import shapes
from hub.api.errors import ApiError, json_object
from hub.api.openapi import error, json_answer, json_body, register_paths
from hub.core import Hub
from hub.db import transaction
from hub.lifecycle.actions import STAFF_ACTIONS, request_schema
from hub.lifecycle.service import CaseError, CaseService
from hub.security.text import parse_id, same_secret
from hub.web.actions import perform
from hub.web.auth import Staff
from hub.web.case_queries import case_detail
from hub.web.contact_views import record as record_views
from hub.web.contact_views import shows_contact
from hub.web.inbox_queries import Filters, count_cases, list_cases
from hub.web.login import LoginRefused, attempt_login, set_session_cookie

routes = web.RouteTableDef()


class LoginRequest(BaseModel):
    """The body of POST /api/v1/staff/login (other keys are ignored)."""

    username: str
    password: str


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
    try:
        body = LoginRequest.model_validate(await json_object(request), strict=True)
    except ValidationError:
        raise ApiError(422, "missing_field",
                       "username and password are required strings") from None
    try:
        outcome = await attempt_login(request, body.username[:60], body.password[:200])
    except LoginRefused as exc:
        raise ApiError(exc.status, "too_many_requests" if exc.status == 429 else "busy",
                       exc.message, headers={"Retry-After": str(exc.retry_after)}) from None
    if outcome is None:
        raise ApiError(401, "bad_credentials", "wrong username or password")
    response = shapes.answer(shapes.LoginAnswer(csrf_token=outcome.staff.csrf_token))
    set_session_cookie(response, hub, outcome.token)
    return response


@routes.get("/api/v1/staff/cases")
async def list_json(request: web.Request) -> web.Response:
    staff = _staff(request)
    hub: Hub = request.app["hub"]
    filters = Filters.from_query(request.query)
    calendar = request.app["case_service"].calendar

    def load() -> shapes.CasePage:
        with hub.sessions() as s:
            rows, more = list_cases(s, staff, filters, calendar)
            return shapes.CasePage(
                total=count_cases(s, staff, filters), page=filters.page, more=more,
                cases=[shapes.CaseRow.model_validate(asdict(r)) for r in rows])

    return shapes.answer(await hub.run(load))


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

    def load() -> shapes.CaseDetail:
        with hub.sessions() as s:
            detail = case_detail(s, staff, case_id, calendar)
        answer = _case_answer(detail)
        if shows_contact(detail):  # recorded before it is shown (hub/web/contact_views.py)
            record_views(hub.sessions, staff, [case_id], "api")
        return answer

    try:
        return shapes.answer(await hub.run(load))
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

    def run() -> shapes.ActionAnswer:
        with transaction(hub.sessions) as s:
            case = perform(svc, s, staff, case_id, action, body)
            return shapes.ActionAnswer(id=case.id, number=case.number, state=case.state,
                                       version=case.version)

    try:
        return shapes.answer(await hub.run(run))
    except CaseError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None


def _case_answer(detail: dict[str, Any]) -> shapes.CaseDetail:
    """The case page's data (hub/web/case_queries.py) as the API's answer."""
    case = detail["case"]
    return shapes.CaseDetail(
        id=case.id, number=case.number, state=case.state,
        state_label=detail["state_label"], version=case.version,
        category=case.category, county=case.county_code,
        unit=detail["unit"].code if detail["unit"] else None,
        confidence=case.confidence, suggestions=case.suggestions or [],
        urgent=case.urgent, urgent_terms=case.urgent_terms or [],
        deadline_at=case.deadline_at, due_state=case.due_state,
        days_left=detail["days_left"], title=detail["title"], body=detail["body"],
        contact_name=detail["contact_name"], contact_phone=detail["contact_phone"],
        channel=detail["channel"], received_at=detail["received_at"],
        events=[shapes.CaseLogEntry.model_validate(e) for e in detail["events"]],
        replies=[shapes.CaseReply.model_validate(r) for r in detail["replies"]],
        ratings=[shapes.CaseRating.model_validate(r) for r in detail["ratings"]])


_CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
register_paths({
    "/api/v1/staff/login": {"post": {
        "summary": "Log in; sets the session cookie and returns the CSRF token for writes",
        "description": "Attempts are limited per (username, client address) and per "
                       "address, reserved before the password is checked; never one lock "
                       "per username.",
        "requestBody": json_body(LoginRequest),
        "responses": {"200": json_answer("{csrf_token}", shapes.LoginAnswer),
                      "401": error("wrong username or password"),
                      "429": error("too many failed attempts (Retry-After)"),
                      "503": error("too many password checks waiting (Retry-After)")}}},
    "/api/v1/staff/cases": {"get": {
        "summary": "The inbox: cases this user may see, filtered like the web page",
        "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}} for n in
                       ("view", "state", "due", "channel", "county", "unit", "q", "sort",
                        "page")],
        "responses": {"200": json_answer("{total, page, more, cases}", shapes.CasePage),
                      "401": error("not logged in")}}},
    "/api/v1/staff/cases/{case_id}": {"get": {
        "summary": "One case with its event log, replies and ratings (masked by role)",
        "parameters": [_CASE_ID],
        "responses": {"200": json_answer("the case", shapes.CaseDetail),
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
        "responses": {"200": json_answer("the case's new state and version",
                                         shapes.ActionAnswer),
                      "400": error("not allowed in this state"),
                      "401": error("not logged in"),
                      "403": error("wrong role, missing CSRF token, or a whistleblower's "
                                   "case to a unit it may not go to"),
                      "404": error("no such case, or not yours"),
                      "409": error("someone else changed the case")}}},
})
