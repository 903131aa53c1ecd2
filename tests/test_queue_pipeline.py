"""The queue's exactly-once rule, leased claiming, and the pipeline to cases."""

from __future__ import annotations

import threading
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hub.db import transaction
from hub.intake_schema import validate_item
from hub.models import Appeal, Case, utcnow
from hub.pipeline import Pipeline
from hub.queue import claim, enqueue, finish


def item(ext: str, body: str = "A7县星沙街道小区门口道路破损严重，请尽快修复。"):  # type: ignore[no-untyped-def]
    return validate_item({"external_id": ext, "body": body})


def count(hub, model=Appeal) -> int:  # type: ignore[no-untyped-def]
    with hub.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(batches=st.lists(st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=12),
                        min_size=1, max_size=5))
def test_any_sequence_of_batches_stores_each_id_once(hub, batches) -> None:  # type: ignore[no-untyped-def]
    source = hub.source_ids["hotline-push"]
    with transaction(hub.sessions) as s:
        s.query(Appeal).delete()
    seen: dict[str, int] = {}
    for batch in batches:
        with transaction(hub.sessions) as s:
            results = enqueue(s, source, [item(f"hx-{x}") for x in batch])
        for ext, res in zip(batch, results, strict=True):
            if ext in seen:
                assert res.id == seen[ext] and not res.created
            seen.setdefault(ext, res.id)
    assert count(hub) == len(seen)


def test_parallel_writers_of_the_same_ids(hub) -> None:  # type: ignore[no-untyped-def]
    source = hub.source_ids["hotline-push"]
    ids: list[list[int]] = []

    def write() -> None:
        with transaction(hub.sessions) as s:
            ids.append([r.id for r in enqueue(s, source, [item(f"p-{i}") for i in range(50)])])

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(hub) == 50
    assert all(run == ids[0] for run in ids)


def test_a_lease_that_ran_out_passes_to_another_worker(hub) -> None:  # type: ignore[no-untyped-def]
    source = hub.source_ids["hotline-push"]
    with transaction(hub.sessions) as s:
        enqueue(s, source, [item(f"l-{i}") for i in range(5)])
    with transaction(hub.sessions) as s:
        first = [a.id for a in claim(s, "w1", 10, timedelta(minutes=5))]
    assert len(first) == 5
    with transaction(hub.sessions) as s:
        assert claim(s, "w2", 10, timedelta(minutes=5)) == []
    with transaction(hub.sessions) as s:
        later = utcnow() + timedelta(minutes=6)
        second = [a.id for a in claim(s, "w2", 10, timedelta(minutes=5), now=later)]
    assert second == first
    with transaction(hub.sessions) as s:
        assert finish(s, "w1", first) == []  # the slow worker lost them
        assert sorted(finish(s, "w2", second)) == sorted(first)


def test_pipeline_turns_every_appeal_into_one_case(hub, seed_model) -> None:  # type: ignore[no-untyped-def]
    from classifiers.router import load_router

    source = hub.source_ids["hotline-push"]
    texts = ["A3区某学校强制学生购买教辅资料，老师不买就点名批评",
             "A7县某公司拖欠员工工资半年，老板不露面",
             "我要反映一件事情"]
    with transaction(hub.sessions) as s:
        enqueue(s, source, [item(f"pl-{i}", t) for i, t in enumerate(texts * 40)])
    pipeline = Pipeline(hub, load_router(hub), batch_size=16)
    assert pipeline.drain() == 120
    assert count(hub, Case) == 120 and count(hub) == 120
    with hub.sessions() as s:
        states = {c.state for c in s.scalars(select(Case))}
        assert states <= {"assigned", "triage"}
        assert all(a.state == "done" for a in s.scalars(select(Appeal)))
    assert pipeline.drain() == 0
