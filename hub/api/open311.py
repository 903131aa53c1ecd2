"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) at /open311/v2/, for
civic-tech clients that speak it.

- ``services.{json,xml}``: one service per category of routing.toml (the service
  code is the category's name; no category asks extra questions, so ``metadata`` is
  false and ``services/{code}`` answers with no attributes).
- ``POST requests.{json,xml}`` (form fields as the spec says): the client's API key
  is a push source's key (sources.toml), so a request enters the same queue as every
  channel; the answer carries the case number (``service_request_id``) and, as an
  extension, the citizen's query code (查询验证码) for the client to hand over.
- ``GET requests.{json,xml}`` and ``requests/{id}.{json,xml}``: public, so personal
  data never appears: the description is the appeal's title with personal data
  masked, no address, no coordinates, no contact; a whistleblower's report is not
  listed at all. Extensions: ``page``/``page_size``, ``updated_after``/
  ``updated_before`` and ``q`` (a word in the title).

Errors answer as the spec says: a list of ``{code, description}`` (JSON) or
``<errors>`` (XML), with the HTTP status.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from hub.bootstrap import hash_key
from hub.core import Hub
from hub.intake_schema import ItemError, parse_datetime
from hub.lifecycle.states import state_label
from hub.models import Appeal, Case, Reply, Unit
from hub.privacy import mask_text

routes = web.RouteTableDef()
BASE = "/open311/v2"
FORMATS = "{fmt:json|xml}"
MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE = 100, 50
MAX_IDS = 50
CLOSED = ("closed", "merged")


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


Handler = Callable[[web.Request], Awaitable[Any]]


def _respond(fmt: str, root: str, item: str, rows: list[dict[str, Any]],
             status: int = 200) -> web.Response:
    if fmt == "xml":
        top = ET.Element(root)
        for row in rows:
            element = ET.SubElement(top, item)
            for key, value in row.items():
                child = ET.SubElement(element, key)
                child.text = "" if value is None else (
                    str(value).lower() if isinstance(value, bool) else str(value))
        body = ET.tostring(top, encoding="unicode", xml_declaration=False)
        return web.Response(text='<?xml version="1.0" encoding="utf-8"?>' + body,
                            content_type="text/xml", charset="utf-8", status=status)
    return web.json_response(rows, status=status, dumps=json_text)


def _single(fmt: str, root: str, row: dict[str, Any]) -> web.Response:
    if fmt == "json":
        return web.json_response(row, dumps=json_text)
    top = ET.Element(root)
    for key, value in row.items():
        ET.SubElement(top, key).text = "" if value is None else str(value)
    return web.Response(text='<?xml version="1.0" encoding="utf-8"?>'
                        + ET.tostring(top, encoding="unicode"),
                        content_type="text/xml", charset="utf-8")


def json_text(value: Any) -> str:
    """JSON with Chinese as it is (not \\u escapes): what clients show people."""
    import json

    return json.dumps(value, ensure_ascii=False)


