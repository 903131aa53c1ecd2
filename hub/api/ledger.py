"""The ledger (台账) a sub-platform hub offers its parent: every appeal it took in,
in id order, for connectors/subplatform.py on the city platform.

Authenticated with HUB_LEDGER_KEY in X-Api-Key; without a key set, the ledger
is off. Contact details are included: the city platform is entitled to them
and masks them by role like its own.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from hub.api import shapes
from hub.api.errors import ApiError
from hub.api.openapi import error, json_answer, register_paths
from hub.core import Hub
from hub.models import Appeal, Case, Source
from hub.security.text import ID_MAX, INT64_MAX, parse_id, same_secret

routes = web.RouteTableDef()
MAX_LIMIT = 1000


@routes.get("/api/v1/ledger")
async def ledger(request: web.Request) -> web.Response:
    hub: Hub = request.app["hub"]
    key = hub.settings.ledger_key
    if not key:
        raise ApiError(404, "not_found", "this hub does not offer its ledger")
    if not same_secret(request.headers.get("X-Api-Key", ""), key):
        raise ApiError(401, "bad_api_key", "send the ledger key in X-Api-Key")
    after = parse_id(request.query.get("after", "0"), maximum=INT64_MAX, minimum=0)
    limit = parse_id(request.query.get("limit", "200"), maximum=MAX_LIMIT)
    if after is None or limit is None:
        raise ApiError(400, "bad_parameter",
                       f"after must be a whole number >= 0 and limit 1-{MAX_LIMIT}")
    after = min(after, ID_MAX)  # no id is larger: the page is simply empty

    def load() -> shapes.Ledger:
        with hub.sessions() as s:
            rows = s.execute(
                select(Appeal, Source.name, Case.number).join(Source, Source.id == Appeal.source_id)
                .outerjoin(Case, Case.appeal_id == Appeal.id).where(Appeal.id > after)
                .order_by(Appeal.id).limit(limit + 1)).all()
        items = [shapes.LedgerItem(
                     id=a.id, source=src, case=number, title=a.title, body=a.body,
                     received_at=a.received_at, contact_name=a.contact_name,
                     contact_phone=a.contact_phone, location=a.location, votes=a.votes)
                 for a, src, number in rows[:limit]]
        return shapes.Ledger(items=items, more=len(rows) > limit)

    return shapes.answer(await hub.run(load))


register_paths({"/api/v1/ledger": {"get": {
    "summary": "This hub's ledger for its parent platform (sub-platform forwarding)",
    "parameters": [
        {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        {"name": "limit", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
        {"name": "X-Api-Key", "in": "header", "required": True, "schema": {"type": "string"}}],
    "responses": {"200": json_answer("{items, more}", shapes.Ledger),
                  "400": error("after or limit is not a whole number in range"),
                  "401": error("wrong ledger key"),
                  "404": error("the ledger is off")}}}})
