"""Citizens' API: look up a case by number and query code (查询验证码), and rate it.

A citizen sees the status, the unit and the replies, nothing else; personal data
in the appeal text is masked even here, since the code may be shared. A caller whose
case was linked to the one carrying the same matter (a duplicate, a surge) sees that
case's progress and reply under their own number and code, and may rate it.
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError, create_model
from sqlalchemy import select

from hub.api import shapes
from hub.api.errors import ApiError, json_object
from hub.api.openapi import error, json_answer, json_body, register_paths
from hub.core import Hub
from hub.db import transaction
from hub.lifecycle import codes
from hub.lifecycle.evaluations import ASPECTS, SOURCE_NAME, EvaluationClient, evaluate_unit
from hub.lifecycle.service import GRADES, CaseError, CaseService
from hub.lifecycle.states import state_label
from hub.lifecycle.timeline import citizen_timeline
from hub.models import Appeal, Rating, Reply, Unit
from hub.privacy import mask_text
from hub.security.clients import client_address
from hub.security.devices import COOKIE as DEVICE_COOKIE
from hub.security.devices import MAX_AGE as DEVICE_MAX_AGE
from hub.security.devices import new_device, verified_device

routes = web.RouteTableDef()
MAX_COMMENT = 2000
# a grade's text; which ones exist is checked by the handlers (400 bad_grade), which the
# web forms share, so the enum is documented here but not enforced by the model
GradeText = Annotated[str, Field(json_schema_extra={"enum": list(GRADES)})]


class RatingRequest(BaseModel):
    """The body of POST /api/v1/cases/{number}/rating (other keys are ignored)."""

    code: str
    grade: GradeText
    comment: str | None = Field(None, max_length=MAX_COMMENT)
    solved: bool | None = Field(None, description="是否解决: was the problem solved "
                                "(kept apart from the grade; false reopens like 不满意)")


# one grade per aspect of hub/lifecycle/evaluations.py, documented from the same table;
# the grades are checked by evaluate_unit (400), as for the QR page's form
EvaluationRequest = create_model(
    "EvaluationRequest", __doc__="The body of POST /api/v1/units/{unit}/evaluations.",
    **{aspect: (GradeText, ...) for aspect in ASPECTS},
    comment=(str | None, Field(None, max_length=MAX_COMMENT)))


def _service(request: web.Request) -> CaseService:
    return request.app["case_service"]  # type: ignore[no-any-return]


def citizen_view(hub: Hub, number: str, code: str, client: str,
                 verified: bool = False) -> dict[str, Any]:
    """What a citizen may see with number and code: state, unit, replies; masked.
    Served as JSON here and as the public look-up page (hub/web/public.py); the code
    check is throttled per client and per case number (hub/lifecycle/codes.py). A caller
    linked to the case carrying their matter (a hot event) follows that case.
    ``verified``: the page after a look-up (hub/web/citizen_session.py) shows a case
    whose code was just checked, and is not counted again."""
    from hub.lifecycle.linked import carrier_of, may_rate
    from hub.surge.store import surge_notice

    tz = ZoneInfo(hub.config.deadlines.timezone)

    def load() -> dict[str, Any]:
        with hub.sessions() as s:
            case = CaseService.find_for_citizen(s, number, code)
            handling = carrier_of(s, case)
            appeal = s.get(Appeal, case.appeal_id)
            unit = s.get(Unit, handling.unit_id) if handling.unit_id else None
            replies = s.scalars(select(Reply).where(Reply.case_id == handling.id)
                                .order_by(Reply.id))
            known = (appeal.contact_name, appeal.contact_phone) if appeal else ()
            return {"number": case.number, "state": handling.state,
                    "state_label": state_label(handling.state),
                    "title": mask_text(appeal.title, known) if appeal else None,
                    "unit": unit.name if unit else None, "deadline_at": handling.deadline_at,
                    "replies": [{"at": r.at, "body": mask_text(r.body, known),
                                 "resolution": r.resolution, "planned_on": r.planned_on}
                                for r in replies],
                    "can_rate": may_rate(s, case, handling),
                    "linked_to": handling.number if handling.id != case.id else None,
                    "surge": surge_notice(s, handling.id),
                    "paused": {"since": handling.paused_at, "reason": handling.pause_kind}
                    if handling.paused_at else None,
                    "timeline": citizen_timeline(s, handling, tz),
                    "ratings": [{"round": r.round, "grade": r.grade, "solved": r.solved,
                                 "at": r.at} for r in s.scalars(
                        select(Rating).where(Rating.case_id == case.id).order_by(Rating.id))]}

    if verified:  # a cookie the hub signed after this code passed its check
        return load()
    return codes.checked(hub.sessions, hub.settings.secret_key, number, client, load)


def rate_as_citizen(hub: Hub, svc: CaseService, number: str, code: str, grade: str,
                    comment: str | None, channel: str, client: str,
                    solved: bool | None = None) -> Any:
    """评价 behind the same code limits as the look-up."""
    def run() -> Any:
        with transaction(hub.sessions) as s:
            return svc.rate(s, number, code, grade, comment, channel=channel, solved=solved)

    return codes.checked(hub.sessions, hub.settings.secret_key, number, client, run)


def _case_error(exc: CaseError) -> ApiError:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, codes.CodeLocked) \
        else None
    return ApiError(exc.status, exc.code, str(exc), headers=headers)


@routes.get("/api/v1/cases/{number}")
async def get_case(request: web.Request) -> web.Response:
    hub: Hub = request.app["hub"]
    client = client_address(request)

    def load() -> shapes.CitizenCase:
        return shapes.CitizenCase.model_validate(citizen_view(
            hub, request.match_info["number"], request.query.get("code", ""), client))

    try:
        return shapes.answer(await hub.run(load))
    except CaseError as exc:
        raise _case_error(exc) from None


@routes.post("/api/v1/cases/{number}/rating")
async def rate_case(request: web.Request) -> web.Response:
    hub: Hub = request.app["hub"]
    try:
        rating = RatingRequest.model_validate(await json_object(request), strict=True)
    except ValidationError as exc:
        if any(e["loc"][0] in ("code", "grade") for e in exc.errors()):
            raise ApiError(422, "missing_field",
                           "请提供查询验证码（code）和评价（grade）") from None
        if any(e["loc"][0] == "solved" for e in exc.errors()):
            raise ApiError(422, "wrong_type", "是否解决（solved）只能是 true、false 或 null",
                           field="solved") from None
        raise ApiError(422, "too_long", f"意见（comment）须为不超过 {MAX_COMMENT} 字的文字") \
            from None
    if rating.grade not in GRADES:
        raise ApiError(400, "bad_grade", "评价（grade）须为：" + "、".join(GRADES),
                       field="grade")
    svc = _service(request)
    client = client_address(request)

    def rate() -> shapes.RatingAnswer:
        case = rate_as_citizen(hub, svc, request.match_info["number"], rating.code,
                               rating.grade, rating.comment, "api", client, rating.solved)
        return shapes.RatingAnswer(number=case.number, state=case.state,
                                   state_label=state_label(case.state))

    try:
        return shapes.answer(await hub.run(rate))
    except CaseError as exc:
        raise _case_error(exc) from None


register_paths({
    "/api/v1/cases/{number}": {"get": {
        "summary": "A citizen's view of a case (needs the query code); personal data in "
                   "the title and replies is masked",
        "description": "Throttled per client address and per case number: after repeated "
                       "wrong codes the number's code checks are locked for a while (429 "
                       "with Retry-After), whichever address asks.",
        "parameters": [{"name": "number", "in": "path", "required": True,
                        "schema": {"type": "string"}},
                       {"name": "code", "in": "query", "required": True,
                        "schema": {"type": "string"}}],
        "responses": {"200": json_answer(
                          "status, unit and replies; for a caller linked to the case "
                          "carrying the same matter, that case's (its number in linked_to; "
                          "surge: a note when the matter is a hot event)",
                          shapes.CitizenCase),
                      "404": error("wrong number or code"),
                      "429": error("too many look-ups, or the number is locked")}}},
    "/api/v1/cases/{number}/rating": {"post": {
        "summary": "Rate the reply: 满意 / 基本满意 / 不满意 (不满意 reopens the case)",
        "parameters": [{"name": "number", "in": "path", "required": True,
                        "schema": {"type": "string"}}],
        "requestBody": json_body(RatingRequest),
        "responses": {"200": json_answer("the case's new state", shapes.RatingAnswer),
                      "400": error("the grade is not one of the three"),
                      "404": error("wrong number or code"),
                      "409": error("nothing to rate, or already rated"),
                      "429": error("too many attempts, or the number is locked")}}},
})


@routes.post("/api/v1/units/{unit}/evaluations")
async def evaluate_unit_json(request: web.Request) -> web.Response:
    """扫码评议 by API (e.g. a hall's tablet): the same rules as the QR page; the
    device cookie is set on the first answer and counted from then on."""
    hub: Hub = request.app["hub"]
    body = await json_object(request)
    grades = {k: body.get(k) for k in ASPECTS}
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise ApiError(422, "too_long", f"意见（comment）须为不超过 {MAX_COMMENT} 字的文字")
    secret = hub.settings.secret_key
    device = verified_device(secret, request.cookies.get(DEVICE_COOKIE))
    client = EvaluationClient(client_address(request), device)
    svc = _service(request)

    def run() -> shapes.EvaluationAnswer:
        with transaction(hub.sessions) as s:
            result = evaluate_unit(s, svc, hub.source_ids[SOURCE_NAME],
                                   request.match_info["unit"], grades,  # type: ignore[arg-type]
                                   comment, client, secret)
            return shapes.EvaluationAnswer(
                evaluation_id=result.evaluation_id, case_number=result.case_number,
                query_code=result.query_code, flagged=result.flag is not None)

    try:
        response = shapes.answer(await hub.run(run), status=201)
    except CaseError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None
    if device is None:
        set_device_cookie(response, hub)
    return response


def set_device_cookie(response: web.StreamResponse, hub: Hub) -> None:
    response.set_cookie(DEVICE_COOKIE, new_device(hub.settings.secret_key), httponly=True,
                        samesite="Lax", secure=hub.settings.secure_cookies,
                        max_age=DEVICE_MAX_AGE)


register_paths({"/api/v1/units/{unit}/evaluations": {"post": {
    "summary": "Evaluate a unit (扫码评议); 基本满意/不满意 opens a case answered via a query code",
    "parameters": [{"name": "unit", "in": "path", "required": True,
                    "schema": {"type": "string"}}],
    "requestBody": json_body(EvaluationRequest),
    "description": "Counted per signed device cookie (set on the first answer), per "
                   "client address and per unit and day; a suspicious one (no device "
                   "cookie, a burst) is kept but flagged and counts in rankings only once "
                   "a supervisor accepts it.",
    "responses": {"201": json_answer("the evaluation; a case and query code for a low grade",
                                     shapes.EvaluationAnswer),
                  "400": error("a grade is missing or unknown, or no such unit"),
                  "429": error("too many evaluations from this device or network today")}}}})
