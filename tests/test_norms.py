"""The loop's time norms: 签收 limits in office hours and reply limits per category
(deadlines.toml [categories]), and staged warnings (分级预警) at shares of the
allowed time, to the handlers, the unit's head and the supervisors, read in each
user's 我的提醒 and as badges in the inbox. Times are hand-computed."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from classifiers.decision import RouteDecision
from hub.config import ConfigError, load_config
from hub.config_norms import CategoryNorm, NormSpec
from hub.db import transaction
from hub.intake_schema import validate_item
from hub.lifecycle import warnings
from hub.lifecycle.calendar import WorkCalendar
from hub.lifecycle.service import CaseService
from hub.models import Appeal, Case, CaseEvent, Reminder
from hub.queue import enqueue
from hub.settings import REPO_ROOT
from hub.web.auth import add_user
from tests.webutil import PASSWORD, act_on_case, login, logout, make_staff, read

CST = ZoneInfo("Asia/Shanghai")
HEALTH = "卫生计生"


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


def test_office_hours_skip_evenings_weekends_and_holidays(hub: Any) -> None:
    cal = WorkCalendar(hub.config.deadlines)  # 08:30-12:00, 14:00-17:30
    # Fri 16:30 + 2 h: one hour on Friday, the next at Monday 08:30-09:30
    assert cal.add_office_hours(at(10, 16, 16, 30), 2) == at(10, 19, 9, 30)
    # at lunch: the clock waits for 14:00
    assert cal.add_office_hours(at(10, 13, 12, 30), 1) == at(10, 13, 15)
    # Wed 09-30 17:00 + 2 h: half an hour, then the National Day holiday
    # (10-01..10-07), then 1.5 h on Thu 10-08
    assert cal.add_office_hours(at(9, 30, 17), 2) == at(10, 8, 10)


def _config_with(tmp_path: Path, extra: str) -> Path:
    """The shipped config with ``extra`` in place of deadlines.toml's norm tables
    (office hours and warnings come last in it; without them the defaults hold)."""
    target = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", target)
    path = target / "deadlines.toml"
    shipped = path.read_text(encoding="utf-8")
    path.write_text(shipped[:shipped.index("[office_hours]")] + "\n" + extra, encoding="utf-8")
    return target


def test_category_limits_and_warnings_are_read_and_checked(tmp_path: Path) -> None:
    good = load_config(_config_with(tmp_path / "a", f'[categories."{HEALTH}"]\n'
                                    "sign_hours = 2\nreply_days = 2\n"))
    assert good.deadlines.norms.categories[HEALTH] == CategoryNorm(2.0, 2)
    shipped = load_config(REPO_ROOT / "config").deadlines.norms
    assert (shipped.warnings, shipped.office_hours) == (NormSpec().warnings,
                                                        NormSpec().office_hours)
    assert [(w.share, w.audience) for w in good.deadlines.norms.warnings] == [
        (0.5, "handler"), (0.8, "head"), (1.0, "supervisor")]
    for extra, said in (
            ('[categories."天气"]\nreply_days = 2\n', "unknown category"),
            (f'[categories."{HEALTH}"]\nreply_days = 0\n', "reply_days"),
            (f'[categories."{HEALTH}"]\nsign_within = 2\n', "takes sign_hours"),
            ('[[warnings]]\nshare = 0.8\nto = "head"\n[[warnings]]\nshare = 0.5\n'
             'to = "handler"\n', "rising share"),
            ('[[warnings]]\nshare = 0.5\nto = "mayor"\n', "warnings.to"),
            ('[office_hours]\nperiods = ["17:30-08:30"]\n', "before the end")):
        with pytest.raises(ConfigError, match=said) as err:
            load_config(_config_with(tmp_path / str(abs(hash(extra))), extra))
        assert err.value.path.name == "deadlines.toml"


def _service(hub: Any, norms: NormSpec | None = None) -> CaseService:
    config = hub.config if norms is None else replace(
        hub.config, deadlines=replace(hub.config.deadlines, norms=norms))
    return CaseService(config, hub.unit_ids)


def _assigned(hub: Any, svc: CaseService, ext: str, category: str, when: datetime) -> int:
    with transaction(hub.sessions) as s:
        item = validate_item({"external_id": ext, "body": "社区卫生服务中心门诊排队太久"})
        appeal = s.get(Appeal, enqueue(s, hub.source_ids["hotline-push"], [item])[0].id)
        case = svc.open_case(s, appeal, RouteDecision(category, None, "A3", 0.2, True, []))
        svc.assign(s, case.id, "weijian", "dispatcher", now=when, category=category)
        return case.id


def test_a_category_has_its_own_sign_and_reply_limits(hub: Any) -> None:
    svc = _service(hub, NormSpec(categories={HEALTH: CategoryNorm(sign_hours=2, reply_days=2)}))
    urgent = _assigned(hub, svc, "n1", HEALTH, at(10, 16, 16, 30))
    normal = _assigned(hub, svc, "n2", "城乡建设", at(10, 16, 16, 30))
    with hub.sessions() as s:
        def signing(case_id: int) -> datetime:
            return s.scalar(select(CaseEvent.sign_deadline_at).where(
                CaseEvent.case_id == case_id, CaseEvent.action == "assign"))
        assert signing(urgent) == at(10, 19, 9, 30)  # two office hours
        assert signing(normal) == at(10, 19, 23, 59).replace(second=59)  # one working day
        # reply: two working days (Mon, Tue) against the normal three (to Wed)
        assert s.get(Case, urgent).deadline_at == at(10, 20, 23, 59).replace(second=59)
        assert s.get(Case, normal).deadline_at == at(10, 21, 23, 59).replace(second=59)


def test_stages_fall_due_at_their_share_of_the_working_time(hub: Any) -> None:
    """Assigned Mon 10-12 09:00, due Thu 10-15 23:59:59: 3.625 working days (less a
    second). 50 % falls on Wed 04:30, 80 % on Thu 06:36; a check after the deadline
    sends 80 % and 100 % together; an extension starts the clock again."""
    svc = _service(hub)
    case_id = _assigned(hub, svc, "w1", "城乡建设", at(10, 12, 9))
    with hub.sessions() as s:
        first = s.get(Case, case_id).next_warning_at
    assert abs((first - at(10, 14, 4, 30)).total_seconds()) < 2
    with transaction(hub.sessions) as s:
        assert warnings.send_due(s, svc, now=at(10, 14, 4)) == 0
        assert warnings.send_due(s, svc, now=at(10, 14, 5)) == 1
        second = s.get(Case, case_id).next_warning_at
        assert abs((second - at(10, 15, 6, 36)).total_seconds()) < 2
        assert warnings.send_due(s, svc, now=at(10, 16, 10)) == 2
        assert warnings.send_due(s, svc, now=at(10, 16, 11)) == 0
        case = s.get(Case, case_id)
        assert (case.warning_stage, case.next_warning_at) == (3, None)
        sent = [(r.audience, r.share) for r in s.scalars(
            select(Reminder).where(Reminder.case_id == case_id).order_by(Reminder.id))]
        assert sent == [("handler", 0.5), ("head", 0.8), ("supervisor", 1.0)]
        notes = list(s.scalars(select(CaseEvent.note).where(
            CaseEvent.case_id == case_id, CaseEvent.action == "warn").order_by(CaseEvent.id)))
        assert notes == ["已用时限50%，提醒承办人", "已用时限80%，提醒单位负责人",
                         "已用时限100%，提醒督办员"]
        svc.sign(s, case_id, "unit", now=at(10, 16, 12))
        svc.request_extension(s, case_id, "unit", "需协调", now=at(10, 16, 12))
        case = svc.decide_extension(s, case_id, "supervisor", True, now=at(10, 16, 13))
        assert case.warning_stage == 0 and case.next_warning_at > at(10, 16, 13)


async def test_my_reminders_and_inbox_badges_by_role(client: Any) -> None:
    """住建's handler sees the 50 % reminder, its head also the 80 % one, 交通 none
    of them; the supervisor sees the 100 % one; the inbox row carries the badge."""
    hub = client.app["hub"]
    await hub.run(make_staff, hub)

    def setup() -> int:
        with transaction(hub.sessions) as s:
            add_user(s, "zjhead", PASSWORD, "unit", display_name="住建负责人",
                     unit_code="zhujian", head=True)
        svc = _service(hub)
        with transaction(hub.sessions) as s:
            item = validate_item({"external_id": "w2", "body": "路灯坏了，电话13912345678"})
            appeal = s.get(Appeal, enqueue(s, hub.source_ids["hotline-push"], [item])[0].id)
            case = svc.open_case(s, appeal, RouteDecision("城乡建设", None, "A3", 0.2, True, []))
            svc.assign(s, case.id, "zhujian", "dispatcher", now=at(10, 12, 9))
            warnings.send_due(s, svc, now=at(10, 15, 8))  # 50 % and 80 %
            s.add(Reminder(case_id=case.id, unit_id=hub.unit_ids["zhujian"],
                           audience="supervisor", share=1.0, at=at(10, 16, 1)))
            return case.id

    case_id = await hub.run(setup)
    number = await hub.run(read, hub, lambda s: s.get(Case, case_id).number)
    seen = {}
    for user in ("zj", "zjhead", "jt", "sup", "disp"):
        csrf = await login(client, user)
        seen[user] = await (await client.get("/reminders")).text()
        if user == "zj":
            inbox = await (await client.get("/inbox?view=mine")).text()
            assert "已用80%" in inbox and number in inbox
        await logout(client, csrf)
    assert number in seen["zj"] and "已用时限50%" in seen["zj"] and "80%" not in seen["zj"]
    assert "已用时限50%" in seen["zjhead"] and "已用时限80%" in seen["zjhead"]
    assert number not in seen["jt"] and 'id="no-reminders"' in seen["jt"]
    assert "已用时限100%" in seen["sup"] and "已用时限50%" not in seen["sup"]
    assert number not in seen["disp"]
    assert "13912345678" not in seen["zj"]
    # once 住建 replies, its reminders leave the list
    csrf = await login(client, "zj")
    await act_on_case(client, case_id, csrf, action="sign")
    await act_on_case(client, case_id, csrf, action="reply",
                      body="经现场核查，该处路灯灯泡和镇流器损坏，已于当日更换并恢复照明，纳入每周夜间巡查。",
                      resolution="已解决")
    assert number not in await (await client.get("/reminders")).text()
