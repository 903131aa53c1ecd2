"""Hot events: clusters at a constant cost per appeal, one case carrying the matter,
surges (热点突发), linked callers who see the reply and rate it, and the report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from classifiers.decision import RouteDecision
from hub.db import transaction
from hub.dedupe import MAX_CANDIDATES, RECENT_REPS
from hub.intake_schema import AppealIn, validate_item
from hub.lifecycle.service import CaseService, Conflict
from hub.models import (
    Appeal,
    AppealBand,
    AppealCluster,
    Case,
    CaseEvent,
    Rating,
    Surge,
    utcnow,
)
from hub.pipeline import ManualTriage, Pipeline
from hub.queue import enqueue
from hub.surge.simulate import callers, event
from tests.concurrency import together

ROUTED = RouteDecision("城乡建设", "A3-zhujian", "A3", 0.95, False, [])


class FixedRouter:
    """Routes every appeal to one unit, as the router would route a hot event."""

    def route_many(self, texts: list[str]) -> list[RouteDecision]:
        return [ROUTED for _ in texts]


def put(hub, texts, prefix="c", source="hotline-push", at=None, phone=None):  # type: ignore[no-untyped-def]
    items = []
    for i, text in enumerate(texts):
        fields = {"external_id": f"{prefix}-{i}", "body": text}
        if phone:
            fields["contact_phone"] = phone
        item = validate_item(fields)
        if at is not None:
            item = AppealIn(**{**item.__dict__, "received_at": at})
        items.append(item)
    with transaction(hub.sessions) as s:
        return [r.id for r in enqueue(s, hub.source_ids[source], items)]


def count(hub, query) -> int:  # type: ignore[no-untyped-def]
    with hub.sessions() as s:
        return int(s.scalar(query) or 0)


def test_work_per_appeal_does_not_grow_with_the_cluster(hub) -> None:  # type: ignore[no-untyped-def]
    """Count the similarity computations per call, batch by batch, while one matter
    grows from 100 to 1,300 calls: flat, bounded by the representatives of the matter
    (and of a small cluster of odd variants beside it). Comparing with every earlier
    member, as before, made it grow with the cluster: 100, 200, ... 1,200 a call."""
    texts = callers(event(0), 1300, seed=7)
    pipeline = Pipeline(hub, ManualTriage(), batch_size=100)
    per_appeal: list[float] = []
    sizes: list[int] = []
    for start in range(0, len(texts), 100):
        put(hub, texts[start:start + 100], prefix=f"b{start}")
        result = pipeline.run_once()
        assert result.claimed == 100
        per_appeal.append(result.comparisons / result.claimed)
        sizes.append(count(hub, select(func.max(AppealCluster.size))))
    assert sizes[-1] >= 6 * sizes[1]  # the matter grew six-fold ...
    assert per_appeal[-1] < 2 * per_appeal[1], (per_appeal, sizes)  # ... the work did not
    # every call is compared with the representatives of at most two clusters
    assert max(per_appeal) <= 2 * (1 + RECENT_REPS) <= MAX_CANDIDATES, per_appeal
    with hub.sessions() as s:
        biggest = s.scalars(select(AppealCluster).order_by(AppealCluster.size.desc())).first()
        assert biggest is not None and biggest.size >= 1200
        members = s.scalar(select(func.count()).select_from(Appeal)
                           .where(Appeal.cluster_id == biggest.id))
        assert members == biggest.size
        # band keys: the original and a few recent members, not 16 rows per member
        bands = s.scalar(select(func.count()).select_from(AppealBand).join(
            Appeal, Appeal.id == AppealBand.appeal_id).where(Appeal.cluster_id == biggest.id))
        assert bands <= 16 * (1 + RECENT_REPS)
        assert len(biggest.reps) <= RECENT_REPS


def test_a_surge_links_every_caller_to_one_case(hub) -> None:  # type: ignore[no-untyped-def]
    texts = callers(event(0), 300, seed=3)
    put(hub, texts[:10])
    pipeline = Pipeline(hub, FixedRouter(), batch_size=50)
    pipeline.drain()
    assert count(hub, select(func.count()).select_from(Surge)) == 0  # below the threshold
    put(hub, texts[10:], prefix="more")
    pipeline.drain()
    with hub.sessions() as s:
        [surge] = s.scalars(select(Surge)).all()
        carrier = s.get(Case, surge.case_id)
        assert carrier is not None and carrier.state == "assigned"
        cluster = s.get(AppealCluster, surge.cluster_id)
        assert cluster is not None and cluster.case_id == carrier.id
        assert surge.state == "active" and surge.callers_at_raise >= 20
        assert surge.county_code == "A3" and surge.title.startswith("A3区")
        assert "桂花路" in surge.label and "物业" not in surge.answer
        linked = s.scalar(select(func.count()).select_from(Case)
                          .where(Case.merged_into_id == carrier.id))
        assert linked == cluster.size - 1 >= 280
        # the carrying case's record stays readable: one event per merge before the
        # surge, none per caller after it
        events = s.scalar(select(func.count()).select_from(CaseEvent)
                          .where(CaseEvent.case_id == carrier.id))
        assert events <= surge.callers_at_raise + 5
        assert s.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.case_id == carrier.id, CaseEvent.action == "surge")) == 1
        # every caller keeps their own number and code
        codes = s.scalars(select(Case.query_code).where(Case.merged_into_id == carrier.id))
        assert len(set(codes)) > 250


def test_linked_callers_see_the_reply_and_rate_it(hub) -> None:  # type: ignore[no-untyped-def]
    from hub.api.cases import citizen_view

    put(hub, callers(event(0), 40, seed=4))
    Pipeline(hub, FixedRouter()).drain()
    svc = CaseService(hub.config, hub.unit_ids)
    with hub.sessions() as s:
        surge = s.scalars(select(Surge)).one()
        carrier = s.get(Case, surge.case_id)
        caller = s.scalars(select(Case).where(Case.merged_into_id == carrier.id)
                           .order_by(Case.id.desc())).first()
    view = citizen_view(hub, caller.number, caller.query_code, "203.0.113.9")
    assert view["linked_to"] == carrier.number and view["number"] == caller.number
    assert view["state"] == "assigned" and not view["can_rate"] and "热点事件" in view["surge"]
    unit = hub.unit_ids["A3-zhujian"]
    with transaction(hub.sessions) as s:
        svc.sign(s, carrier.id, "zj", unit_id=unit)
        svc.reply(s, carrier.id, "zj", "抢修队已更换破裂管段，下午三点恢复供水。", unit_id=unit)
    view = citizen_view(hub, caller.number, caller.query_code, "203.0.113.9")
    assert view["state"] == "replied" and view["can_rate"]
    assert "恢复供水" in view["replies"][0]["body"]
    with pytest.raises(Exception, match="不正确"):  # the code of another caller does not open it
        citizen_view(hub, caller.number, carrier.query_code, "203.0.113.9")
    with transaction(hub.sessions) as s:
        svc.rate(s, caller.number, caller.query_code, "满意", "修得很快")
    with transaction(hub.sessions) as s, pytest.raises(Conflict):
        svc.rate(s, caller.number, caller.query_code, "不满意")
    with hub.sessions() as s:
        rating = s.scalars(select(Rating).where(Rating.case_id == caller.id)).one()
        assert rating.unit_id == unit and rating.grade == "满意" and rating.round == 0
        assert s.get(Case, carrier.id).state == "replied"  # one caller does not close it
    assert not citizen_view(hub, caller.number, caller.query_code, "203.0.113.9")["can_rate"]
    # the carrying case's own citizen closes it; linked callers may still rate
    with transaction(hub.sessions) as s:
        assert svc.rate(s, carrier.number, carrier.query_code, "满意").state == "closed"
    with hub.sessions() as s:
        other = s.scalars(select(Case).where(Case.merged_into_id == carrier.id,
                                             Case.id != caller.id)).first()
    assert citizen_view(hub, other.number, other.query_code, "203.0.113.9")["can_rate"]
    with transaction(hub.sessions) as s:
        svc.rate(s, other.number, other.query_code, "不满意", "还是没水")
    assert count(hub, select(func.count()).select_from(Rating)) == 3


def test_calls_after_the_matter_was_closed_get_a_new_carrying_case(hub) -> None:  # type: ignore[no-untyped-def]
    texts = callers(event(1), 12, seed=9)
    put(hub, texts[:4])
    pipeline = Pipeline(hub, FixedRouter())
    pipeline.drain()
    svc = CaseService(hub.config, hub.unit_ids)
    unit = hub.unit_ids["A3-zhujian"]
    with hub.sessions() as s:
        cluster = s.scalars(select(AppealCluster)).one()
        first = cluster.case_id
    with transaction(hub.sessions) as s:
        svc.sign(s, first, "zj", unit_id=unit)
        svc.reply(s, first, "zj", "已协调公交公司恢复12路运营。", unit_id=unit)
        number, code = s.get(Case, first).number, s.get(Case, first).query_code
        svc.rate(s, number, code, "满意")
    put(hub, texts[4:], prefix="later")
    pipeline.drain()
    with hub.sessions() as s:
        cluster = s.scalars(select(AppealCluster)).one()
        assert cluster.size == 12 and cluster.case_id != first
        carrier = s.get(Case, cluster.case_id)
        assert carrier.state == "assigned"
        assert s.scalar(select(func.count()).select_from(Case).where(
            Case.merged_into_id == carrier.id)) == 7
        note = s.scalar(select(CaseEvent.note).where(CaseEvent.case_id == carrier.id,
                                                     CaseEvent.action == "duplicate"))
        assert "已办结" in note and number in note


def test_an_operator_links_a_call_to_an_active_surge(hub) -> None:  # type: ignore[no-untyped-def]
    put(hub, callers(event(0), 25, seed=2))
    pipeline = Pipeline(hub, FixedRouter())
    pipeline.drain()
    with hub.sessions() as s:
        surge = s.scalars(select(Surge)).one()

    def desk_call(ext: str, surge_id: object) -> int:
        item = validate_item({"external_id": ext, "body": "我家停水了，什么时候能来水？"})
        item.raw = {"query_code": "ABCDEF", "entered_by": "hotline-desk", "surge_id": surge_id}
        with transaction(hub.sessions) as s:
            return enqueue(s, hub.source_ids["hotline-desk"], [item])[0].id

    linked = desk_call("d-1", surge.id)
    forged = desk_call("d-2", str(surge.id))  # not the hub's own integer: ignored
    pipeline.drain()
    with hub.sessions() as s:
        case = s.scalars(select(Case).join(Appeal, Appeal.id == Case.appeal_id)
                         .where(Appeal.id == linked)).one()
        assert case.merged_into_id == surge.case_id and case.query_code == "ABCDEF"
        assert s.get(Appeal, linked).cluster_id == surge.cluster_id
        assert s.get(Appeal, forged).cluster_id is None
    from hub.surge import store

    with transaction(hub.sessions) as s:
        store.end(s, surge.id, "supervisor:sup")
    late = desk_call("d-3", surge.id)  # the form was open while the surge ended
    pipeline.drain()
    with hub.sessions() as s:
        assert s.get(Appeal, late).cluster_id is None
        case = s.scalars(select(Case).where(Case.appeal_id == late)).one()
        assert case.state != "merged"


def test_old_calls_raise_no_surge(hub) -> None:  # type: ignore[no-untyped-def]
    """An import of last month's calls about one matter makes a cluster, not a banner."""
    put(hub, callers(event(2), 30, seed=1), at=utcnow() - timedelta(days=3))
    Pipeline(hub, FixedRouter()).drain()
    assert count(hub, select(func.max(AppealCluster.size))) >= 25
    assert count(hub, select(func.count()).select_from(Surge)) == 0


