"""Open311 GeoReport v2, checked by a small client written from the specification
(wiki.open311.org/GeoReport_v2), not from the hub's code: the element and field
names it expects, W3C date-times, errors as lists of {code, description}, JSON and
XML alike; public answers carry no personal data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from hub.db import transaction
from hub.intake_schema import validate_item
from hub.models import Appeal
from hub.pipeline import ManualTriage, Pipeline
from hub.queue import enqueue
from tests.conftest import HOTLINE_KEY

ROOT = "/open311/v2"
KEY = HOTLINE_KEY["X-Api-Key"]
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type",
                  "keywords", "group"}
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name",
                  "service_code", "description", "agency_responsible", "service_notice",
                  "requested_datetime", "updated_datetime", "expected_datetime", "address",
                  "address_id", "zipcode", "lat", "long", "media_url"}


class SpecClient:
    """What a GeoReport v2 client does: ask in a format, read the documented shape."""

    def __init__(self, http: Any) -> None:
        self.http = http

    async def call(self, method: str, path: str, fmt: str, list_tag: str, item_tag: str,
                   **kwargs: Any) -> tuple[int, list[dict[str, Any]]]:
        resp = await self.http.request(method, f"{ROOT}/{path}.{fmt}", **kwargs)
        text = await resp.text()
        if fmt == "json":
            assert resp.content_type == "application/json", text
            return resp.status, await resp.json()
        assert resp.content_type in ("text/xml", "application/xml"), text
        root = ET.fromstring(text)
        tag, item = (list_tag, item_tag) if resp.status < 400 else ("errors", "error")
        assert root.tag == tag, text
        return resp.status, [{child.tag: child.text for child in element}
                             for element in root.findall(item)]


def w3c(value: str | None) -> datetime | None:
    if value in (None, ""):
        return None
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None, value
    return moment


def _error(rows: list[dict[str, Any]], status: int) -> str:
    assert len(rows) == 1 and int(rows[0]["code"]) == status, rows
    return str(rows[0]["description"])


async def test_services_in_both_formats(client: Any) -> None:
    spec = SpecClient(client)
    for fmt in ("json", "xml"):
        status, services = await spec.call("GET", "services", fmt, "services", "service")
        assert status == 200 and services
        for service in services:
            assert SERVICE_FIELDS <= set(service), service
            assert str(service["metadata"]).lower() == "false"
            assert service["type"] in ("realtime", "batch", "blackbox")
        codes = {s["service_code"] for s in services}
        assert "城乡建设" in codes and "纪检监察" not in codes
    status, rows = await spec.call("GET", "services/no-such", "json", "", "")
    assert status == 404 and "not found" in _error(rows, 404)
    definition = await client.get(f"{ROOT}/services/城乡建设.json")
    assert (await definition.json()) == {"service_code": "城乡建设", "attributes": []}


async def test_post_then_read_back_without_personal_data(client: Any) -> None:
    hub = client.app["hub"]
    spec = SpecClient(client)
    form = {"service_code": "城乡建设", "description": "人民路与建设路路口井盖缺失，我叫赵六，"
            "电话13912340000", "first_name": "六", "last_name": "赵", "phone": "13912340000",
            "lat": "28.19", "long": "112.97", "attribute[floor]": "1"}
    status, rows = await spec.call("POST", "requests", "json", "", "", data=form)
    assert status == 403 and "api_key" in _error(rows, 403)
    status, rows = await spec.call("POST", "requests", "xml", "", "",
                                   data={**form, "api_key": "wrong"})
    assert status == 403
    for bad, said in (({"service_code": "天气"}, "service_code"), ({"description": " "},
                      "description"), ({"lat": "north"}, "lat")):
        status, rows = await spec.call("POST", "requests", "json", "", "",
                                       data={**form, "api_key": KEY, **bad})
        assert status == 400 and said in _error(rows, 400)
    status, rows = await spec.call("POST", "requests", "json", "service_requests", "request",
                                   data={**form, "api_key": KEY})
    assert status == 200 and len(rows) == 1
    number, code = rows[0]["service_request_id"], rows[0]["query_code"]
    assert number and rows[0]["service_notice"]
    await hub.run(Pipeline(hub, ManualTriage()).drain)
    stored = await hub.run(_stored, hub, number)
    assert stored["body"].startswith("人民路") and stored["phone"] == "13912340000"
    assert stored["raw"]["open311"]["attributes"] == {"floor": "1"}

    for fmt in ("json", "xml"):
        status, found = await spec.call("GET", f"requests/{number}", fmt, "service_requests",
                                        "request")
        assert status == 200 and len(found) == 1, found
        one = found[0]
        assert REQUEST_FIELDS <= set(one), one
        assert one["service_request_id"] == number and one["status"] == "open"
        assert w3c(one["requested_datetime"]) and w3c(one["updated_datetime"])
        shown = str(one)
        assert "13912340000" not in shown and "赵六" not in shown and "112.97" not in shown
    # the citizen's query code opens the case on the hub's own look-up
    look = await client.get(f"/api/v1/cases/{number}", params={"code": code})
    assert look.status == 200
    status, listed = await spec.call("GET", "requests", "json", "", "",
                                     params={"status": "open", "page_size": "5"})
    assert status == 200 and number in {r["service_request_id"] for r in listed}
    status, listed = await spec.call("GET", "requests", "json", "", "",
                                     params={"status": "closed"})
    assert number not in {r["service_request_id"] for r in listed}
    status, rows = await spec.call("GET", "requests/20260101999999", "json", "", "")
    assert status == 404
    for params in ({"status": "pending"}, {"page_size": "1000"}, {"start_date": "yesterday"}):
        status, rows = await spec.call("GET", "requests", "xml", "", "", params=params)
        assert status == 400 and rows and rows[0]["code"] == "400", rows


async def test_a_whistleblowers_report_is_never_listed(client: Any) -> None:
    hub = client.app["hub"]

    def file_report() -> None:
        with transaction(hub.sessions) as s:
            enqueue(s, hub.source_ids["hotline-push"], [validate_item({
                "external_id": "w-1", "body": "举报某局科长吃拿卡要，收受红包"})])

    await hub.run(file_report)
    await hub.run(Pipeline(hub, client.app["router"]).drain)  # its rules hide the identity
    spec = SpecClient(client)
    status, listed = await spec.call("GET", "requests", "json", "", "")
    assert status == 200 and listed == []
    status, rows = await spec.call("GET", "requests", "json", "", "", params={"q": "吃拿卡要"})
    assert status == 200 and rows == []


def _stored(hub: Any, number: str) -> dict[str, Any]:
    with hub.sessions() as s:
        appeal = s.get(Appeal, int(number[8:]))
        return {"body": appeal.body, "phone": appeal.contact_phone, "raw": appeal.raw}
