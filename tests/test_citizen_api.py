"""Citizens look up a case by number + query code and rate it; data is masked."""

from __future__ import annotations

from sqlalchemy import select

from hub.db import transaction
from hub.lifecycle.service import CaseService
from hub.models import Case
from hub.pipeline import Pipeline
from hub.privacy import mask_name, mask_phone, mask_text
from tests.conftest import HOTLINE_KEY


def test_masking() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三丰") == "张**"
    text = mask_text("我的电话13812345678，身份证430102199001011234")
    assert "13812345678" not in text and "199001011234" not in text
    assert "138****5678" in text


async def test_lookup_reply_and_rate_unsatisfied_reopens(client) -> None:  # type: ignore[no-untyped-def]
    resp = await client.post("/api/v1/appeals", headers=HOTLINE_KEY, json={
        "external_id": "cz-1", "title": "A3区某小区路灯不亮",
        "body": "A3区含浦街道某小区路灯坏了，联系电话13812345678"})
    appeal_id = (await resp.json())["id"]
    hub = client.app["hub"]
    await hub.run(Pipeline(hub, client.app["router"]).drain)
    svc = CaseService(hub.config, hub.unit_ids)

    def prepare() -> tuple[str, str]:
        with transaction(hub.sessions) as s:
            case = s.scalar(select(Case).where(Case.appeal_id == appeal_id))
            if case.state == "triage":
                svc.assign(s, case.id, "A3-zhujian", "dispatcher")
            svc.sign(s, case.id, "unit")
            svc.reply(s, case.id, "unit", "已安排维修，如有问题请拨打13812345678回访。")
            return case.number, case.query_code

    number, code = await hub.run(prepare)
    wrong = await client.get(f"/api/v1/cases/{number}", params={"code": "ZZZZZZ"})
    assert wrong.status == 404
    got = await client.get(f"/api/v1/cases/{number}", params={"code": code})
    body = await got.json()
    assert body["state"] == "replied" and body["can_rate"]
    assert "13812345678" not in str(body) and "138****5678" in body["replies"][0]["body"]
    rated = await client.post(f"/api/v1/cases/{number}/rating",
                              json={"code": code, "grade": "不满意", "comment": "路灯还是不亮"})
    assert rated.status == 200 and (await rated.json())["state"] == "reopened"
    again = await client.post(f"/api/v1/cases/{number}/rating",
                              json={"code": code, "grade": "满意"})
    assert again.status == 409
    bad = await client.post(f"/api/v1/cases/{number}/rating", json={"code": code,
                                                                      "grade": "很好"})
    assert bad.status == 400


async def test_unit_evaluation_by_api(client) -> None:  # type: ignore[no-untyped-def]
    ok = {"responsibility": "满意", "efficiency": "基本满意", "conduct": "满意",
          "comment": "办事窗口人少排队久"}
    # a device without the hub's signed cookie is kept but flagged: its case waits in triage
    first = await (await client.post("/api/v1/units/renshe/evaluations", json=ok)).json()
    assert first["flagged"] is True
    view = await client.get(f"/api/v1/cases/{first['case_number']}?code={first['query_code']}")
    assert (await view.json())["state"] == "triage"
    # the answer set the device cookie: from now on the tablet is a known device
    resp = await client.post("/api/v1/units/renshe/evaluations", json=ok)
    assert resp.status == 201
    body = await resp.json()
    assert body["case_number"] and len(body["query_code"]) == 6 and body["flagged"] is False
    view = await client.get(f"/api/v1/cases/{body['case_number']}?code={body['query_code']}")
    assert (await view.json())["state"] == "assigned"
    bad = await client.post("/api/v1/units/renshe/evaluations", json={**ok, "conduct": "好"})
    assert bad.status == 400
    missing = await client.post("/api/v1/units/nobody/evaluations", json=ok)
    assert missing.status == 400
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert "/api/v1/units/{unit}/evaluations" in spec["paths"]