def test_an_ended_surge_is_raised_again_when_the_matter_flares(hub) -> None:  # type: ignore[no-untyped-def]
    from hub.surge import store

    texts = callers(event(0), 80, seed=6)
    put(hub, texts[:30])
    pipeline = Pipeline(hub, FixedRouter())
    pipeline.drain()
    with transaction(hub.sessions) as s:
        surge = s.scalars(select(Surge)).one()
        store.end(s, surge.id, "supervisor:sup")
    put(hub, texts[30:40], prefix="few")
    pipeline.drain()
    with hub.sessions() as s:
        assert s.get(Surge, surge.id).state == "ended"  # ten more calls: not yet
    put(hub, texts[40:], prefix="flare")
    pipeline.drain()
    with hub.sessions() as s:
        again = s.get(Surge, surge.id)
        assert again.state == "active" and again.ended_at is None
        assert s.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.action == "surge")) == 2


def test_the_hot_issue_report_lists_the_surge_and_its_callers(hub) -> None:  # type: ignore[no-untyped-def]
    import json

    from hub.ranking.hot import hot_issues
    from hub.ranking.period import period_containing
    from hub.ranking.publish import render_html

    put(hub, callers(event(0), 60, seed=8), phone="13912345678")
    Pipeline(hub, FixedRouter()).drain()
    tz = CaseService(hub.config, hub.unit_ids).calendar.tz
    period = period_containing(utcnow().astimezone(tz).date(), "week", tz)
    with hub.sessions() as s:
        issues = hot_issues(s, period, hub.config)
        surge = s.scalars(select(Surge)).one()
        carrier = s.get(Case, surge.case_id)
    [issue] = [i for i in issues if i.get("surge")]
    assert issue["volume"] >= 55 and issue["surge"]["case"] == carrier.number
    assert issue["county"] == "A3区" and carrier.number in issue["cases"]
    assert len(issue["cases"]) == 50 and issue["label"] == surge.label
    text = json.dumps(issues, ensure_ascii=False)
    assert "13912345678" not in text and "1391234" not in text
    from hub.ranking.service import compute

    with hub.sessions() as s:
        html = render_html(compute(s, hub, period))
    assert "热点突发" in html


