"""Citizens' API: look up a case by number and query code (查询验证码), and rate it.

A citizen sees the status, the unit and the replies, nothing else; personal data
in the appeal text is masked even here, since the code may be shared. A caller whose
case was linked to the one carrying the same matter (a duplicate, a surge) sees that
case's progress and reply under their own number and code, and may rate it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from hub.api.errors import ApiError, json_object
from hub.api.openapi import register_paths
from hub.core import Hub
from hub.db import transaction
from hub.lifecycle.service import CaseError, CaseService
from hub.lifecycle.states import STATE_LABELS
from hub.models import Appeal, Reply, Unit
from hub.privacy import mask_text

routes = web.RouteTableDef()


def _service(request: web.Request) -> CaseService:
    return request.app["case_service"]  # type: ignore[no-any-return]


def citizen_view(hub: Hub, number: str, code: str) -> dict[str, Any]:
    """What a citizen may see with number and code: state, unit, replies; masked.
    Served as JSON here and as the public look-up page (hub/web/public.py)."""
    from hub.lifecycle.linked import carrier_of, may_rate
    from hub.surge.store import surge_notice

    with hub.sessions() as s:
        case = CaseService.find_for_citizen(s, number, code)
        # a caller linked to the case carrying their matter follows that case
        handling = carrier_of(s, case)
        appeal = s.get(Appeal, case.appeal_id)
        unit = s.get(Unit, handling.unit_id) if handling.unit_id else None
        replies = s.scalars(select(Reply).where(Reply.case_id == handling.id)
                            .order_by(Reply.id))
        return {"number": case.number, "state": handling.state,
                "state_label": STATE_LABELS[handling.state],
                "title": mask_text(appeal.title) if appeal else None,
                "unit": unit.name if unit else None, "deadline_at": handling.deadline_at,
                "replies": [{"at": r.at, "body": mask_text(r.body)} for r in replies],
                "can_rate": may_rate(s, case, handling),
                "linked_to": handling.number if handling.id != case.id else None,
                "surge": surge_notice(s, handling.id)}


@routes.get("/api/v1/cases/{number}")
async def get_case(request: web.Request) -> web.Response:
    hub: Hub = request.app["hub"]

    def load() -> dict[str, Any]:
        view = citizen_view(hub, request.match_info["number"], request.query.get("code", ""))
        deadline = view["deadline_at"]
        return {**view, "deadline_at": deadline.isoformat() if deadline else None,
                "replies": [{"at": r["at"].isoformat(), "body": r["body"]}
                            for r in view["replies"]]}

    try:
        return web.json_response(await hub.run(load))
    except CaseError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None


@routes.post("/api/v1/cases/{number}/rating")
async def rate_case(request: web.Request) -> web.Response:
    hub: Hub = request.app["hub"]
    body = await json_object(request)
    if not isinstance(body.get("code"), str) or not isinstance(body.get("grade"), str):
        raise ApiError(422, "missing_field", "code and grade are required strings")
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > 2000):
        raise ApiError(422, "too_long", "comment must be a string of at most 2000 characters")
    svc = _service(request)

    def rate() -> dict[str, Any]:
        with transaction(hub.sessions) as s:
            case = svc.rate(s, request.match_info["number"], body["code"], body["grade"],
                            comment, channel="api")
            return {"number": case.number, "state": case.state,
                    "state_label": STATE_LABELS[case.state]}

    try:
        return web.json_response(await hub.run(rate))
    except CaseError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None


register_paths({
    "/api/v1/cases/{number}": {"get": {
        "summary": "A citizen's view of a case (needs the query code)",
        "parameters": [{"name": "number", "in": "path", "required": True,
                        "schema": {"type": "string"}},
                       {"name": "code", "in": "query", "required": True,
                        "schema": {"type": "string"}}],
        "responses": {"200": {"description": "status, unit and replies; for a caller linked "
                                             "to the case carrying the same matter, that "
                                             "case's (its number in linked_to; surge: a note "
                                             "when the matter is a hot event)"},
                      "404": {"description": "wrong number or code"}}}},
    "/api/v1/cases/{number}/rating": {"post": {
        "summary": "Rate the reply: 满意 / 基本满意 / 不满意 (不满意 reopens the case)",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["code", "grade"], "properties": {
                "code": {"type": "string"},
                "grade": {"type": "string", "enum": ["满意", "基本满意", "不满意"]},
                "comment": {"type": "string", "maxLength": 2000}}}}}},
        "responses": {"200": {"description": "the case's new state"},
                      "404": {"description": "wrong number or code"},
                      "409": {"description": "nothing to rate, or already rated"}}}},
})


@routes.post("/api/v1/units/{unit}/evaluations")
async def evaluate_unit_json(request: web.Request) -> web.Response:
    """扫码评议 by API (e.g. a hall's tablet): the same rules as the QR page."""
    from hub.lifecycle.evaluations import SOURCE_NAME, client_fingerprint, evaluate_unit

    hub: Hub = request.app["hub"]
    body = await json_object(request)
    grades = {k: body.get(k) for k in ("responsibility", "efficiency", "conduct")}
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > 2000):
        raise ApiError(422, "too_long", "comment must be a string of at most 2000 characters")
    client = client_fingerprint(hub.settings.secret_key, request.remote or "",
                                request.headers.get("User-Agent", ""))
    svc = _service(request)

    def run() -> dict[str, Any]:
        with transaction(hub.sessions) as s:
            result = evaluate_unit(s, svc, hub.source_ids[SOURCE_NAME],
                                   request.match_info["unit"], grades,  # type: ignore[arg-type]
                                   comment, client)
            return {"evaluation_id": result.evaluation_id, "case_number": result.case_number,
                    "query_code": result.query_code}

    try:
        return web.json_response(await hub.run(run), status=201)
    except CaseError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None


_GRADE = {"type": "string", "enum": ["满意", "基本满意", "不满意"]}
register_paths({"/api/v1/units/{unit}/evaluations": {"post": {
    "summary": "Evaluate a unit (扫码评议); 基本满意/不满意 opens a case answered via a query code",
    "parameters": [{"name": "unit", "in": "path", "required": True,
                    "schema": {"type": "string"}}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["responsibility", "efficiency", "conduct"],
        "properties": {"responsibility": _GRADE, "efficiency": _GRADE, "conduct": _GRADE,
                       "comment": {"type": "string", "maxLength": 2000}}}}}},
    "responses": {"201": {"description": "{evaluation_id, case_number, query_code}"},
                  "400": {"description": "a grade is missing or unknown, or no such unit"},
                  "429": {"description": "too many evaluations from this device today"}}}}})
