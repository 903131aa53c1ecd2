"""The main jobs through the pages: a citizen submits, a dispatcher assigns, the unit
signs and replies, the citizen rates 不满意 and the case reopens; unit evaluations;
the hotline desk; quarantine replay."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from hub.db import transaction
from hub.models import Case, QuarantinedItem, UnitEvaluation
from hub.pipeline import ManualTriage, Pipeline
from hub.queue import quarantine
from tests.webutil import act_on_case, csrf_in, login, logout, make_staff


def _receipt(html: str) -> tuple[str, str]:
    number = re.search(r'id="number">(\d+)<', html)
    code = re.search(r'id="code">([A-Z0-9]{6})<', html)
    assert number and code, html
    return number.group(1), code.group(1)


async def _case_id(client: Any, number: str) -> int:
    hub = client.app["hub"]

    def find() -> int:
        with hub.sessions() as s:
            return s.scalar(select(Case.id).where(Case.number == number))

    return await hub.run(find)


async def _act(client: Any, case_id: int, csrf: str, **fields: str) -> str:
    return await act_on_case(client, case_id, csrf, **fields)


async def test_citizen_to_unit_and_back(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    form = await (await client.get("/submit")).text()
    resp = await client.post("/submit", data={
        "csrf": csrf_in(form), "title": "楼道堆放杂物",
        "body": "幸福小区3栋楼道长期堆放杂物，存在消防隐患",
        "contact_name": "赵六", "contact_phone": "13700002222"})
    assert resp.status == 200
    number, code = _receipt(await resp.text())
    await hub.run(Pipeline(hub, ManualTriage()).drain)
    case_id = await _case_id(client, number)
    assert case_id

    csrf = await login(client, "disp")
    triage = await (await client.get("/inbox?view=triage")).text()
    assert "楼道堆放杂物" in triage
    await _act(client, case_id, csrf, action="assign", unit="zhujian", difficulty="normal")
    await logout(client, csrf)

    csrf = await login(client, "zj")
    page = await _act(client, case_id, csrf, action="sign")
    assert "已签收" in page and "13700002222" in page  # the unit may call the citizen back
    page = await _act(client, case_id, csrf, action="reply", resolution="已解决",
                      body="已联系幸福小区物业于当日清理3栋楼道杂物，并张贴消防安全提示，将每周检查一次。")
    assert "已答复" in page
    await logout(client, csrf)

    look = await (await client.get("/lookup")).text()
    resp = await client.post("/lookup", data={"csrf": csrf_in(look), "number": number,
                                              "code": "WRONG1"})
    assert resp.status == 404
    resp = await client.post("/lookup", data={"csrf": csrf_in(look), "number": number,
                                              "code": code.lower()})
    page = await resp.text()
    assert resp.status == 200 and "已联系幸福小区物业" in page and "13700002222" not in page
    resp = await client.post("/lookup/rate", data={"csrf": csrf_in(page), "number": number,
                                                   "code": code, "grade": "不满意",
                                                   "comment": "杂物又堆回来了"})
    page = await resp.text()
    assert "重办中" in page
    again = await client.post("/lookup/rate", data={"csrf": csrf_in(look), "number": number,
                                                    "code": code, "grade": "满意"})
    assert again.status == 409

    csrf = await login(client, "sup")
    supervise = await (await client.get("/inbox?view=supervise")).text()
    assert number in supervise
    events = await (await client.get(f"/api/v1/staff/cases/{case_id}")).json()
    assert [e["action"] for e in events["events"]] == [
        "受理", "转人工分拨", "交办", "签收", "答复", "重办"]


async def test_hotline_desk_gives_the_caller_a_number_and_code(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    csrf = await login(client, "op")
    resp = await client.post("/calls/new", data={"csrf": csrf, "body": "路灯不亮已经两周",
                                                 "contact_phone": "13611112222"})
    text = await resp.text()
    number = re.search(r"工单编号 <strong>(\d+)</strong>", text)
    code = re.search(r"查询验证码 <strong>([A-Z0-9]{6})</strong>", text)
    assert number and code, text
    await hub.run(Pipeline(hub, ManualTriage()).drain)
    view = await client.get(f"/api/v1/cases/{number.group(1)}?code={code.group(1)}")
    assert view.status == 200
    empty = await client.post("/calls/new", data={"csrf": csrf, "body": ""})
    assert empty.status == 422


async def test_unit_evaluation_makes_a_case_and_limits_abuse(client: Any) -> None:
    qr = await client.get("/evaluate/shichang/qr.svg")
    assert qr.status == 200 and (await qr.text()).startswith("<svg")
    page = await (await client.get("/evaluate/shichang")).text()
    csrf = csrf_in(page)
    happy = {"csrf": csrf, "responsibility": "满意", "efficiency": "满意", "conduct": "满意"}
    resp = await client.post("/evaluate/shichang", data=happy)
    assert resp.status == 200 and 'id="number"' not in await resp.text()
    resp = await client.post("/evaluate/shichang", data={**happy, "efficiency": "不满意",
                                                         "comment": "窗口排队两小时"})
    number, code = _receipt(await resp.text())
    hub = client.app["hub"]

    def check() -> tuple[str, str | None, int]:
        with hub.sessions() as s:
            case = s.scalar(select(Case).where(Case.number == number))
            unit = s.get(__import__("hub.models", fromlist=["Unit"]).Unit, case.unit_id)
            return case.state, unit.code, len(list(s.scalars(select(UnitEvaluation))))

    state, unit, count = await hub.run(check)
    assert (state, unit, count) == ("assigned", "shichang", 2)
    view = await (await client.get(f"/api/v1/cases/{number}?code={code}")).json()
    assert view["state"] == "assigned"
    resp = await client.post("/evaluate/shichang", data=happy)
    assert resp.status == 200
    resp = await client.post("/evaluate/shichang", data=happy)
    assert resp.status == 429  # three a day per unit from one device
    bad = await client.post("/evaluate/shichang", data={"csrf": csrf, "responsibility": "好"})
    assert bad.status == 429 or bad.status == 400
    assert (await client.get("/evaluate/nosuchunit")).status == 404


async def test_admin_replays_a_quarantined_item(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)

    def put() -> int:
        with transaction(hub.sessions) as s:
            quarantine(s, hub.source_ids["hotline-push"], b'{"external_id": "q-1"}',
                       "missing_field: body", "q-1")
            quarantine(s, hub.source_ids["hotline-push"],
                       '{"external_id": "q-2", "body": "井盖缺失"}'.encode(), "parser bug", "q-2")
        with hub.sessions() as s:
            return len(list(s.scalars(select(QuarantinedItem))))

    assert await hub.run(put) == 2
    csrf = await login(client, "adm")
    page = await (await client.get("/admin/sources")).text()
    assert "parser bug" in page
    ids = [int(i) for i in re.findall(r"/admin/quarantine/(\d+)/replay", page)]
    results = [await client.post(f"/admin/quarantine/{i}/replay", data={"csrf": csrf},
                                 allow_redirects=False) for i in sorted(ids)]
    assert [r.status for r in results] == [422, 303]  # q-1 still has no body

    def replayed() -> list[str]:
        from hub.models import Appeal
        with hub.sessions() as s:
            return list(s.scalars(select(Appeal.external_id)))

    assert await hub.run(replayed) == ["q-2"]
    page = await (await client.get("/admin/sources")).text()
    assert "已重放" in page
