"""Topics (hub/topics.py): each appeal's matter decided once as it arrives, at a cost
that does not grow with the matter's size; the weekly hot issues only aggregate them."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from classifiers.decision import RouteDecision
from hub import topics
from hub.db import transaction
from hub.lifecycle.service import CaseService
from hub.models import Appeal, Topic, TopicBacklog, TopicBand
from tests.concurrency import together

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 2, 9, tzinfo=TZ)
WATER = ["A3区桂花路一带停水两天了，自来水公司一直没有人来修，老人小孩没水喝",
         "桂花路停水两天了，A3区自来水公司电话打不通，一直没有人来修",
         "A3区桂花路大面积停水两天，自来水公司说水管爆了，什么时候能恢复供水",
         "我们桂花路小区停水两天，自来水公司一直没有人来修，请尽快恢复供水"]
LIGHTS = ["A3区含浦街道幸福小区路灯坏了一个月，晚上一片漆黑出行危险",
          "幸福小区的路灯一直不亮，A3区含浦街道这边晚上很黑，请安排维修"]


def open_appeals(hub: Any, texts: list[str], county: str = "A3", category: str = "城乡建设",
                 start: datetime = START, step: timedelta = timedelta(minutes=7),
                 prefix: str = "t") -> list[int]:
    """Appeals and their cases, as the pipeline opens them (open_cases queues topics)."""
    svc = CaseService(hub.config, hub.unit_ids)
    with transaction(hub.sessions) as s:
        first = s.scalar(select(func.count()).select_from(Appeal)) or 0
        appeals = []
        for i, text in enumerate(texts):
            appeal = Appeal(source_id=hub.source_ids["hotline-push"],
                            external_id=f"{prefix}-{first + i}", received_at=start + step * i,
                            title=text[:14], body=text, state="done")
            s.add(appeal)
            appeals.append(appeal)
        s.flush()
        decision = RouteDecision(category, "zhujian", county, 0.9, False, [])
        svc.open_cases(s, [(a, decision) for a in appeals], now=start)
        return [a.id for a in appeals]


def topic_of(hub: Any, ids: list[int]) -> list[int | None]:
    with hub.sessions() as s:
        found = dict(s.execute(select(Appeal.id, Appeal.topic_id).where(Appeal.id.in_(ids))).all())
    return [found[i] for i in ids]


def test_paraphrases_of_one_matter_share_a_topic_and_other_matters_do_not(hub: Any) -> None:
    water = open_appeals(hub, WATER)
    lights = open_appeals(hub, LIGHTS)
    elsewhere = open_appeals(hub, WATER[:2], county="A1")
    other_kind = open_appeals(hub, WATER[:2], category="环境保护")
    with hub.sessions() as s:
        assert topics.backlog_size(s) == 10
    done = topics.assign_backlog(hub.sessions, batch=3)
    assert done.appeals == 10 and done.topics_created == 4
    assert len(set(topic_of(hub, water))) == 1
    assert len(set(topic_of(hub, lights))) == 1
    assert len(set(topic_of(hub, elsewhere))) == 1 and len(set(topic_of(hub, other_kind))) == 1
    assert len({topic_of(hub, g)[0] for g in (water, lights, elsewhere, other_kind)}) == 4
    with hub.sessions() as s:
        assert topics.backlog_size(s) == 0
        topic = s.get(Topic, topic_of(hub, water)[0])
        assert topic.size == 4 and topic.county_code == "A3" and topic.reps[0] == water[0]
    assert topics.assign_backlog(hub.sessions).appeals == 0  # nothing twice


def test_the_work_per_appeal_does_not_grow_with_the_topic(hub: Any) -> None:
    """A matter with a thousand appeals: each newcomer is compared with at most the
    representatives of a bounded number of topics, and the topic's band rows stay
    bounded, however many joined."""
    rng = random.Random(5)
    texts = [f"{rng.choice(WATER)}（{rng.choice(['急', '请尽快', '已经第三次反映', ''])}）"
             for _ in range(1000)]
    per_round = []
    for round_no in range(4):
        open_appeals(hub, texts[round_no * 250:(round_no + 1) * 250],
                     start=START + timedelta(hours=round_no), step=timedelta(seconds=10),
                     prefix=f"r{round_no}")
        done = topics.assign_backlog(hub.sessions, batch=50)
        per_round.append(done.comparisons / done.appeals)
    bound = topics.MAX_CANDIDATES * topics.MAX_REPS
    assert max(per_round) <= bound, per_round
    assert per_round[-1] <= per_round[0] + 1, per_round  # flat, not growing with size
    with hub.sessions() as s:
        sizes = list(s.scalars(select(Topic.size).order_by(Topic.size.desc())))
        assert sizes[0] >= 950, sizes[:5]  # the matter is one topic (a few strays allowed)
        bands = s.scalar(select(func.count()).select_from(TopicBand)
                         .where(TopicBand.topic_id == select(Topic.id)
                                .order_by(Topic.size.desc()).limit(1).scalar_subquery()))
        assert bands <= topics.BANDS * topics.MAX_REPS


def test_a_matter_raised_again_after_the_window_starts_a_new_topic(hub: Any) -> None:
    first = open_appeals(hub, WATER[:2])
    later = open_appeals(hub, WATER[2:], start=START + topics.WINDOW + timedelta(days=3))
    topics.assign_backlog(hub.sessions)
    assert len(set(topic_of(hub, first))) == 1 and len(set(topic_of(hub, later))) == 1
    assert topic_of(hub, first)[0] != topic_of(hub, later)[0]


def test_the_same_appeals_get_the_same_topics_every_time(hub: Any) -> None:
    ids = open_appeals(hub, WATER + LIGHTS + WATER[:2])
    topics.assign_backlog(hub.sessions, batch=2)
    before = topic_of(hub, ids)
    with transaction(hub.sessions) as s:  # forget and decide again, in other batches
        s.execute(TopicBand.__table__.delete())
        s.execute(Appeal.__table__.update().values(topic_id=None))
        s.execute(Topic.__table__.delete())
        topics.enqueue(s, ids)
        assert s.scalar(select(func.count()).select_from(TopicBacklog)) == len(ids)
    topics.assign_backlog(hub.sessions, batch=5)
    after = topic_of(hub, ids)
    # the ids differ, the partition does not
    assert [before.index(t) for t in before] == [after.index(t) for t in after]


def test_hot_issues_count_topics_in_the_period(hub: Any) -> None:
    from hub.ranking.hot import hot_issues
    from hub.ranking.period import period_containing

    open_appeals(hub, WATER * 2)
    open_appeals(hub, LIGHTS)  # two appeals: below the hot-issue size
    topics.assign_backlog(hub.sessions)
    period = period_containing(START.date(), "week", TZ)
    with hub.sessions() as s:
        issues = hot_issues(s, period, hub.config)
    assert [(i["county"], i["volume"]) for i in issues] == [("A3区", 8)]
    assert "停水" in issues[0]["label"] and len(issues[0]["cases"]) == 8
    assert hot_issues_outside(hub) == []


def hot_issues_outside(hub: Any) -> list[Any]:
    from hub.ranking.hot import hot_issues
    from hub.ranking.period import period_containing

    with hub.sessions() as s:
        return hot_issues(s, period_containing((START + timedelta(days=7)).date(), "week", TZ),
                          hub.config)


def test_topics_not_fed_for_two_windows_forget_their_band_keys(hub: Any) -> None:
    old = open_appeals(hub, WATER[:2])
    recent = open_appeals(hub, LIGHTS, start=START + 3 * topics.WINDOW)
    topics.assign_backlog(hub.sessions)
    with hub.sessions() as s:
        stale = s.scalar(select(func.count()).select_from(TopicBand)
                         .where(TopicBand.topic_id == topic_of(hub, old)[0]))
    assert stale and stale % topics.BANDS == 0  # each representative's keys
    with transaction(hub.sessions) as s:
        removed = topics.prune(s, START + 3 * topics.WINDOW + timedelta(days=1))
    with hub.sessions() as s:
        left = set(s.scalars(select(TopicBand.topic_id).distinct()))
    assert removed == stale and left == {topic_of(hub, recent)[0]}
    assert topic_of(hub, old)[0] is not None  # the appeals keep their topic


def test_two_placers_at_once_count_every_appeal_once(hub: Any) -> None:
    """The ranking drains the backlog while the job may be running: each appeal is
    placed once and every topic's size equals the appeals that carry it."""
    water = open_appeals(hub, WATER * 30, step=timedelta(minutes=1))
    _, errors = together(lambda: topics.assign_backlog(hub.sessions, batch=7))
    topics.assign_backlog(hub.sessions)  # whatever a skipped lock left
    assert not errors
    with hub.sessions() as s:
        assert topics.backlog_size(s) == 0
        carried = dict(s.execute(select(Appeal.topic_id, func.count())
                                 .where(Appeal.id.in_(water)).group_by(Appeal.topic_id)).all())
        sizes = dict(s.execute(select(Topic.id, Topic.size)).all())
    assert None not in carried and sum(carried.values()) == len(water)
    assert carried == sizes
