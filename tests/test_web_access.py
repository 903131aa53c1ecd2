"""Access control across the staff pages and API: other unit's case, missing CSRF,
expired session, wrong role; and the login limits."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import update

from hub.db import transaction
from hub.models import WebSession, utcnow
from hub.pipeline import ManualTriage, Pipeline
from hub.scheduler import search_index_job
from tests.conftest import HOTLINE_KEY
from tests.webutil import PASSWORD, csrf_in, login, logout, make_staff


async def _cases(client: Any) -> dict[str, int]:
    """Two appeals with contact details: one with 住建, one with 交通."""
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    items = [{"external_id": "w-1", "title": "小区电梯停运", "body": "电梯停运一周无人维修",
              "contact_name": "王小明", "contact_phone": "13812345678"},
             {"external_id": "w-2", "title": "公交站牌损坏", "body": "站牌倒在路边很危险",
              "contact_name": "李四", "contact_phone": "13900001111"}]
    resp = await client.post("/api/v1/appeals", json=items, headers=HOTLINE_KEY)
    assert resp.status in (200, 201, 202), await resp.text()
    await hub.run(Pipeline(hub, ManualTriage()).drain)
    await hub.run(search_index_job, hub)  # the scheduler's job, run now
    svc = client.app["case_service"]

    def assign() -> dict[str, int]:
        from sqlalchemy import select

        from hub.models import Appeal, Case
        with transaction(hub.sessions) as s:
            ids = dict(s.execute(select(Appeal.external_id, Case.id)
                                 .join(Case, Case.appeal_id == Appeal.id)).all())
            svc.assign(s, ids["w-1"], "zhujian", "test")
            svc.assign(s, ids["w-2"], "jiaotong", "test")
        return ids

    return await hub.run(assign)


async def test_unit_staff_never_reach_another_units_case(client: Any) -> None:
    ids = await _cases(client)
    csrf = await login(client, "zj")
    own, other = ids["w-1"], ids["w-2"]
    assert (await client.get(f"/cases/{own}")).status == 200
    page = await client.get(f"/cases/{other}")
    assert page.status == 404
    assert "公交站牌" not in await page.text()
    api = await client.get(f"/api/v1/staff/cases/{other}")
    assert api.status == 404
    act = await client.post(f"/cases/{other}/act", data={"csrf": csrf, "action": "sign"})
    assert act.status == 404
    api_act = await client.post(f"/api/v1/staff/cases/{other}/actions", json={"action": "sign"},
                                headers={"X-CSRF-Token": csrf})
    assert api_act.status == 404
    inbox = await (await client.get("/inbox")).text()
    assert "小区电梯停运" in inbox and "公交站牌" not in inbox
    listing = await (await client.get("/api/v1/staff/cases")).json()
    assert [c["id"] for c in listing["cases"]] == [own]
    # filtering by the other unit must not widen the scope
    scoped = await (await client.get("/api/v1/staff/cases?unit=jiaotong")).json()
    assert scoped["cases"] == []
    exported = await (await client.get("/inbox/export.csv?unit=jiaotong")).text()
    assert "公交站牌" not in exported
    exported = await (await client.get("/inbox/export.csv")).text()
    assert "小区电梯停运" in exported and "公交站牌" not in exported


async def test_writes_without_csrf_are_refused(client: Any) -> None:
    ids = await _cases(client)
    await login(client, "zj")
    resp = await client.post(f"/cases/{ids['w-1']}/act", data={"action": "sign"})
    assert resp.status == 403
    resp = await client.post(f"/cases/{ids['w-1']}/act",
                             data={"action": "sign", "csrf": "forged"})
    assert resp.status == 403
    resp = await client.post(f"/api/v1/staff/cases/{ids['w-1']}/actions", json={"action": "sign"})
    assert resp.status == 403
    detail = await (await client.get(f"/api/v1/staff/cases/{ids['w-1']}")).json()
    assert detail["state"] == "assigned"  # nothing happened


async def test_expired_session_sends_back_to_login(client: Any) -> None:
    await _cases(client)
    await login(client, "disp")
    assert (await client.get("/inbox", allow_redirects=False)).status == 200
    hub = client.app["hub"]

    def expire() -> None:
        with transaction(hub.sessions) as s:
            s.execute(update(WebSession).values(expires_at=utcnow()))

    await hub.run(expire)
    resp = await client.get("/inbox", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login")
    assert (await client.get("/api/v1/staff/cases")).status == 401


async def test_wrong_role_is_refused(client: Any) -> None:
    ids = await _cases(client)
    csrf = await login(client, "zj")
    resp = await client.post(f"/cases/{ids['w-1']}/act",
                             data={"csrf": csrf, "action": "assign", "unit": "jiaotong"})
    assert resp.status == 403
    assert (await client.get("/admin/sources")).status == 403
    assert (await client.get("/calls/new")).status == 403
    await logout(client, csrf)
    csrf = await login(client, "op")
    resp = await client.post(f"/api/v1/staff/cases/{ids['w-1']}/actions",
                             json={"action": "urge"}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 403
    await logout(client, csrf)
    await login(client, "adm")
    assert (await client.get("/admin/sources")).status == 200
    assert (await client.get("/admin/users")).status == 200


async def test_anonymous_visitors_see_no_staff_page(client: Any) -> None:
    ids = await _cases(client)
    for path in ("/inbox", f"/cases/{ids['w-1']}", "/admin/sources", "/inbox/export.csv"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 303, path
    assert (await client.get(f"/api/v1/staff/cases/{ids['w-1']}")).status == 401


async def test_login_failures_are_limited(client: Any) -> None:
    await _cases(client)
    page = await (await client.get("/login")).text()
    token = csrf_in(page)
    for _ in range(5):
        resp = await client.post("/login", data={"username": "disp", "password": "wrong!",
                                                 "csrf": token}, allow_redirects=False)
        assert resp.status == 401
    resp = await client.post("/login", data={"username": "disp", "password": PASSWORD,
                                             "csrf": token}, allow_redirects=False)
    assert resp.status == 429  # even the right password waits out the window


async def test_exports_mask_contacts_unless_the_role_needs_them(client: Any) -> None:
    await _cases(client)
    csrf = await login(client, "op")
    rows = list(csv.DictReader(io.StringIO((await (await client.get(
        "/inbox/export.csv")).read()).decode("utf-8-sig"))))
    assert {r["联系电话"] for r in rows} == {"138****5678", "139****1111"}
    assert {r["联系人"] for r in rows} == {"王**", "李*"}
    await logout(client, csrf)
    await login(client, "disp")
    body = await (await client.get("/inbox/export.xlsx")).read()
    sheet = load_workbook(io.BytesIO(body)).active
    header = [c.value for c in sheet[1]]
    phones = {row[header.index("联系电话")] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert phones == {"13812345678", "13900001111"}


async def test_search_by_word_and_by_case_number(client: Any) -> None:
    ids = await _cases(client)
    await login(client, "disp")
    found = await (await client.get("/api/v1/staff/cases?q=电梯")).json()
    assert [c["id"] for c in found["cases"]] == [ids["w-1"]]
    number = found["cases"][0]["number"]
    by_number = await (await client.get(f"/api/v1/staff/cases?q={number}")).json()
    assert [c["id"] for c in by_number["cases"]] == [ids["w-1"]]
    none = await (await client.get("/api/v1/staff/cases?q=100%25_")).json()
    assert none["cases"] == []  # LIKE wildcards in the query are matched literally
    page = await (await client.get("/inbox?q=站牌")).text()
    assert "公交站牌损坏" in page and "小区电梯停运" not in page


async def test_chinese_search_is_substring_search_through_the_index(client: Any) -> None:
    """Words of two or more characters are found through the bigram index, anywhere in
    title or body; bigrams that occur apart are not a match; one character still works;
    ``hub reindex`` (search.rebuild) indexes appeals stored before the index existed."""
    from hub import search

    ids = await _cases(client)
    hub = client.app["hub"]
    await login(client, "disp")

    async def found(q: str) -> list[int]:
        page = await (await client.get("/api/v1/staff/cases", params={"q": q})).json()
        return sorted(c["id"] for c in page["cases"])

    assert await found("无人维修") == [ids["w-1"]]  # body only
    assert await found("站牌 路边") == [ids["w-2"]]  # every word must be there
    assert await found("电梯 路边") == []
    assert await found("停运电梯") == []  # its bigrams are all indexed (运电 spans title|body)
    assert await found("梯") == [ids["w-1"]]  # one character: scanned, not indexed

    def forget() -> None:
        with transaction(hub.sessions) as s:
            search.clear(s)

    await hub.run(forget)
    assert await found("维修") == []  # the index, not a scan, answers two-character words
    assert await hub.run(search.rebuild, hub.sessions) == 2
    assert await found("维修") == [ids["w-1"]]


async def test_login_limit_is_shared_by_every_process(client: Any, settings: Any,
                                                      aiohttp_client: Any) -> None:
    """Failures counted by one hub process block the same username from the same address
    on another (a second app on the same database), and no address or username is
    stored in clear."""
    from sqlalchemy import select

    from hub.app import create_app
    from hub.models import Throttle

    await _cases(client)
    other = await aiohttp_client(create_app(settings))
    for _ in range(5):
        resp = await client.post("/api/v1/staff/login",
                                 json={"username": "sup", "password": "wrong!"})
        assert resp.status == 401
    resp = await other.post("/api/v1/staff/login", json={"username": "sup",
                                                         "password": PASSWORD})
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
    resp = await other.post("/api/v1/staff/login", json={"username": "disp",
                                                         "password": PASSWORD})
    assert resp.status == 200  # another user at the same address is not locked out
    hub = client.app["hub"]

    def stored() -> list[str]:
        with hub.sessions() as s:
            return list(s.scalars(select(Throttle.key)))

    keys = await hub.run(stored)
    assert len(keys) >= 2 and not any("sup" in k or "127.0.0.1" in k for k in keys)


def test_pages_show_times_in_the_configured_time_zone() -> None:
    from datetime import UTC, datetime

    from hub.web import _format_time

    moment = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)
    assert _format_time({"city_tz": "Asia/Shanghai"}, moment) == "2026-11-23 10:30"
    assert _format_time({"city_tz": "Asia/Urumqi"}, moment) == "2026-11-23 08:30"
    assert _format_time({"city_tz": "Asia/Shanghai"}, None) == ""
