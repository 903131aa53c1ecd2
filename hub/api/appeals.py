"""Intake API for the hotline centre's system and other push channels."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from hub.api import shapes
from hub.api.errors import ApiError, body_error, read_body
from hub.bootstrap import hash_key
from hub.core import Hub
from hub.intake import Unstorable
from hub.intake_schema import MAX_BATCH, ItemError, validate_item
from hub.models import Appeal, Case
from hub.security.jsonbody import BodyError, parse_json
from hub.security.text import parse_id

routes = web.RouteTableDef()


def _source_for(request: web.Request) -> tuple[str, int]:
    key = request.headers.get("X-Api-Key", "")
    if not key:
        raise ApiError(401, "missing_api_key", "send the source's API key in X-Api-Key")
    name = request.app["api_keys"].get(hash_key(key))
    if name is None:
        raise ApiError(401, "bad_api_key", "the API key matches no enabled push source")
    hub: Hub = request.app["hub"]
    return name, hub.source_ids[name]


async def _json_body(request: web.Request) -> Any:
    try:
        return parse_json(await read_body(request))
    except BodyError as exc:
        raise body_error(exc) from None


@routes.post("/api/v1/appeals")
async def post_appeals(request: web.Request) -> web.Response:
    source_name, source_id = _source_for(request)
    hub: Hub = request.app["hub"]
    payload = await _json_body(request)
    batch = isinstance(payload, list) or (isinstance(payload, dict) and "appeals" in payload)
    items = payload if isinstance(payload, list) else payload.get("appeals") if batch else [payload]
    if not isinstance(items, list):
        raise ApiError(422, "wrong_type", "appeals must be a list", field="appeals")
    if batch and isinstance(payload, dict) and set(payload) != {"appeals"}:
        extra = sorted(set(payload) - {"appeals"})
        raise ApiError(422, "unknown_field", f"unknown field {extra[0]!r}", field=extra[0])
    if not items:
        raise ApiError(422, "empty_batch", "the batch holds no appeals")
    if len(items) > MAX_BATCH:
        raise ApiError(413, "batch_too_large", f"at most {MAX_BATCH} appeals per request")
    valid, errors = [], {}
    for index, item in enumerate(items):
        try:
            valid.append((index, validate_item(item, hub.config.earliest)))
        except ItemError as exc:
            errors[index] = exc
    if not batch:
        if errors:
            err = errors[0]
            raise ApiError(422, err.code, err.message,
                           **({"field": err.field} if err.field else {}))
    try:
        results = await request.app["intake"].submit(
            source_id, [a for _, a in valid]) if valid else []
    except Unstorable as exc:
        raise ApiError(422, "unstorable", str(exc)) from None
    by_index = dict(zip([i for i, _ in valid], results, strict=True))
    if not batch:
        res = results[0]
        if res.conflict:
            raise ApiError(409, "external_id_conflict",
                           "this external_id was stored before with different content; "
                           "send a new external_id for a new appeal", existing_id=res.id,
                           url=f"/api/v1/appeals/{res.id}")
        return shapes.answer(shapes.Enqueued(id=res.id, created=res.created, source=source_name,
                                             url=f"/api/v1/appeals/{res.id}"),
                             status=201 if res.created else 200)
    out: list[shapes.BatchItem] = []
    accepted = 0
    for index in range(len(items)):
        if index in errors:
            out.append(shapes.BatchItem(index=index, error=shapes.ErrorDetail.model_validate(
                errors[index].as_dict())))
        elif by_index[index].conflict:
            res = by_index[index]
            out.append(shapes.BatchItem(index=index, id=res.id, error=shapes.ErrorDetail(
                code="external_id_conflict", field="external_id",
                message="stored before with different content; not changed")))
        else:
            res = by_index[index]
            accepted += 1
            out.append(shapes.BatchItem(index=index, id=res.id, created=res.created))
    status = 422 if not accepted else 200
    return shapes.answer(shapes.BatchResult(accepted=accepted, rejected=len(items) - accepted,
                                            results=out), status=status)


@routes.get("/api/v1/appeals/{appeal_id}")
async def get_appeal(request: web.Request) -> web.Response:
    _name, source_id = _source_for(request)
    appeal_id = parse_id(request.match_info["appeal_id"])
    if appeal_id is None:
        raise ApiError(404, "not_found", "no such appeal")
    hub: Hub = request.app["hub"]

    def load() -> shapes.Appeal | None:
        with hub.sessions() as s:
            appeal = s.get(Appeal, appeal_id)
            if appeal is None or appeal.source_id != source_id:
                return None
            case = s.scalar(select(Case).where(Case.appeal_id == appeal_id))
            return shapes.Appeal(
                id=appeal.id, external_id=appeal.external_id, state=appeal.state,
                received_at=appeal.received_at, title=appeal.title,
                case=None if case is None else shapes.AppealCase(
                    number=case.number, state=case.state, query_code=case.query_code,
                    deadline_at=case.deadline_at))

    found = await hub.run(load)
    if found is None:
        raise ApiError(404, "not_found", "no such appeal for this source")
    return shapes.answer(found)
