"""Surges through the pages: the banner and prepared answer on the call form, a
supervisor's edits, an operator linking a call, who may see and do what, and a
linked caller's look-up and rating, by page and by API."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from classifiers.decision import RouteDecision
from hub.db import transaction
from hub.intake_schema import validate_item
from hub.models import Case, ContactView, Surge
from hub.pipeline import Pipeline
from hub.queue import enqueue
from hub.surge.simulate import callers, event
from tests.webutil import csrf_in, login, logout, make_staff

ROUTED = RouteDecision("城乡建设", "zhujian", "A3", 0.95, False, [])


class FixedRouter:
    def route_many(self, texts: list[str]) -> list[RouteDecision]:
        return [ROUTED for _ in texts]


def hot_event(hub: Any, n: int = 40) -> tuple[Surge, Case, Case]:
    """Calls about a burst water main, processed: the surge, its carrying case and the
    newest linked caller's case."""
    items = [validate_item({"external_id": f"w-{i}", "body": text,
                            "contact_name": "钱七", "contact_phone": f"139000{i:05d}"})
             for i, text in enumerate(callers(event(0), n, seed=21))]
    with transaction(hub.sessions) as s:
        enqueue(s, hub.source_ids["hotline-push"], items)
    Pipeline(hub, FixedRouter()).drain()
    with hub.sessions() as s:
        surge = s.scalars(select(Surge)).one()
        carrier = s.get(Case, surge.case_id)
        caller = s.scalars(select(Case).where(Case.merged_into_id == carrier.id)
                           .order_by(Case.id.desc())).first()
        return surge, carrier, caller


