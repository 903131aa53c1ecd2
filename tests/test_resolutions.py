"""How a case ended (办理结果) and whether the citizen says it was solved (是否解决):
required on staff replies, a planned date for 列入计划 that becomes the follow-up,
a reason for 无法解决; 未解决 reopens; rankings keep 解决率 apart from 满意率."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from classifiers.decision import RouteDecision
from hub.db import transaction
from hub.intake_schema import validate_item
from hub.lifecycle.resolutions import checked
from hub.lifecycle.service import CaseError, CaseService
from hub.models import Appeal, Case, Rating, Reply
from hub.queue import enqueue
from hub.ranking.metrics import collect
from hub.ranking.period import parse_period
from tests.webutil import act_on_case, csrf_in, login, logout, make_staff, read, submit_as_citizen

CST = ZoneInfo("Asia/Shanghai")
UNIT = "A3-zhujian"


def at(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CST)


def test_a_resolution_says_what_it_needs_in_chinese() -> None:
    now = at(11, 2, 10)
    with pytest.raises(CaseError, match="请选择办理结果"):
        checked("", None, None, now, CST)
    with pytest.raises(CaseError, match="请选择办理结果"):
        checked("不属于本单位职责", None, None, now, CST)  # that is a return, not a reply
    with pytest.raises(CaseError, match="计划完成日期"):
        checked("列入计划", "下个月", None, now, CST)
    with pytest.raises(CaseError, match="三年之内"):
        checked("列入计划", "2026-11-02", None, now, CST)  # today is not a plan
    with pytest.raises(CaseError, match="原因"):
        checked("无法解决", None, "  ", now, CST)
    with pytest.raises(CaseError, match="计划完成日期"):
        checked("列入计划", "2027-02-30", None, now, CST)  # no such day
    with pytest.raises(CaseError, match="计划完成日期"):
        checked("列入计划", "2027-03-31-05", None, now, CST)
    for written in ("2027-03-31", "2027/3/31", "2027年3月31日", "２０２７-０３-３１"):
        assert checked("列入计划", written, None, now, CST).planned_on == date(2027, 3, 31)
    plan = checked("列入计划", "2027-03-31", None, now, CST)
    assert plan.follow_up_at(CST) == datetime(2027, 3, 31, 23, 59, 59, tzinfo=CST)
    assert checked("已解决", "2027-03-31", None, now, CST).planned_on is None


def _replied_case(hub: Any, svc: CaseService, ext: str, when: datetime) -> Case:
    with transaction(hub.sessions) as s:
        item = validate_item({"external_id": ext, "body": "A3区含浦街道路灯不亮已经一个月了"})
        appeal = s.get(Appeal, enqueue(s, hub.source_ids["hotline-push"], [item])[0].id)
        case = svc.open_case(s, appeal, RouteDecision("城乡建设", None, "A3", 0.2, True, []))
        svc.assign(s, case.id, UNIT, "dispatcher", now=when)
        svc.sign(s, case.id, "unit", now=when)
        svc.reply(s, case.id, "unit", "已安排维修更换灯具。", now=when,
                  resolution=checked("已解决", None, None, when, CST))
        return s.get(Case, case.id)


def test_solved_is_kept_apart_from_satisfied_in_the_rankings(hub: Any) -> None:
    """Four replies rated in week 46 (11-09..11-15): 满意+已解决, 满意+未解决 (which
    reopens), 基本满意 without the question, 不满意+已解决 -> 满意率 counts three
    grades of 满意/基本满意 in four, 解决率 two solved in three asked."""
    svc = CaseService(hub.config, hub.unit_ids)
    cases = [_replied_case(hub, svc, f"r{i}", at(11, 9, 9)) for i in range(4)]
    answers = [("满意", True), ("满意", False), ("基本满意", None), ("不满意", True)]
    states = []
    with transaction(hub.sessions) as s:
        for case, (grade, solved) in zip(cases, answers, strict=True):
            rated = svc.rate(s, case.number, case.query_code, grade, now=at(11, 10, 9),
                             solved=solved)
            states.append(rated.state)
    assert states == ["closed", "reopened", "closed", "reopened"]
    with hub.sessions() as s:
        assert [r.solved for r in s.query(Rating).order_by(Rating.id)] == [True, False, None, True]
        unit = collect(s, parse_period("2026-W46", CST), svc.calendar).units[hub.unit_ids[UNIT]]
    assert (unit.rated, unit.satisfied) == (4, 3)
    assert (unit.resolution_asked, unit.resolved) == (3, 2)


async def test_reply_with_a_plan_through_the_pages(client: Any) -> None:
    """The unit must choose a resolution; 列入计划 needs a date and gives the case its
    follow-up; the citizen sees the resolution and the planned date and is asked
    是否解决 beside the grade; 未解决 reopens the case."""
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    number, code, case_id = await submit_as_citizen(
        client, "小区道路破损", "幸福小区内道路破损严重，雨天积水", "孙八", "13700004444")

    async def act(csrf: str, saved: bool = True, **fields: str) -> str:
        return await act_on_case(client, case_id, csrf, saved, **fields)

    csrf = await login(client, "disp")
    await act(csrf, action="assign", unit="zhujian", difficulty="normal")
    await logout(client, csrf)
    csrf = await login(client, "zj")
    await act(csrf, action="sign")
    reply = ("经现场查看，幸福小区内道路破损系排水不畅所致，"
             "已将该路段维修纳入明年3月的道路改造计划。")
    page = await act(csrf, False, action="reply", body=reply)
    assert "请选择办理结果" in page
    page = await act(csrf, False, action="reply", body=reply, resolution="列入计划")
    assert "计划完成日期" in page
    planned = date(datetime.now(CST).year + 1, 3, 31).isoformat()
    page = await act(csrf, action="reply", body=reply, resolution="列入计划", planned_on=planned)
    assert "列入计划" in page and 'id="follow-up"' in page
    await logout(client, csrf)
    stored = await hub.run(read, hub, lambda s: s.query(Reply).filter_by(
        case_id=case_id).one())
    assert (stored.resolution, stored.planned_on.isoformat()) == ("列入计划", planned)

    look = await (await client.get("/lookup")).text()
    resp = await client.post("/lookup", data={"csrf": csrf_in(look), "number": number,
                                              "code": code})
    public = await resp.text()
    assert "列入计划" in public and planned in public and 'name="solved"' in public
    api = await (await client.get(f"/api/v1/cases/{number}", params={"code": code})).json()
    assert api["replies"][0]["resolution"] == "列入计划"
    assert api["replies"][0]["planned_on"] == planned
    resp = await client.post(f"/api/v1/cases/{number}/rating",
                             json={"code": code, "grade": "基本满意", "solved": False})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["state"] == "reopened"

    # the whole loop in plain Chinese, without staff notes or the phone
    view = await (await client.get(f"/api/v1/cases/{number}", params={"code": code})).json()
    texts = [step["text"] for step in view["timeline"]]
    assert texts[0] == "您的诉求已受理" and len(texts) == 5, texts
    assert texts[1].startswith("已交由") and "办理期限" in texts[1]
    assert texts[2].endswith("已签收，正在办理")
    assert texts[3].endswith("已答复（列入计划）")
    assert texts[4] == "评价：基本满意，重新办理（重办）"
    assert "13700004444" not in str(view) and "孙八" not in str(view)
    page = await (await client.post("/lookup", data={"csrf": csrf_in(look), "number": number,
                                                      "code": code})).text()
    assert 'id="public-timeline"' in page and "已答复（列入计划）" in page


def test_a_second_unsatisfied_rating_escalates_and_a_supervisor_may_conclude(hub: Any) -> None:
    """不满意 once: 重办. Twice: 重办 with 二次督办 (an escalate event). A supervisor may
    then end the loop (审核办结) with a reason; rankings do not count that as 办结,
    and the closed case is no longer carried as overdue."""
    svc = CaseService(hub.config, hub.unit_ids)
    case = _replied_case(hub, svc, "loop", at(10, 12, 9))
    with transaction(hub.sessions) as s:
        svc.rate(s, case.number, case.query_code, "不满意", now=at(10, 12, 12))
        with pytest.raises(CaseError, match="二次"):
            svc.conclude(s, case.id, "supervisor", "已尽力办理")
        svc.sign(s, case.id, "unit", now=at(10, 12, 13))
        svc.reply(s, case.id, "unit", "再次更换灯具并检修线路。", now=at(10, 12, 15),
                  resolution=checked("已解决", None, None, at(10, 12, 15), CST))
        again = svc.rate(s, case.number, case.query_code, "不满意", now=at(10, 12, 16))
        assert (again.state, again.reopen_count, again.escalated) == ("reopened", 2, True)
        with pytest.raises(CaseError, match="理由"):
            svc.conclude(s, case.id, "supervisor", " ")
        done = svc.conclude(s, case.id, "supervisor", "线路已全部更换，经现场核实灯亮",
                            now=at(10, 13, 9))
        assert done.state == "closed"
    with hub.sessions() as s:
        from sqlalchemy import select

        from hub.lifecycle.timeline import citizen_timeline
        from hub.models import CaseEvent

        notes = list(s.scalars(select(CaseEvent.note).where(
            CaseEvent.case_id == case.id, CaseEvent.action == "escalate")))
        lines = [x["text"] for x in citizen_timeline(s, s.get(Case, case.id), CST)]
        w42 = collect(s, parse_period("2026-W42", CST), svc.calendar).units[hub.unit_ids[UNIT]]
        w44 = collect(s, parse_period("2026-W44", CST), svc.calendar).units
    assert notes == ["第2次重办，二次督办"]
    assert lines[-1] == "经督办审核，办结" and "线路已全部更换" not in str(lines)
    assert w42.due_closed == 0 and w42.reopened == 1  # (one case reopened twice counts once)
    assert hub.unit_ids[UNIT] not in w44  # closed: not carried as overdue
