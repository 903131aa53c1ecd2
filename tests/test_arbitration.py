"""Disputed returns (退单) and arbitration (仲裁): a return names a reason code and the
unit it believes responsible; a dispatcher rules it rightful (another unit, a fresh
deadline) or wrongful (错退: back to the same unit with its clock still running);
rankings count each ruling once; repeated returns escalate; the pages carry it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from classifiers.decision import RouteDecision
from hub.db import transaction
from hub.intake_schema import validate_item
from hub.lifecycle import arbitration
from hub.lifecycle.service import CaseError, CaseService
from hub.models import Appeal, Case, CaseEvent, RoutingLabel
from hub.queue import enqueue
from hub.ranking.metrics import collect
from hub.ranking.period import parse_period
from tests.webutil import act_on_case, login, logout, make_staff, read, submit_as_citizen

CST = ZoneInfo("Asia/Shanghai")
ZJ, JT = "zhujian", "jiaotong"
ELSEWHERE = arbitration.ELSEWHERE[0]


def at(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CST)


def end_of(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 23, 59, 59, tzinfo=CST)


def assigned_case(hub: Any, ext: str, unit: str = JT,
                  when: datetime | None = None) -> tuple[CaseService, int]:
    """Assigned Tue 2026-10-13 09:00 (3 working days: due Fri 10-16) and signed."""
    svc = CaseService(hub.config, hub.unit_ids)
    when = when or at(10, 13, 9)
    with transaction(hub.sessions) as s:
        item = validate_item({"external_id": ext, "body": "小区门口路灯坏了一个月没人修"})
        appeal = s.get(Appeal, enqueue(s, hub.source_ids["hotline-push"], [item])[0].id)
        case = svc.open_case(s, appeal, RouteDecision("城乡建设", None, "A3", 0.2, True, []))
        svc.assign(s, case.id, unit, "dispatcher", now=when)
        svc.sign(s, case.id, "unit", now=when.replace(hour=10))
    return svc, case.id


def test_a_return_needs_a_known_code_and_for_elsewhere_a_unit(hub: Any) -> None:
    svc, case_id = assigned_case(hub, "r1")
    with transaction(hub.sessions) as s:
        for code, suggested, why in (("不想办", None, "类别"), (ELSEWHERE, None, "建议承办单位"),
                                     (ELSEWHERE, JT, "不能是本单位"),
                                     (ELSEWHERE, "nowhere", "没有这个单位")):
            with pytest.raises(CaseError, match=why):
                svc.return_case(s, case_id, "unit", "不归我们管", code=code, suggested=suggested)
        case = svc.return_case(s, case_id, "unit", "路灯归住建局", code=ELSEWHERE,
                               suggested=ZJ, now=at(10, 14, 9))
        assert (case.state, case.return_code, case.return_unit) == ("returned", ELSEWHERE, ZJ)
        assert case.unit_id is None and case.deadline_at is None
        label = s.scalar(select(RoutingLabel).where(RoutingLabel.case_id == case_id))
        assert label.origin == "return" and label.wrong_unit_code == JT


def test_rightful_goes_to_the_suggested_unit_with_a_fresh_deadline(hub: Any) -> None:
    svc, case_id = assigned_case(hub, "r2")
    with transaction(hub.sessions) as s:
        svc.return_case(s, case_id, "unit", "路灯归住建局", code=ELSEWHERE, suggested=ZJ,
                        now=at(10, 14, 9))
        with pytest.raises(CaseError, match="改派其他单位"):
            arbitration.rule(svc, s, case_id, "d", "退回成立", JT)
        case = arbitration.rule(svc, s, case_id, "d", "退回成立", now=at(10, 14, 11))
        # Wed 10-14 11:00 + 3 working days: Mon 10-19 (the weekend between)
        assert (case.unit_id, case.state) == (hub.unit_ids[ZJ], "assigned")
        assert case.deadline_at == end_of(10, 19)
        assert case.return_code is None and case.return_unit is None
    with hub.sessions() as s:
        week = collect(s, parse_period("2026-W42", CST), svc.calendar).units
    assert (week[hub.unit_ids[JT]].rightful_returns, week[hub.unit_ids[JT]].wrongful_returns) \
        == (1, 0)


def test_wrongful_goes_back_with_the_clock_still_running(hub: Any) -> None:
    """Returned Wed, ruled wrongful Thu: the deadline is still Fri 10-16, and 交通
    answers on Monday: one late obligation, one 错退, nothing counted twice."""
    svc, case_id = assigned_case(hub, "r3")
    with transaction(hub.sessions) as s:
        svc.return_case(s, case_id, "unit", "不归我们", code="其他", now=at(10, 14, 9))
        with pytest.raises(CaseError, match="回到原单位"):
            arbitration.rule(svc, s, case_id, "d", "退回不成立", ZJ)
        case = arbitration.rule(svc, s, case_id, "d", "退回不成立", note="属交通局职责",
                                now=at(10, 15, 9))
        assert (case.unit_id, case.state) == (hub.unit_ids[JT], "assigned")
        assert case.deadline_at == end_of(10, 16)
        with pytest.raises(CaseError, match="没有待仲裁"):
            arbitration.rule(svc, s, case_id, "d", "退回不成立")
        svc.sign(s, case_id, "unit", now=at(10, 15, 10))
        svc.reply(s, case_id, "unit", "已安排维修路灯。", now=at(10, 19, 10))
    with hub.sessions() as s:
        jt = collect(s, parse_period("2026-W42", CST), svc.calendar).units[hub.unit_ids[JT]]
    assert (jt.wrongful_returns, jt.rightful_returns) == (1, 0)
    assert (jt.due, jt.due_on_time) == (1, 0)


def test_a_late_return_ruled_wrongful_is_due_once(hub: Any) -> None:
    """Returned after its deadline (Fri 10-16) and ruled wrongful the same week: the
    restored deadline is already past, and the week counts the case once, late."""
    svc, case_id = assigned_case(hub, "r4")
    with transaction(hub.sessions) as s:
        svc.return_case(s, case_id, "unit", "不归我们", code="其他", now=at(10, 17, 9))
        case = arbitration.rule(svc, s, case_id, "d", "退回不成立", now=at(10, 17, 10))
        assert case.deadline_at == end_of(10, 16) and case.deadline_at < at(10, 17, 10)
    with hub.sessions() as s:
        jt = collect(s, parse_period("2026-W42", CST), svc.calendar).units[hub.unit_ids[JT]]
    assert (jt.due, jt.due_on_time, jt.wrongful_returns) == (1, 0, 1)


def test_returned_twice_escalates(hub: Any) -> None:
    svc, case_id = assigned_case(hub, "r5")
    with transaction(hub.sessions) as s:
        svc.return_case(s, case_id, "unit", "不归我们", code="其他", now=at(10, 13, 11))
        assert not s.get(Case, case_id).escalated
        arbitration.rule(svc, s, case_id, "d", "退回不成立", now=at(10, 13, 12))
        case = svc.return_case(s, case_id, "unit", "还是不归我们", code="其他",
                               now=at(10, 13, 14))
        assert case.escalated and case.return_count == 2
        actions = list(s.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case_id)
                                 .order_by(CaseEvent.id)))
    assert actions[-2:] == ["return", "escalate"]


async def test_return_and_ruling_through_the_pages(client: Any) -> None:
    """交通 returns from the case page naming 住建; the dispatcher finds it in 退单仲裁
    with the claim, rules 退回成立 (the suggested unit is preselected); the citizen
    reads that the return was being reviewed, never the unit's words."""
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    number, code, case_id = await submit_as_citizen(
        client, "路灯不亮", "幸福路路灯坏了一个月", "孙八", "13700004444")
    csrf = await login(client, "disp")
    await act_on_case(client, case_id, csrf, action="assign", unit=JT, difficulty="normal")
    await logout(client, csrf)
    csrf = await login(client, "jt")
    page = await act_on_case(client, case_id, csrf, action="sign")
    assert 'class="card action-return"' in page and ELSEWHERE in page  # from the declaration
    page = await act_on_case(client, case_id, csrf, saved=False, action="return",
                             code=ELSEWHERE, reason="路灯由住建局管理")
    assert "建议承办单位" in page
    await act_on_case(client, case_id, csrf, action="return", code=ELSEWHERE,
                      suggested=ZJ, reason="路灯由住建局管理，联系人13811112222")
    await logout(client, csrf)

    csrf = await login(client, "disp")
    queue = await (await client.get("/inbox?view=arbitration")).text()
    assert number in queue
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert 'id="return-claim"' in page and ELSEWHERE in page
    assert 'class="card action-arbitrate"' in page and 'class="card action-assign"' not in page
    assert f'<option value="{ZJ}" selected>' in page
    await act_on_case(client, case_id, csrf, action="arbitrate", ruling="退回成立", unit=ZJ)
    assert number not in await (await client.get("/inbox?view=arbitration")).text()
    case = await hub.run(read, hub, lambda s: s.get(Case, case_id))
    assert (case.unit_id, case.state) == (hub.unit_ids[ZJ], "assigned")
    view = await (await client.get(f"/api/v1/cases/{number}", params={"code": code})).json()
    texts = [step["text"] for step in view["timeline"]]
    assert "承办单位申请退回，正在审核后重新分派" in texts
    assert "13811112222" not in str(view) and "住建局管理" not in str(view)