async def test_operators_see_the_surge_and_link_calls_to_it(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    surge, carrier, _ = await hub.run(hot_event, hub)

    csrf = await login(client, "op")
    form = await (await client.get("/calls/new")).text()
    assert 'id="surge-banner"' in form and surge.title in form
    assert "预设答复" in form and "正在统一处理" in form
    assert f'name="surge" value="{surge.id}"' in form
    inbox = await (await client.get("/inbox")).text()
    assert surge.title in inbox
    # an operator reads the surge but may not edit it
    page = await client.get(f"/surges/{surge.id}")
    text = await page.text()
    assert page.status == 200 and carrier.number in text and 'id="surge-edit"' not in text
    assert "139****" in text and "13900000" not in text  # callers' phones masked for operators
    refused = await client.post(f"/surges/{surge.id}", data={
        "csrf": csrf, "action": "edit", "title": "x", "answer": "不该能改"})
    assert refused.status == 403
    await logout(client, csrf)

    # the supervisor words the answer; markup stays text
    csrf = await login(client, "sup")
    page = await (await client.get(f"/surges/{surge.id}")).text()
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version and "13900000" in page  # a supervisor may call callers back

    def views() -> list[tuple[str, str]]:
        with hub.sessions() as s:
            return [(v.username, v.via) for v in s.scalars(select(ContactView))]
    seen = await hub.run(views)
    assert seen and set(seen) == {("sup", "surge")}  # recorded; the operator's masked view not
    answer = ("桂花路供水管道正在抢修，预计今晚8点前恢复供水，可到桂花苑东门送水点取水。"
              "<script>x</script>")
    resp = await client.post(f"/surges/{surge.id}", data={
        "csrf": csrf, "version": version.group(1), "action": "edit",
        "title": "桂花路爆管停水", "answer": answer, "article_ref": ""})
    assert resp.status == 200 and "已保存" in await resp.text()
    stale = await client.post(f"/surges/{surge.id}", data={
        "csrf": csrf, "version": version.group(1), "action": "edit",
        "title": "改晚了", "answer": "另一个口径的答复内容"})
    assert stale.status == 409 and "已被他人修改" in await stale.text()
    short = await client.post(f"/surges/{surge.id}", data={
        "csrf": csrf, "action": "edit", "title": "桂花路爆管停水", "answer": "短"})
    assert short.status == 400
    no_csrf = await client.post(f"/surges/{surge.id}", data={"action": "end"})
    assert no_csrf.status == 403
    case_page = await (await client.get(f"/cases/{carrier.id}")).text()
    assert 'id="case-surge"' in case_page and "桂花路爆管停水" in case_page
    assert "热点处置" in case_page  # the edit is in the case's record
    await logout(client, csrf)

    # the operator reads the new answer and links a caller who words it differently
    csrf = await login(client, "op")
    form = await (await client.get("/calls/new")).text()
    assert "预计今晚8点前恢复供水" in form and "<script>x</script>" not in form
    resp = await client.post("/calls/new", data={
        "csrf": csrf, "body": "我家没水了，什么时候能来水", "contact_phone": "13711112222",
        "surge": str(surge.id)})
    text = await resp.text()
    assert resp.status == 200 and "已关联热点事件" in text and "桂花路爆管停水" in text
    number = re.search(r"工单编号 <strong>(\d+)</strong>", text)
    assert number
    bogus = await client.post("/calls/new", data={"csrf": csrf, "body": "我家也没水",
                                                  "surge": "999999"})
    assert bogus.status == 422 and "已结束或不存在" in await bogus.text()
    await hub.run(Pipeline(hub, FixedRouter()).drain)

    def linked_case() -> Case:
        with hub.sessions() as s:
            return s.scalars(select(Case).where(Case.number == number.group(1))).one()

    assert (await hub.run(linked_case)).merged_into_id == carrier.id
    await logout(client, csrf)

    # unit staff have no surge pages; the supervisor ends the surge and the banner goes
    csrf = await login(client, "zj")
    assert (await client.get("/surges")).status == 403
    await logout(client, csrf)
    csrf = await login(client, "sup")
    page = await (await client.get(f"/surges/{surge.id}")).text()
    version = re.search(r'id="surge-state-form">.*?name="version" value="(\d+)"', page, re.S)
    assert version
    resp = await client.post(f"/surges/{surge.id}", data={
        "csrf": csrf, "version": version.group(1), "action": "end"})
    assert resp.status == 200 and "已结束" in await resp.text()
    listing = await (await client.get("/surges")).text()
    assert "桂花路爆管停水" in listing and "已结束" in listing
    await logout(client, csrf)
    csrf = await login(client, "op")
    assert 'id="surge-banner"' not in await (await client.get("/calls/new")).text()


async def test_a_linked_caller_reads_the_reply_and_rates_it(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    _, carrier, caller = await hub.run(hot_event, hub)

    look = await (await client.get("/lookup")).text()
    resp = await client.post("/lookup", data={"csrf": csrf_in(look), "number": caller.number,
                                              "code": caller.query_code})
    page = await resp.text()
    assert resp.status == 200 and 'id="public-linked"' in page and carrier.number in page
    assert "正在统一处理" in page and 'id="rate"' not in page

    csrf = await login(client, "zj")
    answer = "经现场抢修，桂花路破裂的供水管段已更换完毕，今日18时恢复供水，停水期间已安排送水车。"
    for action, extra in (("sign", {}), ("reply", {"body": answer, "resolution": "已解决"})):
        case_page = await (await client.get(f"/cases/{carrier.id}")).text()
        version = re.search(r'name="version" value="(\d+)"', case_page)
        assert version
        done = await client.post(f"/cases/{carrier.id}/act", data={
            "csrf": csrf, "version": version.group(1), "action": action, **extra})
        assert done.status == 200 and "已保存" in await done.text()
    await logout(client, csrf)

    api = await client.get(f"/api/v1/cases/{caller.number}?code={caller.query_code}")
    body = await api.json()
    assert body["linked_to"] == carrier.number and body["state"] == "replied"
    assert body["can_rate"] and "恢复供水" in body["replies"][0]["body"]
    assert "139" not in str(body)
    look = await (await client.get("/lookup")).text()  # logging out dropped the cookies
    resp = await client.post("/lookup", data={"csrf": csrf_in(look), "number": caller.number,
                                              "code": caller.query_code})
    page = await resp.text()
    assert "18时恢复供水" in page and 'id="rate"' in page
    rated = await client.post("/lookup/rate", data={
        "csrf": csrf_in(page), "number": caller.number, "code": caller.query_code,
        "grade": "基本满意", "comment": "来水了但水有点黄"})
    assert rated.status == 200 and "感谢评价" in await rated.text()
    again = await client.post(f"/api/v1/cases/{caller.number}/rating", json={
        "code": caller.query_code, "grade": "不满意"})
    assert again.status == 409
    wrong = await client.post(f"/api/v1/cases/{caller.number}/rating", json={
        "code": carrier.query_code, "grade": "满意"})
    assert wrong.status == 404
    csrf = await login(client, "sup")
    surge_page = await (await client.get("/surges")).text()
    link = re.search(r'href="/surges/(\d+)"', surge_page)
    assert link
    detail = await (await client.get(f"/surges/{link.group(1)}")).text()
    assert re.search(r"基本满意 1", detail)
