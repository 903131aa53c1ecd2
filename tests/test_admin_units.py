"""The admin's unit page: the tree with its load, and pausing automatic dispatch."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from classifiers.decision import RouteDecision
from hub.db import transaction
from hub.intake_schema import validate_item
from hub.models import Appeal, Case, CaseEvent
from hub.queue import enqueue
from tests.webutil import login, logout, make_staff

SURE = RouteDecision(category="城乡建设", unit_code="zhujian", county_code=None,
                     confidence=0.97, needs_triage=False,
                     suggestions=[{"category": "城乡建设", "unit": "zhujian", "p": 0.97}])


def _open_one(client: Any, external_id: str) -> tuple[str, str | None]:
    """Queue an appeal and open its case with a confident decision for 住建局."""
    hub, service = client.app["hub"], client.app["case_service"]
    with transaction(hub.sessions) as s:
        [queued] = enqueue(s, hub.source_ids["hotline-push"], [validate_item(
            {"external_id": external_id, "body": "小区外墙瓷砖脱落，砸坏了停在楼下的车辆"})])
        appeal = s.get(Appeal, queued.id)
        [case_id] = service.open_cases(s, [(appeal, SURE)])
        case = s.get(Case, case_id)
        note = s.scalars(select(CaseEvent.note).where(CaseEvent.case_id == case_id)
                         .order_by(CaseEvent.id.desc())).first()
        return case.state, note


async def test_an_admin_pauses_and_resumes_automatic_dispatch_to_a_unit(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    csrf = await login(client, "adm")
    page = await (await client.get("/admin/units")).text()
    assert 'data-code="zhujian"' in page and 'data-code="A3-zhujian"' in page
    # tree order: a county's own departments follow the county
    assert page.index('data-code="A3"') < page.index('data-code="A3-zhujian"')

    assert await hub.run(_open_one, client, "u-1") == ("assigned", "自动派单 置信度 0.97")

    resp = await client.post("/admin/units/zhujian/pause", data={"csrf": csrf, "note": ""},
                             allow_redirects=False)
    assert resp.status == 422  # a pause needs its reason
    resp = await client.post("/admin/units/zhujian/pause",
                             data={"csrf": csrf, "note": "机构改革，职能调整中"},
                             allow_redirects=False)
    assert resp.status == 303
    assert "机构改革，职能调整中" in await (await client.get("/admin/units")).text()
    state, note = await hub.run(_open_one, client, "u-2")
    assert state == "triage" and note is not None
    assert note.startswith("A市住房和城乡建设局 已暂停自动派单")

    resp = await client.post("/admin/units/zhujian/resume", data={"csrf": csrf},
                             allow_redirects=False)
    assert resp.status == 303
    assert (await hub.run(_open_one, client, "u-3"))[0] == "assigned"
    resp = await client.post("/admin/units/nosuchunit/pause", data={"csrf": csrf, "note": "x"},
                             allow_redirects=False)
    assert resp.status == 404


async def test_only_an_admin_with_a_valid_form_may_pause_a_unit(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    csrf = await login(client, "disp")
    assert (await client.get("/admin/units", allow_redirects=False)).status == 403
    resp = await client.post("/admin/units/zhujian/pause", data={"csrf": csrf, "note": "x"},
                             allow_redirects=False)
    assert resp.status == 403
    await logout(client, csrf)
    await login(client, "adm")
    resp = await client.post("/admin/units/zhujian/pause", data={"note": "no token"},
                             allow_redirects=False)
    assert resp.status == 403  # CSRF
    assert "已暂停" not in await (await client.get("/admin/units")).text()