def test_two_pipelines_drain_a_hot_event_without_losing_a_call(hub) -> None:  # type: ignore[no-untyped-def]
    put(hub, callers(event(1), 400, seed=11))
    opened, errors = together(lambda: Pipeline(hub, FixedRouter(), batch_size=40).drain())
    assert not errors and sum(opened) == 400
    with hub.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Appeal)
                        .where(Appeal.state != "done")) == 0
        sizes = list(s.scalars(select(AppealCluster.size).order_by(AppealCluster.size.desc())))
        assert sum(sizes) >= 380 and sizes[0] >= 300  # one matter draws nearly all calls
        # every caller's case leads, in a hop or two, to an open carrying case, and
        # nearly all to the one case of the surge
        cases = {c.id: c for c in s.scalars(select(Case))}

        def carrier(case: Case) -> Case:
            for _ in range(3):
                if case.state != "merged":
                    return case
                case = cases[case.merged_into_id]
            raise AssertionError(f"case {case.id} is merged more than three deep")

        ends = [carrier(c).id for c in cases.values()]
        [surge] = s.scalars(select(Surge)).all()
        assert ends.count(surge.case_id) >= 0.9 * len(ends)
        assert all(cases[e].state in ("assigned", "triage") for e in ends)


def test_a_matter_told_otherwise_joins_the_active_surge(hub) -> None:  # type: ignore[no-untyped-def]
    """Callers who word the burst main unlike the surge's first callers form a cluster
    of their own; when it passes the threshold it joins the surge instead of raising a
    second banner. Another matter in the same place raises its own."""
    from hub.surge.simulate import EVENTS, HotEvent

    main = EVENTS[0]
    otherwise = HotEvent(main.county, main.core.replace("老人小孩做饭喝水都成了问题",
                                                        "一家人做饭洗澡都没法弄"),
                         (), ("我住桂花苑{n}栋",), ("请尽快抢修。",))
    pipeline = Pipeline(hub, FixedRouter())
    put(hub, callers(main, 25, seed=1), prefix="main")
    pipeline.drain()
    put(hub, callers(otherwise, 25, seed=2), prefix="other")
    pipeline.drain()
    with hub.sessions() as s:
        [surge] = s.scalars(select(Surge)).all()
        cluster = s.get(AppealCluster, surge.cluster_id)
        assert cluster.size == 50 == s.scalar(select(func.count()).select_from(Appeal).where(
            Appeal.cluster_id == cluster.id))
        assert s.scalar(select(func.count()).select_from(AppealCluster).where(
            AppealCluster.size > 0)) == 1
        # the other group's carrying case now follows the surge's
        merged = s.scalars(select(Case).join(Appeal, Appeal.id == Case.appeal_id).where(
            Appeal.external_id == "other-0")).one()
        assert merged.merged_into_id == surge.case_id
    put(hub, callers(otherwise, 5, seed=3), prefix="later")  # worded the other way
    pipeline.drain()
    with hub.sessions() as s:
        assert s.get(AppealCluster, surge.cluster_id).size == 55
    put(hub, callers(event(1), 25, seed=4), prefix="bus")  # a cut bus route, same county
    pipeline.drain()
    assert count(hub, select(func.count()).select_from(Surge)) == 2


