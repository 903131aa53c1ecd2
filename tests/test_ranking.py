"""Each ranking definition against a hand-computed fixture around the 2026 National
Day holiday, as chinesecalendar has it: Fri 25 Sep – Sun 27 Sep (Mid-autumn) and
Thu 1 Oct – Wed 7 Oct are holidays; Sun 20 Sep and Sat 10 Oct are make-up working
days. Week 2026-W40 is Mon 28 Sep – Sun 4 Oct: three working days, then holiday.

Deadlines (normal: end of the 3rd working day after the assignment's day; signing:
end of the next working day; 重办: 2 working days):
  assigned Mon 21 Sep -> due Thu 24 Sep      assigned Wed 23 Sep -> due Tue 29 Sep
  assigned Thu 24 Sep -> due Wed 30 Sep, sign by Mon 28 Sep
  assigned Mon 28 Sep -> due Thu 8 Oct,  sign by Tue 29 Sep
  assigned Tue 29 Sep -> due Fri 9 Oct,  sign by Wed 30 Sep
  assigned Wed 30 Sep -> due Sat 10 Oct (make-up day), sign by Thu 8 Oct
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from classifiers.decision import RouteDecision
from hub import topics
from hub.config import TierSpec, load_config
from hub.core import Hub
from hub.db import transaction
from hub.lifecycle.calendar import WorkCalendar
from hub.lifecycle.service import CaseService
from hub.models import Appeal, Case, MisconductFinding
from hub.ranking.period import last_full_week, parse_period, period_title
from hub.ranking.report import build_report
from hub.ranking.score import lists
from hub.settings import REPO_ROOT

TZ = ZoneInfo("Asia/Shanghai")
TRIAGE = RouteDecision(None, None, None, 0.3, True, [])


def at(day: int, hour: int, month: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TZ)


def tiers(hub: Hub, min_cases: int = 2) -> None:
    """Two tiers for the fixture: departments and enterprises, min_cases as given."""
    weights = hub.config.ranking.weights
    hub.config = dataclasses.replace(hub.config, ranking=dataclasses.replace(
        hub.config.ranking, min_cases=min_cases, tiers=(
            TierSpec("department", "市直部门", ("department",), weights, min_cases, 5),
            TierSpec("enterprise", "公共企事业单位", ("enterprise",), weights, min_cases, 1))))


def week(hub: Hub, min_cases: int = 2) -> dict[str, int]:
    """The fixture; the module docstring's calendar and each case's comment give the
    figures the tests expect."""
    tiers(hub, min_cases)
    svc = CaseService(hub.config, hub.unit_ids)
    ids: dict[str, int] = {}
    with transaction(hub.sessions) as s:
        def case(name: str, opened: datetime, unit: str | None = None,
                 assigned: datetime | None = None) -> int:
            appeal = Appeal(source_id=hub.source_ids["hotline-push"], external_id=name,
                            received_at=opened, title=f"{name} 小区停水",
                            body="幸福小区停水三天无人管", contact_name="张三",
                            contact_phone="13800001111", state="done")
            s.add(appeal)
            s.flush()
            ids[name] = svc.open_case(s, appeal, TRIAGE, now=opened).id
            if unit:
                svc.assign(s, ids[name], unit, "d", now=assigned)
            return ids[name]

        def sign(cid: int, when: datetime) -> None:
            svc.sign(s, cid, "u", now=when)

        def reply(cid: int, when: datetime) -> None:
            svc.reply(s, cid, "u", "已经处理完毕，感谢监督。", now=when)

        def rate(cid: int, grade: str, when: datetime) -> None:
            c = svc.load(s, cid)
            svc.rate(s, c.number, c.query_code, grade, now=when)

        # 住建 zhujian
        z1 = case("z1", at(24, 9), "zhujian", at(24, 10))  # due 30 Sep
        sign(z1, at(24, 15))
        reply(z1, at(28, 10))  # on time; 1.0 working day (Thu 14 h + Mon 10 h)
        rate(z1, "满意", at(29, 9))  # closed
        z2 = case("z2", at(24, 10), "zhujian", at(24, 11))  # due 30 Sep
        sign(z2, at(28, 9))
        reply(z2, at(8, 10, month=10))  # late: open at the end of W40, carried into W41
        z4 = case("z4", at(23, 9), "zhujian", at(23, 10))  # due 29 Sep
        sign(z4, at(23, 11))
        reply(z4, at(30, 10))  # late by a day; 4.0 working days
        z3 = case("z3", at(28, 8), "zhujian", at(28, 9))  # due 8 Oct, sign by 29 Sep
        sign(z3, at(28, 14))
        reply(z3, at(29, 9))  # 1.0 working day
        z5 = case("z5", at(29, 8), "zhujian", at(29, 9))  # due 9 Oct, sign by 30 Sep
        sign(z5, at(8, 9, month=10))  # signed late
        reply(z5, at(9, 10, month=10))  # on time in W41
        z7 = case("z7", at(29, 8), "zhujian", at(29, 9))  # a duplicate: counts nowhere
        svc.merge(s, z7, z3, "d", now=at(30, 9))
        # 交通 jiaotong
        j1 = case("j1", at(28, 8), "jiaotong", at(28, 9))
        svc.return_case(s, j1, "u", "不属于本单位职责", now=at(28, 15))  # answers signing
        svc.assign(s, j1, "jiaotong", "d", now=at(29, 9))  # back: a wrongful return
        sign(j1, at(29, 10))
        reply(j1, at(3, 10, month=10))  # holiday; Tue 15 h + Wed 24 h = 1.625; due 9 Oct
        j2 = case("j2", at(23, 8), "jiaotong", at(23, 9))  # due 29 Sep
        svc.return_case(s, j2, "u", "应由城管办理", now=at(30, 10))  # returned after it
        svc.assign(s, j2, "chengguan", "d", now=at(30, 14))  # to another unit: rightful
        sign(j2, at(30, 15))
        reply(j2, at(30, 17))  # 城管: 0.125 working days
        rate(j2, "不满意", at(30, 18))  # 重办, due 9 Oct, sign by 8 Oct
        j3 = case("j3", at(21, 8), "jiaotong", at(21, 9))  # due 24 Sep: late since W39
        sign(j3, at(21, 10))
        reply(j3, at(8, 10, month=10))
        # 城管 chengguan
        c1 = case("c1", at(24, 8), "chengguan", at(24, 9))  # due 30 Sep, sign by 28 Sep
        sign(c1, at(24, 10))
        reply(c1, at(24, 17))
        rate(c1, "基本满意", at(28, 9))  # closed in W40
        # 供水 gongshui, an enterprise
        g1 = case("g1", at(28, 8), "gongshui", at(28, 9))
        sign(g1, at(28, 10))
        reply(g1, at(28, 16))  # 7 h = 0.292 working days
        rate(g1, "满意", at(29, 10))
        case("t1", at(29, 11))  # waits in triage: received, nothing else
    return ids


def report(hub: Hub, label: str = "2026-W40", previous: dict[str, Any] | None = None,
           hot: bool = True) -> dict[str, Any]:
    calendar = WorkCalendar(hub.config.deadlines)
    topics.assign_backlog(hub.sessions)  # as the topic job and the weekly job do
    with hub.sessions() as s:
        return build_report(s, hub.config, parse_period(label, TZ), calendar,
                            previous=previous, with_hot_issues=hot)


def entry(payload: dict[str, Any], unit: str, tier: str | None = None) -> dict[str, Any]:
    return next(e for e in payload["entries"] if e["unit"] == unit
                and (tier is None or e["tier"] == tier))


KEYS = ("assigned", "signed", "replied", "closed", "returned", "wrongful_returns",
        "rightful_returns", "reopened", "sign_due", "sign_on_time", "due", "due_carried",
        "due_replied", "due_on_time", "due_closed", "late_open", "rated", "satisfied",
        "reply_days_median", "reply_days_p90")


def figures(payload: dict[str, Any], unit: str) -> tuple[Any, ...]:
    f = entry(payload, unit)["figures"]
    return tuple(f[k] for k in KEYS)


def test_each_definition_matches_the_hand_computed_holiday_week(hub: Hub) -> None:
    week(hub)
    payload = report(hub)
    assert payload["title"] == "2026年第40周（9月28日—10月4日）"
    # assigned signed replied closed returned wrongful rightful reopened | sign_due
    # sign_on_time | due carried replied on_time closed late_open | rated satisfied |
    # reply median p90
    assert figures(payload, "zhujian") == (2, 2, 3, 1, 0, 0, 0, 0, 4, 3, 3, 0, 2, 1, 1, 1,
                                           1, 1, 1.0, 4.0)
    assert figures(payload, "jiaotong") == (1, 1, 1, 0, 2, 1, 1, 0, 2, 2, 1, 1, 0, 0, 0, 1,
                                            0, 0, 1.625, 1.625)
    assert figures(payload, "chengguan") == (1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0,
                                             2, 1, 0.125, 0.125)
    assert figures(payload, "gongshui") == (1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0,
                                            1, 1, 0.292, 0.292)
    zj = entry(payload, "zhujian")["rates"]
    assert (zj["on_time"], zj["completion"], zj["sign"], zj["satisfaction"]) == (
        round(1 / 3, 4), round(1 / 3, 4), 0.75, 1.0)
    jt = entry(payload, "jiaotong")["rates"]
    assert (jt["returns"], jt["on_time"], jt["redo"]) == (1.0, 0.0, 0.0)
    assert entry(payload, "chengguan")["rates"]["redo"] == 1.0
    totals = payload["city_totals"]
    assert (totals["received"], totals["assigned"], totals["due"], totals["due_on_time"],
            totals["due_replied"], totals["due_closed"], totals["rated"],
            totals["satisfied"], totals["sign_due"], totals["sign_on_time"]) == (
        5, 5, 5, 2, 3, 2, 4, 3, 8, 7)
    assert payload["city_rates"]["on_time"] == 0.4
    assert payload["city_rates"]["satisfaction"] == 0.75
    assert entry(payload, "zhujian")["rates"]["resolution"] is None  # no resolutions yet


def test_the_next_week_carries_late_cases_over(hub: Hub) -> None:
    week(hub)
    payload = report(hub, "2026-W41")
    f = entry(payload, "zhujian")["figures"]
    # z2 (late since 30 Sep, answered 8 Oct), z3 (due 8 Oct, answered 29 Sep), z5 (due 9 Oct)
    assert (f["due"], f["due_carried"], f["due_on_time"], f["due_replied"]) == (3, 1, 2, 3)
    f = entry(payload, "jiaotong")["figures"]  # j1 (due 9 Oct, on time) and j3 carried
    assert (f["due"], f["due_carried"], f["due_on_time"], f["due_replied"]) == (2, 1, 1, 2)
    f = entry(payload, "chengguan")["figures"]
    # the 重办 of j2 (due 9 Oct, unanswered); its first deadline was replaced by the 重办.
    # Signing: j2's assignment (by 8 Oct, signed 30 Sep) and its 重办 (by 8 Oct, unsigned)
    assert (f["due"], f["due_on_time"], f["late_open"], f["sign_due"],
            f["sign_on_time"]) == (1, 0, 1, 2, 1)


def test_a_re_marked_old_case_does_not_change_an_old_week(hub: Hub) -> None:
    ids = week(hub)
    before = report(hub)
    calendar = WorkCalendar(hub.config.deadlines)
    with transaction(hub.sessions) as s:  # a month later z4 is re-marked 疑难件 (5 days):
        for name in ("z4", "z2"):  # by its case row alone, z4 would now be on time
            s.execute(update(Case).where(Case.id == ids[name]).values(
                difficulty="hard", deadline_at=calendar.add_workdays(at(23, 10), 5)))
    svc = CaseService(hub.config, hub.unit_ids)
    with transaction(hub.sessions) as s:  # and the case left in triage is assigned, later
        svc.assign(s, ids["t1"], "zhujian", "d", difficulty="hard", now=at(2, 9, month=11))
    after = report(hub)
    assert after == before
    assert entry(after, "zhujian")["figures"]["due_on_time"] == 1


def test_a_rightful_return_does_not_count_against_the_unit(hub: Hub) -> None:
    week(hub)
    jt = entry(report(hub), "jiaotong")["figures"]
    # j2 was due from 交通 on 29 Sep and returned late, but rightly: not its 应办结
    assert jt["due"] == 1 and jt["due_carried"] == 1
    assert (jt["wrongful_returns"], jt["rightful_returns"]) == (1, 1)


def test_a_late_return_counts_only_once_judged_wrongful(hub: Hub) -> None:
    week(hub)
    svc = CaseService(hub.config, hub.unit_ids)
    with transaction(hub.sessions) as s:  # two more of 交通's cases due Tue 29 Sep
        for name, back in (("j8", at(30, 16)), ("j9", at(8, 9, month=10))):
            appeal = Appeal(source_id=hub.source_ids["web"], external_id=name,
                            received_at=at(23, 8), title="路灯", body="路灯不亮", state="done")
            s.add(appeal)
            s.flush()
            cid = svc.open_case(s, appeal, TRIAGE, now=at(23, 8)).id
            svc.assign(s, cid, "jiaotong", "d", now=at(23, 9))
            svc.return_case(s, cid, "u", "非本单位职责", now=at(30, 10))  # after the deadline
            svc.assign(s, cid, "jiaotong", "d", now=back)  # judged wrongful: back to 交通
    jt = entry(report(hub), "jiaotong")["figures"]
    # j8 was judged within W40, so it counts (late); j9 only after the week: not yet
    assert (jt["due"], jt["due_on_time"], jt["wrongful_returns"]) == (2, 0, 2)


def test_units_without_cases_are_unscored_and_tiers_rank_apart(hub: Hub) -> None:
    week(hub)
    payload = report(hub)
    [dept, ent] = payload["tiers"]
    assert (dept["code"], ent["code"]) == ("department", "enterprise")
    assert [e["unit"] for e in dept["entries"] if e["rank"]] in (
        ["zhujian", "jiaotong"], ["jiaotong", "zhujian"])
    cg = entry(payload, "chengguan")
    assert cg["status"] == "too_few" and cg["score"] is None and cg["rank"] is None
    idle = entry(payload, "shichang")
    assert idle["status"] == "no_cases" and idle["score"] is None and idle["rank"] is None
    assert "shichang" in payload["no_cases"] and "chengguan" in payload["too_few"]
    scored = [e for e in payload["entries"] if e["score"] is not None]
    assert {e["unit"] for e in scored} == {"zhujian", "jiaotong"}
    assert entry(payload, "gongshui")["tier"] == "enterprise"
    assert ent["best"] == [] and ent["worst"] == []  # one unit: nothing to compare


def test_scores_by_hand(hub: Hub) -> None:
    week(hub)
    payload = report(hub)
    [dept, _] = payload["tiers"]
    k = hub.config.ranking.prior_strength
    w = dept["weights_used"]
    assert "resolution" not in w  # no data in the tier: it drops out
    tier = dept["rates"]
    # 住建: sign 3/4, on time 1/3, closed 1/3, satisfied 1/1, wrongful 0/2, redo 0/3
    shrunk = {"sign": (3 + k * tier["sign"]) / (4 + k),
              "on_time": (1 + k * tier["on_time"]) / (3 + k),
              "completion": (1 + k * tier["completion"]) / (3 + k),
              "satisfaction": (1 + k * tier["satisfaction"]) / (1 + k),
              "returns": 1 - (0 + k * tier["returns"]) / (2 + k),
              "redo": 1 - (0 + k * tier["redo"]) / (3 + k),
              "reply_speed": ((1 - 1.0 / 3) * 3 + k * tier["reply_speed"]) / (3 + k)}
    expected = 100 * sum(w[n] * shrunk[n] for n in w) / sum(w.values())
    # the tier rates in the payload are rounded to 4 places
    assert entry(payload, "zhujian")["score"] == pytest.approx(expected, abs=0.02)
    # tier rates: 住建 + 交通 + 城管 (all departments)
    assert tier["on_time"] == round(2 / 5, 4) and tier["sign"] == round(6 / 7, 4)


def test_lists_are_disjoint_and_misconduct_goes_first(hub: Hub) -> None:
    week(hub, min_cases=1)
    payload = report(hub)
    for tier in payload["tiers"]:
        assert not set(tier["best"]) & set(tier["worst"])
        ranked = [e for e in tier["entries"] if e["rank"]]
        assert len(tier["best"]) <= len(ranked) // 2
    dept = payload["tiers"][0]
    assert len(dept["best"]) == len(dept["worst"]) == 1  # three ranked: one each
    assert dept["worst_reasons"][dept["worst"][0]]  # a reason in words
    with transaction(hub.sessions) as s:
        s.add(MisconductFinding(unit_id=hub.unit_ids[dept["best"][0]],
                                verified_at=at(30, 10), verified_by="市纪委监委"))
    again = report(hub)["tiers"][0]
    assert again["worst"][0] == dept["best"][0] and dept["best"][0] not in again["best"]
    assert "查实违纪" in again["worst_reasons"][again["worst"][0]][0]
    # a tier of two where both would top and bottom the list on a small tie
    table = {"entries": [{"unit": u, "status": "ranked", "score": 50.0} for u in "ab"]}
    best, worst = lists(table, 10, {})
    assert best == ["b"] and worst == ["a"]


def test_escalation_after_bottom_three_streaks() -> None:
    from hub.ranking.report import _follow_up

    spec = load_config(REPO_ROOT / "config").ranking
    entries = [{"unit": f"u{i}", "rank": i, "status": "ranked"} for i in range(1, 8)]
    before = {"entries": [{"unit": "u7", "rank": 7, "bottom3_streak": 2},
                          {"unit": "u1", "rank": 1, "bottom3_streak": 0}]}
    table = {"entries": entries}
    _follow_up(table, before, {}, spec)
    assert entries[6]["bottom3_streak"] == 3 and "约谈" in entries[6]["escalation"]
    assert entries[4]["bottom3_streak"] == 1 and entries[4]["escalation"] is None
    assert entries[0]["movement"] == 0
    small = {"entries": [{"unit": f"u{i}", "rank": i, "status": "ranked"} for i in (1, 2, 3)]}
    _follow_up(small, before, {}, spec)  # three units: everyone is "bottom three"
    assert all(e["bottom3_streak"] == 0 for e in small["entries"])


def test_movement_against_the_previous_week(hub: Hub) -> None:
    week(hub, min_cases=1)
    first = report(hub, "2026-W39", hot=False)
    payload = report(hub, previous=first)
    assert payload["previous"]["period"] == "2026-W39"
    assert payload["previous"]["title"] == "2026年第39周（9月21日—9月27日）"
    zj = entry(payload, "zhujian")
    assert zj["previous_rank"] == entry(first, "zhujian")["rank"]
    if zj["rank"] and zj["previous_rank"]:
        assert zj["movement"] == zj["previous_rank"] - zj["rank"]


def test_periods_and_titles() -> None:
    w = parse_period("2026-W47", TZ)
    assert period_title(w) == "2026年第47周（11月16日—11月22日）"
    assert period_title(parse_period("2026-Q4", TZ)) == "2026年第四季度"
    assert period_title(parse_period("2026-11", TZ)) == "2026年11月"
    assert period_title(parse_period("2026", TZ)) == "2026年"
    assert (w.previous().label, parse_period("2026-02", TZ).last.isoformat()) == (
        "2026-W46", "2026-02-28")
    assert last_full_week(datetime(2026, 11, 23, 6, 30, tzinfo=TZ), TZ).label == "2026-W47"
    with pytest.raises(ValueError):
        parse_period("2026-W60", TZ)
