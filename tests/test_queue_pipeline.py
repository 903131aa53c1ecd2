"""The queue's exactly-once rule, leased claiming, and the pipeline to cases."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hub.db import transaction
from hub.intake_schema import AppealIn, validate_item
from hub.models import Appeal, Case, utcnow
from hub.pipeline import ManualTriage, Pipeline
from hub.queue import claim, enqueue, finish
from tests.conftest import on_postgres


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
        states = [c.state for c in s.scalars(select(Case))]
        assert set(states) <= {"assigned", "triage", "merged"}
        # the 40 copies of the first (long) text are one matter: 39 merged into the first;
        # the other two texts are too short to be judged duplicates
        assert states.count("merged") == 39
        assert all(a.state == "done" for a in s.scalars(select(Appeal)))
    assert pipeline.drain() == 0
    # search indexing waits in its backlog, off the pipeline's path, until the job runs
    from hub import search
    from hub.models import SearchBacklog

    assert count(hub, SearchBacklog) == 120
    assert search.index_backlog(hub.sessions, batch=50) == 120
    assert count(hub, SearchBacklog) == 0


def test_the_same_matter_from_two_channels_is_linked_once(hub, seed_model) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from hub.models import CaseEvent, utcnow

    text = "A3区桂花路幸福小区已经停水三天了，自来水公司一直没有来修，老人孩子用水非常困难"
    now = utcnow()
    with transaction(hub.sessions) as s:
        enqueue(s, hub.source_ids["hotline-push"], [item("h-1", text)])
    pipeline = Pipeline(hub, ManualTriage())
    pipeline.drain()
    board_copy = text.replace("非常困难", "很困难") + "。请尽快处理！"
    old = AppealIn(external_id="w-old", body="二十天前：" + text, title="旧的",
                   received_at=now - timedelta(days=20))
    with transaction(hub.sessions) as s:
        other = item("w-2", "完全不同的事情：公园里的健身器材坏了很久没人修理，孩子玩耍有危险")
        enqueue(s, hub.source_ids["web"], [item("w-1", board_copy), other, old])
    pipeline.drain()
    with hub.sessions() as s:
        cases = {a.external_id: (a, c) for a, c in s.execute(
            select(Appeal, Case).join(Case, Case.appeal_id == Appeal.id))}
        original, dup = cases["h-1"], cases["w-1"]
        assert dup[0].duplicate_of_id == original[0].id
        assert dup[1].state == "merged" and dup[1].merged_into_id == original[1].id
        assert cases["w-2"][1].state != "merged" and cases["w-2"][0].duplicate_of_id is None
        assert cases["w-old"][0].duplicate_of_id is None  # outside the window: not linked
        notes = list(s.scalars(select(CaseEvent.note).where(CaseEvent.case_id == dup[1].id,
                                                            CaseEvent.action == "duplicate")))
        assert notes and "跨渠道重复" in notes[0]


def test_two_pipelines_at_once_open_each_case_once(hub) -> None:  # type: ignore[no-untyped-def]
    source = hub.source_ids["hotline-push"]
    with transaction(hub.sessions) as s:
        enqueue(s, source, [item(f"two-{i}", f"第{i}号：A{i % 9 + 1}区某路段路灯不亮已有{i}天")
                            for i in range(300)])
    opened: list[int] = []
    workers = [threading.Thread(target=lambda: opened.append(
        Pipeline(hub, ManualTriage(), batch_size=25).drain())) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sum(opened) == 300 and count(hub, Case) == 300


@pytest.mark.skipif(on_postgres(), reason="PostgreSQL writers lock rows, not the file")
def test_sqlite_writers_queue_at_the_write_gate(hub) -> None:  # type: ignore[no-untyped-def]
    """While another writer (here: another thread) holds the file's gate, a write
    transaction does not begin; it begins as soon as the gate is released."""
    import time

    from hub.db import _GATES

    gate = _GATES[hub.engine]
    order: list[str] = []
    held = threading.Event()

    def holder() -> None:
        with gate.hold():
            order.append("gate held")
            held.set()
            time.sleep(0.3)
            order.append("gate released")

    def writer() -> None:
        held.wait(5)
        with transaction(hub.sessions):
            order.append("write begins")

    threads = [threading.Thread(target=holder), threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order == ["gate held", "gate released", "write begins"]
    assert gate.path.exists()


def _client_announced(gate: Any) -> bool:
    """Is a client waiting? (its shared lock makes an exclusive one fail)"""
    import fcntl
    import os

    fd = os.open(gate.clients_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@pytest.mark.skipif(on_postgres(), reason="PostgreSQL writers lock rows, not the file")
def test_a_waiting_client_writes_before_queued_background_writers(hub) -> None:  # type: ignore[no-untyped-def]
    """Five background writers (pipeline, indexing ...) queue behind a long
    transaction, then the intake's group commit queues too: it goes first when the
    gate comes free, so a citizen waits for one background transaction, not six.
    With a plain lock the kernel lets any waiter win (the client would be first in
    about one run of six). Afterwards every background writer still writes."""
    import time

    from hub.db import _GATES

    gate = _GATES[hub.engine]
    order: list[str] = []
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with gate.hold():
            held.set()
            release.wait(10)

    def background(n: int) -> None:
        with transaction(hub.sessions):
            order.append(f"background {n}")

    def client() -> None:
        with transaction(hub.sessions, client=True):
            order.append("client")

    first = threading.Thread(target=holder)
    first.start()
    assert held.wait(5)
    waiting = [threading.Thread(target=background, args=(n,)) for n in range(5)]
    for t in waiting:
        t.start()
    time.sleep(0.2)  # the background writers are blocked on the gate
    last = threading.Thread(target=client)
    last.start()
    deadline = time.monotonic() + 5
    while not _client_announced(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for t in [first, *waiting, last]:
        t.join(10)
    assert order[0] == "client", order
    assert sorted(order[1:]) == [f"background {n}" for n in range(5)]


def test_backfilled_appeals_are_processed_and_indexed_once(hub) -> None:  # type: ignore[no-untyped-def]
    """`hub import` then `hub process` on a fresh hub: the start-up backfill queues every
    stored appeal for the search index, then the pipeline queues the same appeals again.
    Both must succeed, and each appeal is in the index once."""
    from sqlalchemy import text

    from hub import search
    from hub.models import SearchBacklog

    source = hub.source_ids["import"]
    with transaction(hub.sessions) as s:
        enqueue(s, source, [item(f"bf-{i}", f"A1区某小区第{i}栋楼道灯坏了很久没人修理") for i in
                            range(30)])
    with transaction(hub.sessions) as s:  # what Hub.open does at start
        assert search.backfill_if_empty(s) == 30
        assert search.backfill_if_empty(s) == 0  # once the backlog holds anything
    assert Pipeline(hub, ManualTriage(), batch_size=7).drain() == 30
    with transaction(hub.sessions) as s:
        search.enqueue(s, [1, 2, 3, 3])  # a repeat is not an error either
    assert count(hub, SearchBacklog) == 30
    assert search.index_backlog(hub.sessions, batch=8) == 30
    with transaction(hub.sessions) as s:  # indexed again: still one entry per appeal
        search.enqueue(s, [1, 2])
    search.index_backlog(hub.sessions)
    column = "appeal_id" if on_postgres() else "rowid"
    with hub.sessions() as s:
        ids = [r[0] for r in s.execute(text(f"SELECT {column} FROM appeal_search"))]
        hits = s.scalar(select(func.count()).select_from(Appeal).where(
            search.matching(s.get_bind().dialect.name, ["楼道灯"])))
    assert sorted(ids) == list(range(1, 31)) and hits == 30


def _wal_frames(hub: Any, client: bool) -> int:
    """Write ~2,000 pages of appeals in transactions of one kind, then count the
    frames the WAL holds (a PASSIVE checkpoint reports them, then copies them)."""
    from sqlalchemy import text

    body = "路灯不亮" * 900  # ~11 KiB of text: a few pages per appeal
    for batch in range(60):
        with transaction(hub.sessions, client=client) as s:
            enqueue(s, hub.source_ids["hotline-push"], [
                validate_item({"external_id": f"wal-{client}-{batch}-{i}", "body": body})
                for i in range(10)])
    with hub.engine.connect() as conn:
        _busy, frames, _done = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        conn.execute(text("SELECT 1"))
    return int(frames)


@pytest.mark.skipif(on_postgres(), reason="SQLite's WAL checkpoints only")
def test_a_clients_commit_never_checkpoints_the_wal(hub) -> None:  # type: ignore[no-untyped-def]
    """The commit that takes the WAL past 1,000 pages copies and syncs them into the
    database (tens to hundreds of milliseconds): never a client's. Client-only writes
    let the WAL grow past the threshold; the same writes in background transactions
    keep it below (they checkpoint as they pass it)."""
    assert _wal_frames(hub, client=True) > 1500
    assert _wal_frames(hub, client=False) < 1100
