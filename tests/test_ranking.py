"""Rankings against a hand-computed week (2026-W40: Mon 28 Sep – Sun 4 Oct, with the
National Day holiday from 1 Oct), escalation rules, reproducibility and the files."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from hub.core import Hub
from hub.db import transaction
from hub.lifecycle.calendar import WorkCalendar
from hub.lifecycle.service import CaseService, RouteDecision
from hub.models import Appeal, MisconductFinding
from hub.ranking.period import last_full_week, parse_period
from hub.ranking.publish import render_html
from hub.ranking.report import build_report
from hub.ranking.service import rank

TZ = ZoneInfo("Asia/Shanghai")
TRIAGE = RouteDecision(None, None, None, 0.3, True, [])


def at(day: int, hour: int, month: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TZ)


def week(hub: Hub) -> Any:
    hub.config = dataclasses.replace(
        hub.config, ranking=dataclasses.replace(hub.config.ranking, min_cases=2))
    svc = CaseService(hub.config, hub.unit_ids)
    ids: dict[str, int] = {}
    with transaction(hub.sessions) as s:
        def case(name: str, opened: datetime, phone: str = "13800001111") -> int:
            appeal = Appeal(source_id=hub.source_ids["hotline-push"], external_id=name,
                            received_at=opened, title=f"{name} 小区停水",
                            body="幸福小区停水三天无人管", contact_name="张三",
                            contact_phone=phone, state="done")
            s.add(appeal)
            s.flush()
            ids[name] = svc.open_case(s, appeal, TRIAGE, now=opened).id
            return ids[name]

        def reply(cid: int, when: datetime) -> None:
            svc.sign(s, cid, "u", now=when)
            svc.reply(s, cid, "u", "已经处理完毕，感谢监督。", now=when)

        def rate(cid: int, grade: str, when: datetime) -> None:
            c = svc.load(s, cid)
            svc.rate(s, c.number, c.query_code, grade, now=when)

        # 住建 (zhujian): three cases, two replied (1.0 and 2.0 working days), one each rated
        c1 = case("c1", at(28, 9))
        svc.assign(s, c1, "zhujian", "d", now=at(28, 10))
        reply(c1, at(29, 10))
        rate(c1, "满意", at(30, 12))
        c2 = case("c2", at(28, 11))
        svc.assign(s, c2, "zhujian", "d", now=at(28, 12))
        reply(c2, at(30, 12))
        rate(c2, "不满意", at(30, 18))  # reopens
        c3 = case("c3", at(29, 8))
        svc.assign(s, c3, "zhujian", "d", now=at(29, 9))
        # a duplicate given to 住建 and merged away: counts nowhere
        c7 = case("c7", at(29, 8))
        svc.assign(s, c7, "zhujian", "d", now=at(29, 9))
        svc.merge(s, c7, c1, "d", now=at(30, 9))
        # 交通 (jiaotong): a wrongful return, then a reply on a holiday; one open case
        c4 = case("c4", at(28, 8))
        svc.assign(s, c4, "jiaotong", "d", now=at(28, 9))
        svc.return_case(s, c4, "u", "不属于本单位职责", now=at(28, 15))
        svc.assign(s, c4, "jiaotong", "d", now=at(29, 9))
        reply(c4, at(3, 10, month=10))
        c5 = case("c5", at(30, 8))
        svc.assign(s, c5, "jiaotong", "d", now=at(30, 9))
        # 城管 (chengguan): one case, one rating: too few to rank
        c6 = case("c6", at(28, 8))
        svc.assign(s, c6, "chengguan", "d", now=at(28, 9))
        reply(c6, at(28, 17))
        rate(c6, "基本满意", at(29, 9))
    return ids


def _entry(payload: dict[str, Any], unit: str) -> dict[str, Any]:
    return next(e for e in payload["entries"] if e["unit"] == unit)


def _report(hub: Hub, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    calendar = WorkCalendar(hub.config.deadlines)
    with hub.sessions() as s:
        return build_report(s, hub.config, parse_period("2026-W40", TZ), calendar,
                            previous=previous)


def test_figures_match_the_hand_computed_week(hub: Hub) -> None:
    week(hub)
    payload = _report(hub)
    zj, jt, cg = (_entry(payload, u) for u in ("zhujian", "jiaotong", "chengguan"))
    assert zj["figures"] | {"evaluations": None, "evaluation_rates": None} == {
        "assigned": 3, "signed": 2, "replied": 2, "closed": 1, "returned": 0,
        "wrongful_returns": 0, "reopened": 1, "overdue": 0, "completed": 2, "on_time": 2,
        "reply_days_median": 1.5, "reply_days_p90": 2.0,
        "ratings": {"满意": 1, "基本满意": 0, "不满意": 1}, "rated": 2,
        "evaluations": None, "evaluation_rates": None}
    # assigned Mon 09:00, returned, re-assigned Tue 09:00, replied Sat 3 Oct (holiday):
    # Tue 15h + Wed 24h = 1.625 working days; deadline Thu 8 Oct, so on time
    assert (jt["figures"]["assigned"], jt["figures"]["completed"], jt["figures"]["on_time"],
            jt["figures"]["returned"], jt["figures"]["wrongful_returns"],
            jt["figures"]["reply_days_median"]) == (2, 1, 1, 1, 1, 1.625)
    assert cg["rank"] is None and cg["unit"] in payload["too_few"]
    assert cg["rates"]["satisfaction"] == 1.0 and cg["figures"]["reply_days_median"] == 0.333

    # the score by hand: rates shrunk toward the city with k = prior_strength
    k = hub.config.ranking.prior_strength
    w = hub.config.ranking.weights
    city_done, city_sat = 4 / 6, 2 / 3
    speeds = {"zhujian": 1 - 1.5 / 3, "jiaotong": 1 - 1.625 / 3, "chengguan": 1 - 0.333 / 3}
    city_speed = (speeds["zhujian"] * 2 + speeds["jiaotong"] + speeds["chengguan"]) / 4
    expected = 100 * (w["completion"] * (2 + k * city_done) / (3 + k)
                      + w["on_time"] * (2 + k * city_done) / (3 + k)
                      + w["satisfaction"] * (1 + k * city_sat) / (2 + k)
                      + w["reply_speed"] * (speeds["zhujian"] * 2 + k * city_speed) / (2 + k)
                      ) / sum(w.values())
    assert zj["score"] == pytest.approx(expected, abs=0.01)
    assert [e["unit"] for e in payload["entries"] if e["rank"]] == payload["best"][:2]
    assert set(payload["best"]) == {"zhujian", "jiaotong"}
    assert payload["worst"][0] == min((zj, jt), key=lambda e: e["score"])["unit"]


def test_escalation_rules(hub: Hub) -> None:
    week(hub)
    hub.config = dataclasses.replace(
        hub.config, ranking=dataclasses.replace(hub.config.ranking, min_cases=1))
    previous = {"entries": [{"unit": "jiaotong", "rank": 2, "bottom3_streak": 2},
                            {"unit": "zhujian", "rank": 1, "bottom3_streak": 0}]}
    payload = _report(hub, previous)
    jt, zj = _entry(payload, "jiaotong"), _entry(payload, "zhujian")
    assert jt["bottom3_streak"] == 3 and "约谈" in jt["escalation"]  # three in a row
    assert zj["bottom3_streak"] == 1 and zj["escalation"] is None
    assert jt["movement"] == 2 - jt["rank"]
    with transaction(hub.sessions) as s:
        s.add(MisconductFinding(unit_id=hub.unit_ids["chengguan"], verified_at=at(30, 10),
                                verified_by="市纪委监委"))
    payload = _report(hub, previous)
    assert payload["worst"][0] == "chengguan"  # the best score, yet first on the worst list
    assert "查实违纪" in _entry(payload, "chengguan")["escalation"]


def test_a_closed_week_is_reproducible_and_published_once(hub: Hub, tmp_path: Path) -> None:
    ids = week(hub)
    first = rank(hub, "2026-W40", recompute=True)
    # later work on the same cases must not change last week's numbers
    svc = CaseService(hub.config, hub.unit_ids)
    with transaction(hub.sessions) as s:
        svc.sign(s, ids["c3"], "u", now=at(9, 10, month=10))
        svc.reply(s, ids["c3"], "u", "节后已经处理。", now=at(9, 11, month=10))
    again = rank(hub, "2026-W40", recompute=True)
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    out = tmp_path / "reports"
    stored = rank(hub, "2026-W40", out_dir=out)
    assert stored["entries"] == first["entries"]
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"ranking-2026-W40.{x}" for x in ("csv", "html", "json", "xlsx")]
    sheet = load_workbook(io.BytesIO((out / "ranking-2026-W40.xlsx").read_bytes()))["排名"]
    assert sheet.cell(1, 2).value == "单位" and sheet.max_row == len(first["entries"]) + 1
    for path in out.iterdir():  # no personal data in any published file
        data = path.read_bytes()
        assert b"13800001111" not in data and "张三".encode() not in data, path.name


def test_periods_and_the_monday_job_period() -> None:
    w = parse_period("2026-W40", TZ)
    assert (w.first.isoformat(), w.last.isoformat()) == ("2026-09-28", "2026-10-04")
    assert w.previous().label == "2026-W39"
    assert parse_period("2026-Q4", TZ).last.isoformat() == "2026-12-31"
    assert parse_period("2026-02", TZ).last.isoformat() == "2026-02-28"
    assert last_full_week(datetime(2026, 11, 23, 6, 30, tzinfo=TZ), TZ).label == "2026-W47"
    with pytest.raises(ValueError):
        parse_period("2026-W60", TZ)


async def test_published_report_opens_on_the_site(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(week, hub)
    await hub.run(rank, hub, "2026-W40")
    index = await (await client.get("/reports")).text()
    assert "2026-W40" in index
    page = await client.get("/reports/2026-W40")
    html = await page.text()
    assert page.status == 200 and "<svg" in html and "最难办事榜" in html
    xlsx = await client.get("/reports/2026-W40.xlsx")
    assert load_workbook(io.BytesIO(await xlsx.read()))["排名"].max_row > 1
    data = await (await client.get("/reports/2026-W40.json")).json()
    assert data["period"] == "2026-W40"
    assert (await client.get("/reports/2026-W41")).status == 404
    names = {e["unit"]: e["name"] for e in data["entries"]}
    assert all(names[u] in html for u in data["best"])
    assert "<svg" in render_html(data)


def test_hot_issues_cluster_one_matter_in_one_place(hub: Hub) -> None:
    from hub.ranking.hot import hot_issues

    svc = CaseService(hub.config, hub.unit_ids)
    texts = [("hotline-push", "张三",
              "A3区桂花路幸福小区已经停水三天了，自来水公司一直没有来修，老人用水困难"),
             ("web", "李四",
              "幸福小区停水三天，自来水公司没有人来修，请尽快恢复供水 电话13912345678"),
             ("hotline-push", "王五", "桂花路幸福小区停水第三天，自来水公司说在修但一直没来水"),
             ("web", "赵六", "幸福小区停水三天无人处理，自来水公司电话打不通，生活困难"),
             ("web", "钱七", "建议在人民公园增加健身器材和儿童游乐设施")]
    decision = RouteDecision("城乡建设", None, "A3", 0.4, True, [])
    with transaction(hub.sessions) as s:
        for i, (source, name, body) in enumerate(texts):
            appeal = Appeal(source_id=hub.source_ids[source], external_id=f"h{i}", votes=i,
                            received_at=at(29, 9 + i), title=body[:12], body=body,
                            contact_name=name, state="done")
            s.add(appeal)
            s.flush()
            svc.open_case(s, appeal, decision, now=appeal.received_at)
    with hub.sessions() as s:
        issues = hot_issues(s, parse_period("2026-W40", TZ), hub.config)
    assert len(issues) == 1
    [issue] = issues
    assert (issue["volume"], issue["channels"], issue["votes"]) == (4, 2, 0 + 1 + 2 + 3)
    assert issue["county"] == "A3区" and ("停水" in issue["label"] or "自来水" in issue["label"])
    assert not any(n in issue["label"] for n in ("张三", "李四", "13912345678"))
