"""Paused clocks (挂起): requested by the unit, decided by a supervisor, resumed with
the working time that was left (hand-computed across the 2026 National Day holiday),
kept across reassignment, ended by a reply, seen by rankings and by the citizen."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from classifiers.decision import RouteDecision
from hub.db import transaction
from hub.intake_schema import validate_item
from hub.lifecycle import pauses
from hub.lifecycle.service import CaseError, CaseService, Conflict
from hub.models import Appeal, Case, CaseEvent
from hub.queue import enqueue
from hub.ranking.metrics import collect
from hub.ranking.period import parse_period
from tests.webutil import act_on_case, csrf_in, login, logout, make_staff, read, submit_as_citizen

CST = ZoneInfo("Asia/Shanghai")
UNIT = "A3-zhujian"
CONFIDENT = RouteDecision("城乡建设", UNIT, "A3", 0.95, False, [])
KIND = pauses.PAUSE_KINDS[2]  # 等待现场勘查或检测


def at(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CST)


def open_case(hub: Any, ext: str) -> tuple[CaseService, int]:
    """A case assigned on Monday 2026-09-28 10:00: 3 working days -> Thu 10-08
    (09-29, 09-30, then the National Day holiday 10-01..10-07)."""
    svc = CaseService(hub.config, hub.unit_ids)
    with transaction(hub.sessions) as s:
        item = validate_item({"external_id": ext, "body": "A3区含浦街道路面塌陷需要勘查"})
        appeal = s.get(Appeal, enqueue(s, hub.source_ids["hotline-push"], [item])[0].id)
        case = svc.open_case(s, appeal, RouteDecision("城乡建设", None, "A3", 0.2, True, []))
        svc.assign(s, case.id, UNIT, "dispatcher", now=at(9, 28, 10))
        svc.sign(s, case.id, "unit", now=at(9, 28, 11))
        assert s.get(Case, case.id).deadline_at == at(10, 8, 23).replace(minute=59, second=59)
    return svc, case.id


def test_pause_granted_and_resumed_across_a_holiday(hub: Any) -> None:
    svc, case_id = open_case(hub, "p1")
    unit = hub.unit_ids[UNIT]
    with transaction(hub.sessions) as s:
        with pytest.raises(CaseError):
            pauses.request(svc, s, case_id, "unit", KIND, "  ", unit_id=unit)
        with pytest.raises(CaseError):
            pauses.request(svc, s, case_id, "unit", "想休息", "理由", unit_id=unit)
    with transaction(hub.sessions) as s:
        pauses.request(svc, s, case_id, "unit", KIND, "需等待专业机构检测", unit_id=unit,
                       now=at(9, 29, 9))
        with pytest.raises(Conflict):
            pauses.request(svc, s, case_id, "unit", KIND, "again", unit_id=unit)
        # granted Tue 12:00: left = 0.5 (09-29) + 1 (09-30) + 1 (10-08, to 23:59:59)
        case = pauses.decide(svc, s, case_id, "supervisor", grant=True, now=at(9, 29, 12))
        assert case.deadline_at is None and case.paused_at is not None
        assert case.pause_left_days == pytest.approx(2.5, abs=1e-4)
        # Fri 10-09 09:00: 0.625 of 10-09, 1 of Saturday 10-10 (a make-up working
        # day), Sunday off, the last 0.875 on Monday 10-12
        case = pauses.resume(svc, s, case_id, "unit", unit_id=unit, now=at(10, 9, 9))
        assert case.deadline_at == at(10, 12, 23).replace(minute=59, second=59)
        assert case.paused_at is None and case.pause_left_days is None
        # paused: 0.5 (09-29) + 1 (09-30) + 1 (10-08) + 0.375 (10-09 until 09:00)
        assert case.paused_days == pytest.approx(2.875, abs=1e-4)
        actions = [e.action for e in s.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case_id).order_by(CaseEvent.id))]
    assert actions[-3:] == ["request_pause", "grant_pause", "resume"]


def test_refused_pause_keeps_the_clock(hub: Any) -> None:
    svc, case_id = open_case(hub, "p2")
    with transaction(hub.sessions) as s:
        with pytest.raises(CaseError):
            pauses.decide(svc, s, case_id, "supervisor", grant=True)  # nothing asked
        pauses.request(svc, s, case_id, "unit", KIND, "等勘查", now=at(9, 29, 9))
        case = pauses.decide(svc, s, case_id, "supervisor", grant=False, note="可先行处置",
                             now=at(9, 29, 10))
        assert not case.pause_requested and case.paused_at is None
        assert case.deadline_at == at(10, 8, 23).replace(minute=59, second=59)
        with pytest.raises(CaseError):
            pauses.resume(svc, s, case_id, "unit")


def test_pause_survives_reassignment_and_ends_with_a_reply(hub: Any) -> None:
    svc, case_id = open_case(hub, "p3")
    with transaction(hub.sessions) as s:
        pauses.request(svc, s, case_id, "unit", KIND, "等勘查", now=at(9, 29, 9))
        pauses.decide(svc, s, case_id, "supervisor", grant=True, now=at(9, 29, 12))
        # reassigned Wed 09-30 10:00 to another unit: still paused, with the new
        # assignment's 3 working days left (09-30 rest, 10-08, 10-09 ... in time)
        case = svc.assign(s, case_id, "A3-chengguan", "dispatcher", now=at(9, 30, 10))
        assert case.state == "assigned" and case.paused_at is not None
        assert case.deadline_at is None
        assert case.pause_left_days == pytest.approx(
            svc.calendar.workdays_between(at(9, 30, 10), svc.deadline(at(9, 30, 10), "normal")))
        svc.sign(s, case_id, "unit2", now=at(10, 8, 9))
        case = svc.reply(s, case_id, "unit2", "经现场勘查已修复路面。", now=at(10, 8, 15))
        assert case.paused_at is None and case.pause_left_days is None
        assert case.paused_days == pytest.approx(0.5 + 1 + 15 / 24, abs=1e-4)


def test_rankings_do_not_count_a_paused_case_late(hub: Any) -> None:
    """Week 41 (10-05..10-11) holds the original deadline 10-08: the paused case is
    not due there (a case not paused, the control, is); its resumed deadline 10-12
    falls in week 42, where a reply on 10-12 is on time."""
    svc, paused = open_case(hub, "p4")
    _, control = open_case(hub, "p5")
    with transaction(hub.sessions) as s:
        pauses.request(svc, s, paused, "unit", KIND, "等勘查", now=at(9, 29, 9))
        pauses.decide(svc, s, paused, "supervisor", grant=True, now=at(9, 29, 12))
        pauses.resume(svc, s, paused, "unit", now=at(10, 9, 9))
        svc.reply(s, paused, "unit", "经检测已修复路面。", now=at(10, 12, 10))
    unit = hub.unit_ids[UNIT]
    with hub.sessions() as s:
        week41 = collect(s, parse_period("2026-W41", CST), svc.calendar).units[unit]
        week42 = collect(s, parse_period("2026-W42", CST), svc.calendar).units[unit]
    assert (week41.due, week41.due_on_time) == (1, 0)  # the control only, late
    assert (week42.due, week42.due_on_time, week42.due_carried) == (2, 1, 1)


async def test_pause_through_the_pages_and_the_citizens_view(client: Any) -> None:
    """A unit asks on the case page, the supervisor sees it in 督办关注 and grants it,
    the citizen's look-up shows the kind of reason, never the staff note (which
    names a phone number); the unit resumes and the deadline is back."""
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    number, code, case_id = await submit_as_citizen(
        client, "路面塌陷", "幸福路中段路面塌陷，车辆经过危险", "钱七", "13700003333")

    async def act(csrf: str, **fields: str) -> str:
        return await act_on_case(client, case_id, csrf, **fields)

    csrf = await login(client, "disp")
    await act(csrf, action="assign", unit="zhujian", difficulty="normal")
    await logout(client, csrf)
    csrf = await login(client, "zj")
    page = await act(csrf, action="sign")
    assert 'class="card action-request_pause"' in page and KIND in page  # from the declaration
    page = await act(csrf, action="request_pause", kind=KIND,
                     reason="需等检测站出具报告，联系人电话13800001111")
    assert "挂起待审批" in page and "action-request_pause" not in page
    await logout(client, csrf)

    csrf = await login(client, "sup")
    assert number in await (await client.get("/inbox?view=supervise")).text()
    approvals = await (await client.get("/inbox?view=approvals")).text()
    assert number in approvals and "待审批" in approvals  # the supervisor's own tab
    page = await act(csrf, action="decide_pause", grant="yes")
    assert f"已挂起：{KIND}" in page and "暂停计时" in page
    await logout(client, csrf)

    look = await (await client.get("/lookup")).text()
    resp = await client.post("/lookup", data={"csrf": csrf_in(look), "number": number,
                                              "code": code})
    public = await resp.text()
    assert KIND in public and "暂停计时" in public and "13800001111" not in public
    api = await client.get(f"/api/v1/cases/{number}", params={"code": code})
    assert api.status == 200, await api.text()
    assert (await api.json())["paused"]["reason"] == KIND

    csrf = await login(client, "zj")
    page = await act(csrf, action="resume")
    assert 'id="paused"' not in page and "恢复计时" in page and "暂停计时" not in page
    case = await hub.run(read, hub, lambda s: s.get(Case, case_id))
    assert case.deadline_at is not None and case.paused_at is None
    view = await (await client.get(f"/api/v1/cases/{number}",
                                   params={"code": code})).json()
    texts = [step["text"] for step in view["timeline"]]
    assert f"暂停计时：{KIND}" in texts and any(t.startswith("恢复计时，办理期限") for t in texts)
    assert "检测站" not in str(view) and "13800001111" not in str(view)  # the staff note
