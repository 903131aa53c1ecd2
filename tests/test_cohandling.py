"""Joint handling (主办/协办): a dispatcher asks a second unit to co-handle part of a
case; the co-handler answers the lead unit on its own page (never seeing the
citizen's contact details nor the case page); the lead reads the answer and replies
once; rankings count each co-handler's timeliness, a late one included."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from classifiers.decision import RouteDecision
from hub.db import transaction
from hub.intake_schema import validate_item
from hub.lifecycle import cohandling
from hub.lifecycle.service import CaseError, CaseService, Conflict, NotFound
from hub.models import Appeal, CaseEvent, CoTask
from hub.queue import enqueue
from hub.ranking.metrics import collect
from hub.ranking.period import parse_period
from tests.webutil import act_on_case, csrf_in, login, logout, make_staff, read, submit_as_citizen

CST = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CST)


def lead_case(hub: Any, ext: str) -> tuple[CaseService, int]:
    """Assigned to 住建 on Mon 2026-10-12 09:00."""
    svc = CaseService(hub.config, hub.unit_ids)
    with transaction(hub.sessions) as s:
        item = validate_item({"external_id": ext, "body": "小区道路积水，排水管堵塞"})
        appeal = s.get(Appeal, enqueue(s, hub.source_ids["hotline-push"], [item])[0].id)
        case = svc.open_case(s, appeal, RouteDecision("城乡建设", None, "A3", 0.2, True, []))
        svc.assign(s, case.id, "zhujian", "dispatcher", now=at(10, 12, 9))
    return svc, case.id


def test_co_tasks_are_checked_answered_once_and_ranked(hub: Any) -> None:
    svc, case_id = lead_case(hub, "c1")
    jt, sw = hub.unit_ids["jiaotong"], hub.unit_ids["shuiwu"]
    with transaction(hub.sessions) as s:
        for unit, task, why in (("zhujian", "协助", "主办单位"), ("jiaotong", " ", "协办事项"),
                                ("nowhere", "协助", "没有这个单位")):
            with pytest.raises(CaseError, match=why):
                cohandling.add(svc, s, case_id, "d", unit, task)
        # due two working days later: Wed 10-14
        cohandling.add(svc, s, case_id, "d", "jiaotong", "核实道路积水路段的交通管制",
                       now=at(10, 12, 10))
        cohandling.add(svc, s, case_id, "d", "shuiwu", "疏通排水管", now=at(10, 12, 10))
        with pytest.raises(Conflict):
            cohandling.add(svc, s, case_id, "d", "jiaotong", "再次协助")
        tasks = {t.unit_id: t for t in s.scalars(select(CoTask).where(CoTask.case_id == case_id))}
        assert tasks[jt].deadline_at == at(10, 14, 23).replace(minute=59, second=59)
        with pytest.raises(NotFound):  # another unit's task
            cohandling.answer(s, tasks[jt].id, sw, "unit:sw", "不是我们的任务")
        with pytest.raises(CaseError, match="太短"):
            cohandling.answer(s, tasks[jt].id, jt, "unit:jt", "好")
        cohandling.answer(s, tasks[jt].id, jt, "unit:jt", "已安排交警疏导积水路段交通。",
                          now=at(10, 13, 15))
        with pytest.raises(Conflict):
            cohandling.answer(s, tasks[jt].id, jt, "unit:jt", "再答一次试试")
        # 水务 answers late, on Thursday
        cohandling.answer(s, tasks[sw].id, sw, "unit:sw", "排水管已疏通完毕。",
                          now=at(10, 15, 9))
        events = [(e.action, e.unit_id) for e in s.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.action.like("cohandle%")))]
    assert events == [("cohandle", jt), ("cohandle", sw), ("cohandle_answer", jt),
                      ("cohandle_answer", sw)]
    with hub.sessions() as s:
        week = collect(s, parse_period("2026-W42", CST), svc.calendar).units
    assert (week[jt].cohandle_due, week[jt].cohandle_on_time) == (1, 1)
    assert (week[sw].cohandle_due, week[sw].cohandle_on_time) == (1, 0)
    # the lead's work is counted on the case, not in co-handling
    assert week[hub.unit_ids["zhujian"]].cohandle_due == 0


def test_only_open_cases_take_co_handlers(hub: Any) -> None:
    svc, case_id = lead_case(hub, "c2")
    with transaction(hub.sessions) as s:
        svc.sign(s, case_id, "unit")
        svc.reply(s, case_id, "unit", "已疏通排水管，积水已排除。")
        with pytest.raises(CaseError, match="在办"):
            cohandling.add(svc, s, case_id, "d", "jiaotong", "协助")


async def test_co_handling_through_the_pages(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    number, code, case_id = await submit_as_citizen(
        client, "道路积水", "幸福路积水严重，我叫周九，电话13600005555", "周九", "13600005555")
    csrf = await login(client, "disp")
    await act_on_case(client, case_id, csrf, action="assign", unit="zhujian")
    page = await act_on_case(client, case_id, csrf, action="cohandle", unit="jiaotong",
                             task="请核实积水路段是否需要交通管制")
    assert 'id="cotasks"' in page and "待协办回复" in page
    await logout(client, csrf)

    csrf = await login(client, "jt")
    listing = await (await client.get("/cohandle")).text()
    assert number in listing and "请核实积水路段" in listing
    task_id = await hub.run(read, hub, lambda s: s.scalar(
        select(CoTask.id).where(CoTask.case_id == case_id)))
    task = await (await client.get(f"/cohandle/{task_id}")).text()
    assert "幸福路积水严重" in task and "13600005555" not in task and "周九" not in task
    # the co-handler is not given the case page (unit isolation stays keyed on the lead)
    assert (await client.get(f"/cases/{case_id}")).status == 404
    short = await client.post(f"/cohandle/{task_id}", data={"csrf": csrf, "answer": "好"})
    assert short.status == 400 and "太短" in await short.text()
    resp = await client.post(f"/cohandle/{task_id}",
                             data={"csrf": csrf, "answer": "已安排交警在积水路段疏导交通。"})
    assert resp.status == 200 and "已回复主办单位" in await resp.text()
    await logout(client, csrf)

    csrf = await login(client, "zj")  # the lead reads it; it is not its task to answer
    assert (await client.get(f"/cohandle/{task_id}")).status == 404
    case_page = await (await client.get(f"/cases/{case_id}")).text()
    assert "已安排交警在积水路段疏导交通" in case_page and "已回复" in case_page
    await logout(client, csrf)

    look = await (await client.get("/lookup")).text()
    public = await (await client.post("/lookup", data={
        "csrf": csrf_in(look), "number": number, "code": code})).text()
    assert "协助办理" in public and "疏导交通" not in public and "核实积水" not in public
