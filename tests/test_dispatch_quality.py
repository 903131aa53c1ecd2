"""The router's dispatch quality (派单质量): 首派准确率, auto-routed share, returns,
reassignments, corrected categories and drift per model and week, computed from the
event log on a hand-made week; the same figures on the page and from the CLI."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from classifiers.decision import RouteDecision
from hub.db import transaction
from hub.dispatch_quality import drift, router_report, week_figures
from hub.intake_schema import validate_item
from hub.lifecycle import arbitration
from hub.lifecycle.service import CaseService
from hub.models import Appeal, Case
from hub.queue import enqueue
from hub.ranking.period import parse_period
from tests.webutil import login, make_staff

CST = ZoneInfo("Asia/Shanghai")
ZJ, JT = "zhujian", "jiaotong"
TRAFFIC, BUILDING = "交通运输", "城乡建设"
REPLY = "已联系公交公司更换站牌，感谢您的反映。"


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=CST)


def opened(hub: Any, svc: CaseService, ext: str, decision: RouteDecision,
           when: datetime) -> int:
    with transaction(hub.sessions) as s:
        item = validate_item({"external_id": ext, "body": f"{ext}：公交站牌被撞坏了没人修"})
        appeal = s.get(Appeal, enqueue(s, hub.source_ids["hotline-push"], [item])[0].id)
        return svc.open_case(s, appeal, decision, actor="router", now=when).id


def auto(model: str = "m1", category: str = TRAFFIC, unit: str = JT) -> RouteDecision:
    return RouteDecision(category, unit, None, 0.93, False,
                         [{"category": category, "unit": unit, "p": 0.93}], model=model)


def week_of_cases(hub: Any) -> CaseService:
    """Week 2026-W42: model m1 decides six cases, m2 one, a rule one.

    m1: kept (right) | reassigned elsewhere | returned, ruled rightful | returned, ruled
    wrongful (right) | returned, waiting for a ruling | sent to triage and assigned by
    a dispatcher under another category (corrected, not auto)."""
    svc = CaseService(hub.config, hub.unit_ids)
    monday = at(12, 9)
    kept = opened(hub, svc, "kept", auto(), monday)
    moved = opened(hub, svc, "moved", auto(), monday)
    rightful = opened(hub, svc, "rightful", auto(), monday)
    wrongful = opened(hub, svc, "wrongful", auto(), monday)
    waiting = opened(hub, svc, "waiting", auto(), monday)
    triaged = opened(hub, svc, "triaged", RouteDecision(
        TRAFFIC, JT, None, 0.41, True, [{"category": TRAFFIC, "unit": JT, "p": 0.41}],
        model="m1"), monday)
    opened(hub, svc, "m2", auto(model="m2"), monday)
    opened(hub, svc, "rule", RouteDecision("纪检监察", "jiwei", None, 1.0, False, [],
                                           rule="misconduct"), monday)
    opened(hub, svc, "next-week", auto(), at(19, 9))  # W43: not in this week
    with transaction(hub.sessions) as s:
        svc.sign(s, kept, "jt", now=at(12, 10))
        svc.assign(s, moved, ZJ, "disp", now=at(12, 11))
        for case_id in (rightful, wrongful, waiting):
            svc.return_case(s, case_id, "jt", "不归我们管", code="其他", now=at(13, 9))
        arbitration.rule(svc, s, rightful, "disp", "退回成立", ZJ, now=at(13, 10))
        arbitration.rule(svc, s, wrongful, "disp", "退回不成立", now=at(13, 10))
        svc.assign(s, triaged, ZJ, "disp", category=BUILDING, now=at(12, 10))
    assert kept
    return svc


def test_figures_per_model_for_a_hand_made_week(hub: Any) -> None:
    week_of_cases(hub)
    with hub.sessions() as s:
        figures = {f.model: f for f in week_figures(s, parse_period("2026-W42", CST))}
    assert set(figures) == {"m1", "m2"}  # the rule's case is not the router's
    m1 = figures["m1"]
    assert (m1.decided, m1.auto, m1.first_right, m1.returned, m1.moves) == (6, 5, 2, 3, 2)
    assert m1.auto_share == pytest.approx(5 / 6)
    assert m1.first_accuracy == pytest.approx(2 / 5)
    assert m1.return_rate == pytest.approx(3 / 5)
    assert dict(m1.corrected) == {(TRAFFIC, BUILDING): 1}
    assert m1.mix == {TRAFFIC: 5, BUILDING: 1}
    m2 = figures["m2"]
    assert (m2.decided, m2.auto, m2.first_right, m2.returned, m2.moves) == (1, 1, 1, 0, 0)


def test_drift_is_the_total_variation_distance_to_the_training_mix() -> None:
    assert drift({"a": 5, "b": 5}, {"a": 50, "b": 50})["distance"] == 0.0
    moved = drift({"a": 9, "b": 1}, {"a": 5, "b": 5})
    assert moved["distance"] == pytest.approx(0.4)
    assert moved["largest_shift"]["category"] == "a"  # tie on size: by name
    assert drift({"c": 3}, {"a": 1, "b": 1})["distance"] == 1.0  # nothing in common
    assert drift({}, {"a": 1})["distance"] is None


def test_the_report_names_the_model_and_its_figures(hub: Any) -> None:
    week_of_cases(hub)
    report = router_report(hub, at(16, 12), weeks=2)
    weeks = {(w["week"], w["model"]): w for w in report["weeks"]}
    m1 = weeks[("2026-W42", "m1")]
    assert m1["first_dispatch_accuracy"] == 0.4 and m1["reassignments"] == 2
    assert m1["drift"]["distance"] is not None  # against the seed model's class mix
    assert report["most_corrected"] == [{"from": TRAFFIC, "to": BUILDING, "cases": 1}]
    assert report["model"]["version"]  # the seed model the tests run with
    totals = {m["model"]: m for m in report["models"]}
    assert totals["m1"]["decided"] == 6 and totals["m2"]["auto_routed"] == 1


def test_cli_prints_the_same_figures_as_json(hub: Any, settings: Any, monkeypatch: Any,
                                             capsys: Any) -> None:
    from hub.cli import main
    from hub.models import utcnow

    svc = CaseService(hub.config, hub.unit_ids)
    opened(hub, svc, "today", auto(), utcnow())  # the CLI reads the weeks up to now
    for key, value in {"HUB_ENV": "test", "HUB_DATABASE_URL": settings.database_url,
                       "HUB_VAR_DIR": str(settings.var_dir),
                       "HUB_MODEL_PATH": str(settings.model_path)}.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    assert main(["router", "stats", "--json", "--weeks", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    [row] = out["weeks"]
    assert (row["model"], row["decided"], row["auto_routed"]) == ("m1", 1, 1)
    with pytest.raises(SystemExit):
        main(["router", "stats", "--weeks", "0"])


async def test_page_shows_the_figures_to_dispatchers_not_units(client: Any) -> None:
    hub = client.server.app["hub"]
    make_staff(hub)
    from hub.models import utcnow

    svc = CaseService(hub.config, hub.unit_ids)
    opened(hub, svc, "page", auto(), utcnow())
    await login(client, "disp")
    page = await (await client.get("/admin/router?weeks=abc")).text()
    assert 'id="router-weeks"' in page and "<code>m1</code>" in page
    assert "首派准确率" in page and "100.0%" in page
    await client.post("/logout", data={})
    client.session.cookie_jar.clear()
    await login(client, "jt")
    resp = await client.get("/admin/router")
    assert resp.status == 403


def test_closed_cases_the_router_sent_right_confirm_it(hub: Any) -> None:
    """Only the kept case, once closed, confirms its category: moved, returned,
    re-categorised, open or supervisor-concluded cases do not."""
    from hub.dispatch_quality import confirmed

    svc = week_of_cases(hub)
    with transaction(hub.sessions) as s:
        assert confirmed(s) == []  # nothing closed yet
        ids = {c.appeal_id: c.id for c in s.scalars(select(Case))}
        texts = {a.external_id: a.id for a in s.scalars(select(Appeal))}
        for ext in ("kept", "wrongful", "moved"):
            case_id = ids[texts[ext]]
            unit_user = "zj" if ext == "moved" else "jt"
            if ext != "kept":
                svc.sign(s, case_id, unit_user, now=at(14, 9))
            svc.reply(s, case_id, unit_user, REPLY, now=at(14, 10))
            svc.close(s, case_id, "op", now=at(14, 11))
        m2 = ids[texts["m2"]]
        svc.sign(s, m2, "jt", now=at(14, 9))
        svc.reply(s, m2, "jt", REPLY, now=at(14, 10))
        svc.close(s, m2, "op", now=at(14, 11))
    with hub.sessions() as s:
        found = confirmed(s)
    assert [c for _, c in found] == [TRAFFIC, TRAFFIC]
    assert sorted(t.split("\n")[1].split("：")[0] for t, _ in found) == ["kept", "m2"]