def endpoint(root: str, item: str, single: bool = False
             ) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.Response]]]:
    """Answer a handler's rows in the asked format (``single``: one object, not a
    list); errors as Open311 errors."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def inner(request: web.Request) -> web.Response:
            fmt = request.match_info.get("fmt", "json")
            try:
                rows = await handler(request)
                if single:
                    return _single(fmt, root, rows[0])
                return _respond(fmt, root, item, rows)
            except Open311Error as exc:
                return _respond(fmt, "errors", "error", [
                    {"code": exc.status, "description": exc.description}], exc.status)

        return inner

    return wrap


def _hub(request: web.Request) -> Hub:
    return request.app["hub"]  # type: ignore[no-any-return]


def _iso(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None


# -- services -----------------------------------------------------------------------------
def _services(hub: Hub) -> list[dict[str, Any]]:
    units = {u.code: u.name for u in hub.config.units}
    return [{"service_code": name, "service_name": name,
             "description": f"{name}类诉求，由{units.get(unit, unit)}等单位办理",
             "metadata": False, "type": "realtime", "keywords": name, "group": "群众诉求"}
            for name, unit in hub.config.routing.categories.items()
            if name != "纪检监察"]  # reports of misconduct go through protected channels


@routes.get(f"{BASE}/services.{FORMATS}")
@endpoint("services", "service")
async def services(request: web.Request) -> list[dict[str, Any]]:
    return _services(_hub(request))


@routes.get(BASE + "/services/{code}." + FORMATS)
@endpoint("service_definition", "service_definition", single=True)
async def service_definition(request: web.Request) -> list[dict[str, Any]]:
    """No category asks extra questions: a definition without attributes."""
    code = request.match_info["code"]
    if code not in {s["service_code"] for s in _services(_hub(request))}:
        raise Open311Error(404, f"service_code {code!r} not found")
    return [{"service_code": code, "attributes": [] if request.match_info["fmt"] == "json"
             else None}]


# -- requests -----------------------------------------------------------------------------
@routes.post(f"{BASE}/requests.{FORMATS}")
@endpoint("service_requests", "request")
async def post_request(request: web.Request) -> list[dict[str, Any]]:
    from hub.web.staff import enqueue_with_code

    hub = _hub(request)
    try:
        form = await request.post()
    except Exception:  # a body aiohttp cannot read as a form
        raise Open311Error(400, "send the request as form fields") from None
    key = str(form.get("api_key") or request.headers.get("X-Api-Key") or "")
    source = request.app["api_keys"].get(hash_key(key)) if key else None
    if source is None:
        raise Open311Error(403, "api_key is missing or matches no enabled client")
    code = str(form.get("service_code") or "")
    if code not in {s["service_code"] for s in _services(hub)}:
        raise Open311Error(400, "service_code is missing or unknown (GET services)")
    description = str(form.get("description") or "").strip()
    if not description:
        raise Open311Error(400, "description is required")
    name = " ".join(str(form.get(k) or "").strip() for k in ("last_name", "first_name")).strip()
    place = str(form.get("address_string") or "").strip()
    lat, long = str(form.get("lat") or "").strip(), str(form.get("long") or "").strip()
    if (lat or long) and not _coordinates(lat, long):
        raise Open311Error(400, "lat and long must be decimal degrees")
    fields = {"body": description[:20000], "contact_name": name[:50],
              "contact_phone": str(form.get("phone") or "").strip()[:30],
              "location": (place or (f"{lat},{long}" if lat else ""))[:200]}
    extra = {"open311": {k: str(form.get(k))[:500] for k in (
        "service_code", "lat", "long", "email", "device_id", "account_id", "media_url",
        "address_id") if form.get(k)} | {
        "attributes": {k[10:-1]: str(v)[:500] for k, v in form.items()
                       if k.startswith("attribute[") and k.endswith("]")}}}
    try:
        receipt = await enqueue_with_code(request, source, fields, extra)
    except ItemError as exc:
        raise Open311Error(400, exc.message) from None
    days = hub.config.deadlines.reply_days["normal"]
    return [{"service_request_id": receipt["number"],
             "service_notice": f"已受理，一般在{days}个工作日内答复；凭编号和查询验证码查询进展",
             "account_id": None, "query_code": receipt["code"]}]


def _coordinates(lat: str, long: str) -> bool:
    try:
        return -90 <= float(lat) <= 90 and -180 <= float(long) <= 180
    except ValueError:
        return False


def _when(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return parse_datetime(raw)
    except (ValueError, ItemError):
        raise Open311Error(400, f"{name} must be a W3C date-time") from None


def _whole(request: web.Request, name: str, default: int, top: int) -> int:
    raw = request.query.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= top:
        raise Open311Error(400, f"{name} must be a whole number from 1 to {top}")
    return int(raw)


def _request_rows(hub: Hub, query: Any) -> list[dict[str, Any]]:
    tz = ZoneInfo(hub.config.deadlines.timezone)
    with hub.sessions() as s:
        rows = s.execute(query).all()
        replies = dict(s.execute(
            select(Reply.case_id, Reply.resolution).where(
                Reply.case_id.in_([r[0].id for r in rows])).order_by(Reply.id)).all()) \
            if rows else {}
    out = []
    for case, title, received, unit, contact, phone in rows:
        ending = replies.get(case.id)
        out.append({
            "service_request_id": case.number,
            "status": "closed" if case.state in CLOSED else "open",
            "status_notes": state_label(case.state) + (f"（{ending}）" if ending else ""),
            "service_name": case.category, "service_code": case.category,
            "description": mask_text(title, (contact, phone)),
            "agency_responsible": unit, "service_notice": None,
            "requested_datetime": _iso(received, tz),
            "updated_datetime": _iso(case.updated_at, tz),
            "expected_datetime": _iso(case.deadline_at, tz),
            "address": None, "address_id": None, "zipcode": None, "lat": None,
            "long": None, "media_url": None})
    return out


def _base_query() -> Any:
    return (select(Case, Appeal.title, Appeal.received_at, Unit.name, Appeal.contact_name,
                   Appeal.contact_phone)
            .join(Appeal, Appeal.id == Case.appeal_id)
            .outerjoin(Unit, Unit.id == Case.unit_id)
            .where(Case.hide_identity.is_(False)))


@routes.get(f"{BASE}/requests.{FORMATS}")
@endpoint("service_requests", "request")
async def list_requests(request: web.Request) -> list[dict[str, Any]]:
    hub = _hub(request)
    query = _base_query()
    ids = [i.strip() for i in request.query.get("service_request_id", "").split(",") if i.strip()]
    if len(ids) > MAX_IDS:
        raise Open311Error(400, f"at most {MAX_IDS} service_request_id values")
    if ids:
        query = query.where(Case.number.in_(ids))
    if request.query.get("service_code"):
        query = query.where(Case.category == request.query["service_code"])
    status = request.query.get("status", "")
    if status and status not in ("open", "closed", "open,closed", "closed,open"):
        raise Open311Error(400, "status must be open or closed")
    if status in ("open", "closed"):
        query = query.where(Case.state.in_(CLOSED) if status == "closed"
                            else Case.state.notin_(CLOSED))
    for name, column, after in (("start_date", Appeal.received_at, True),
                                ("end_date", Appeal.received_at, False),
                                ("updated_after", Case.updated_at, True),
                                ("updated_before", Case.updated_at, False)):
        moment = _when(request, name)
        if moment is not None:
            query = query.where(column >= moment if after else column <= moment)
    words = request.query.get("q", "").split()[:3]
    for word in words:
        query = query.where(Appeal.title.contains(word[:50], autoescape=True))
    size = _whole(request, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    page = _whole(request, "page", 1, 10_000)
    query = query.order_by(Case.id.desc()).limit(size).offset((page - 1) * size)
    return await hub.run(_request_rows, hub, query)


@routes.get(BASE + "/requests/{number}." + FORMATS)
@endpoint("service_requests", "request")
async def one_request(request: web.Request) -> list[dict[str, Any]]:
    hub = _hub(request)
    number = request.match_info["number"]
    rows = await hub.run(_request_rows, hub, _base_query().where(Case.number == number[:24]))
    if not rows:
        raise Open311Error(404, f"service_request_id {number!r} not found")
    return rows