class WhistleRouter:
    """Routes as FixedRouter, but a report of bribery as the misconduct rule does."""

    def route_many(self, texts: list[str]) -> list[RouteDecision]:
        hidden = RouteDecision("纪检监察", "A3-jiwei", "A3", 0.99, False, [],
                               hide_identity=True, rule="misconduct",
                               accused=("A3-zhujian",))
        return [hidden if "受贿" in t else ROUTED for t in texts]


def test_a_whistleblowers_report_is_never_linked_to_a_hot_event(hub) -> None:  # type: ignore[no-untyped-def]
    """Worded like the callers of a hot event, a report of bribery is still its own
    case: linked to the carrying case it would follow a case the accused unit
    handles, and a hot issue would publish its title."""
    from hub.models import TopicBacklog

    texts = callers(event(0), 40, seed=5)
    put(hub, texts)
    [report] = put(hub, [texts[0] + "。另外举报住建局工作人员收受物业受贿"], prefix="wb")
    Pipeline(hub, WhistleRouter(), batch_size=50).drain()
    with hub.sessions() as s:
        case = s.scalar(select(Case).where(Case.appeal_id == report))
        assert case is not None and case.hide_identity and case.merged_into_id is None
        assert s.scalar(select(Appeal.cluster_id).where(Appeal.id == report)) is None
        assert s.scalar(select(TopicBacklog.appeal_id).where(
            TopicBacklog.appeal_id == report)) is None
        assert s.scalar(select(func.count()).select_from(Case).where(
            Case.merged_into_id.is_not(None))) >= 30  # the others were linked


def test_a_surge_label_never_names_a_person_the_callers_name(hub) -> None:  # type: ignore[no-untyped-def]
    """Callers of one matter all name the same person (a manager, a neighbour): the
    label, shown on the public report and the desk, is made as every published label
    (hub/labels.py) and leaves the name out."""
    texts = [f"{t}，物业经理王建国电话13912345678一直不接" for t in callers(event(0), 30, seed=7)]
    put(hub, texts)
    Pipeline(hub, FixedRouter(), batch_size=50).drain()
    with hub.sessions() as s:
        [surge] = s.scalars(select(Surge)).all()
    assert surge.label and "王建国" not in surge.label and "建国" not in surge.title
    assert "139" not in surge.label and "桂花路" in surge.title
