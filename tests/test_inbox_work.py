"""The inbox as dispatchers and supervisors use it all day: counts in the tabs, search
across every case whatever the tab, merged duplicates out of 全部, bulk actions that
keep the filters and the selection and say what they did, 多次催办 and overdue per
unit for supervisors, the "n new" check, and a history in people's names."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sqlalchemy import select

from classifiers.decision import RouteDecision
from hub.db import transaction
from hub.intake_schema import validate_item
from hub.lifecycle.service import CaseService
from hub.models import Appeal, Case, SavedView
from hub.queue import enqueue
from tests.webutil import login, logout, make_staff, read

TRIAGE = RouteDecision("城乡建设", None, "A3", 0.2, True, [])


def _cases(hub: Any, texts: list[str]) -> list[int]:
    svc = CaseService(hub.config, hub.unit_ids)
    with transaction(hub.sessions) as s:
        items = [validate_item({"external_id": f"w-{t}", "body": t}) for t in texts]
        appeals = enqueue(s, hub.source_ids["hotline-push"], items)
        return [svc.open_case(s, s.get(Appeal, a.id), TRIAGE).id for a in appeals]


async def test_tabs_search_and_merged_duplicates(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    ids = await hub.run(_cases, hub, ["桂花路路灯不亮", "桂花路路灯还是不亮", "人民路井盖缺失"])
    svc = CaseService(hub.config, hub.unit_ids)

    def arrange() -> None:
        with transaction(hub.sessions) as s:
            svc.merge(s, ids[1], ids[0], "dispatcher:disp")
            svc.assign(s, ids[2], "zhujian", "dispatcher:disp")

    await hub.run(arrange)
    numbers = await hub.run(read, hub, lambda s: [s.get(Case, i).number for i in ids])
    await login(client, "disp")
    page = await (await client.get("/inbox?view=triage")).text()
    assert re.search(r'data-view="triage">待分拨 <span class="count">1</span>', page), page
    everything = await (await client.get("/inbox")).text()
    assert numbers[0] in everything and numbers[2] in everything
    assert numbers[1] not in everything  # the merged duplicate follows its case
    merged = await (await client.get("/inbox?state=merged")).text()
    assert numbers[1] in merged
    # a search in the 待分拨 tab finds the assigned case too
    found = await (await client.get(f"/inbox?view=triage&q={numbers[2]}")).text()
    assert numbers[2] in found
    # the history names people and units, not internal codes
    history = await (await client.get(f"/cases/{ids[2]}")).text()
    start = history.index('id="events"')
    events = history[start:history.index("</table>", start)]
    assert "disp（派单员）" in events and "dispatcher:disp" not in events
    assert "智能分拨" in events and ">router<" not in events
    assert "zhujian" not in events


async def test_bulk_actions_keep_the_list_and_say_what_they_did(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    ids = await hub.run(_cases, hub, ["幸福路积水", "幸福路积水严重", "建设路噪音扰民"])
    csrf = await login(client, "disp")
    back = "view=triage&county=A3"
    none = await client.post("/inbox/bulk", data={"csrf": csrf, "back": back, "unit": "zhujian"})
    text = await none.text()
    assert none.status == 422 and "请先勾选工单" in text
    assert 'class="on" data-view="triage"' in text  # still the same tab
    no_unit = await client.post("/inbox/bulk", data={
        "csrf": csrf, "back": back, "case_id": [str(ids[0]), str(ids[1])], "unit": ""})
    text = await no_unit.text()
    assert no_unit.status == 422 and "请选择承办单位" in text
    for ticked in ids[:2]:  # the same boxes ticked again
        assert re.search(f'value="{ticked}"[^>]*checked', text), text
    done = await client.post("/inbox/bulk", allow_redirects=False, data={
        "csrf": csrf, "back": back, "case_id": [str(ids[0]), str(ids[1])], "unit": "zhujian"})
    assert done.status == 303
    location = done.headers["Location"]
    assert "view=triage" in location and "county=A3" in location and "ok=assigned" in location
    assert "已保存：批量交办 2 件" in await (await client.get(location)).text()
    await logout(client, csrf)

    csrf = await login(client, "sup")
    for _ in range(2):
        resp = await client.post("/inbox/bulk", data={
            "csrf": csrf, "back": "view=all", "case_id": [str(ids[0]), str(ids[1])],
            "note": "请尽快处理积水"})
        assert resp.status == 200 and "批量督办 2 件" in await resp.text()
    counts = await hub.run(read, hub, lambda s: [s.get(Case, i).urge_count for i in ids])
    assert counts == [2, 2, 0]
    urged = await (await client.get("/inbox?view=urged")).text()
    number = await hub.run(read, hub, lambda s: s.get(Case, ids[0]).number)
    assert number in urged


async def test_newer_cases_are_counted_not_shown(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    first = await hub.run(_cases, hub, ["东风路路灯不亮"])
    await login(client, "disp")
    resp = await client.get("/inbox/newer", params={"view": "triage", "after": str(first[0])})
    assert (await resp.json())["newer"] == 0
    await hub.run(_cases, hub, ["东风路又有一盏路灯不亮", "东风路井盖松动"])
    resp = await client.get("/inbox/newer", params={"view": "triage", "after": str(first[0])})
    assert (await resp.json())["newer"] == 2


async def test_supervisors_see_overdue_work_per_unit(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    ids = await hub.run(_cases, hub, ["旧城区排水管堵塞"])

    def overdue() -> None:
        svc = CaseService(hub.config, hub.unit_ids)
        with transaction(hub.sessions) as s:
            svc.assign(s, ids[0], "zhujian", "dispatcher:disp")
            s.execute(Case.__table__.update().where(Case.id == ids[0]).values(
                due_state="overdue"))

    await hub.run(overdue)
    await login(client, "sup")
    page = await (await client.get("/inbox?view=supervise")).text()
    assert 'id="overdue-by-unit"' in page and "A市住房和城乡建设局</a> <strong>1</strong>" in page
    assert await hub.run(read, hub, lambda s: s.scalar(select(Case.due_state))) == "overdue"


async def test_saved_views_are_each_users_own(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    csrf = await login(client, "disp")
    resp = await client.post("/inbox/views", allow_redirects=False, data={
        "csrf": csrf, "name": "A3待分拨", "back": "view=triage&county=A3&page=7&evil=1"})
    assert resp.status == 303
    assert resp.headers["Location"].startswith("/inbox?view=triage&county=A3")
    assert "evil" not in resp.headers["Location"] and "page" not in resp.headers["Location"]
    page = await (await client.get("/inbox")).text()
    assert 'id="saved-views"' in page and "A3待分拨" in page
    nameless = await client.post("/inbox/views", data={"csrf": csrf, "name": " ",
                                                        "back": "view=late"})
    assert nameless.status == 422 and "起个名字" in await nameless.text()
    view_id = re.search(r'/inbox/views/(\d+)/delete', page).group(1)  # type: ignore[union-attr]
    await logout(client, csrf)
    csrf = await login(client, "sup")
    assert "A3待分拨" not in await (await client.get("/inbox")).text()
    await client.post(f"/inbox/views/{view_id}/delete", data={"csrf": csrf})  # not theirs
    await logout(client, csrf)
    csrf = await login(client, "disp")
    assert "A3待分拨" in await (await client.get("/inbox")).text()
    await client.post(f"/inbox/views/{view_id}/delete", data={"csrf": csrf})
    assert "A3待分拨" not in await (await client.get("/inbox")).text()


async def test_next_case_of_the_queue(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    ids = await hub.run(_cases, hub, ["北门路灯不亮", "南门井盖缺失"])
    await login(client, "disp")
    resp = await client.get(f"/inbox/next?skip={ids[1]}", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"/cases/{ids[0]}"
    resp = await client.get(f"/inbox/next?skip={ids[0]}", allow_redirects=False)
    assert resp.headers["Location"] == f"/cases/{ids[1]}"


async def test_saving_views_at_once_neither_fails_nor_passes_the_limit(client: Any) -> None:
    """Twenty saves of one name at once leave one view and no error; saves of many
    names at once stop at the limit (PostgreSQL ran them in parallel and answered 500
    on the unique name)."""
    from hub.web.saved_views import MAX_VIEWS

    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    csrf = await login(client, "disp")

    async def save(name: str) -> int:
        resp = await client.post("/inbox/views", allow_redirects=False, data={
            "csrf": csrf, "name": name, "back": "view=triage"})
        return resp.status

    def names() -> list[str]:
        with hub.sessions() as s:
            return list(s.scalars(select(SavedView.name)))

    same = await asyncio.gather(*[save("同名视图") for _ in range(20)])
    assert set(same) == {303}, same
    assert await hub.run(names) == ["同名视图"]
    many = await asyncio.gather(*[save(f"视图{i}") for i in range(MAX_VIEWS + 10)])
    assert set(many) <= {303, 422} and many.count(303) == MAX_VIEWS - 1, many
    assert len(await hub.run(names)) == MAX_VIEWS
