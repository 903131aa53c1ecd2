"""A large, realistic database for the lifecycle, ranking and inbox benchmarks:
N cases over 2026 (most closed, about a third still open), their appeals, the event
log each state implies (with the deadlines each event records, as CaseService writes
them), replies and ratings. Written with multi-row INSERTs on SQLite and COPY on
PostgreSQL.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from hub import search, topics
from hub.core import Hub

START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_S = int((datetime(2026, 11, 20, tzinfo=UTC) - START).total_seconds())
OPEN = ("assigned", "signed", "reopened")
GRADES = ("满意", "满意", "满意", "基本满意", "不满意")


def _chunks(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write(engine: Engine, table: str, cols: tuple[str, ...],
           rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur, cur.copy(  # type: ignore[attr-defined]
                    f'COPY "{table}" ({", ".join(cols)}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            raw.commit()
        finally:
            raw.close()
        return count
    sql = text(f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES '
               f'({", ".join(":" + c for c in cols)})')
    with engine.begin() as conn:
        for chunk in _chunks(rows, 20_000):
            conn.execute(sql, [dict(zip(cols, r, strict=True)) for r in chunk])
            count += len(chunk)
    return count


def _ts(engine: Engine, moment: datetime) -> Any:
    # SQLModel's UTCDateTime stores naive UTC text on SQLite
    return moment if engine.dialect.name == "postgresql" else \
        moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _timeline(row: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """A case's events as CaseService writes them: (at, actor, action, from, to, unit,
    reply deadline after it, signing deadline)."""
    _i, received, state, unit, _county, days, _reply_h, sign_reply_h = row
    out: list[tuple[Any, ...]] = [(received, "router", "receive", None, "received", None,
                                   None, None)]
    if state == "triage":
        out.append((received, "router", "triage", "received", "triage", None, None, None))
        return out
    assigned = received + timedelta(hours=1)
    due = assigned + timedelta(days=days)
    out.append((assigned, "router", "assign", "received", "assigned", unit, due,
                assigned + timedelta(days=1)))
    if state == "assigned":
        return out
    signed = assigned + timedelta(hours=2)
    out.append((signed, "unit", "sign", "assigned", "signed", unit, due, None))
    if state == "signed":
        return out
    replied = signed + timedelta(hours=sign_reply_h)
    out.append((replied, "unit", "reply", "signed", "replied", unit, due, None))
    if state == "closed":
        out.append((replied + timedelta(days=1), "citizen", "close", "replied", "closed", unit,
                    due, None))
    elif state == "reopened":
        again = replied + timedelta(days=1)
        out.append((again, "citizen", "reopen", "replied", "reopened", unit,
                    again + timedelta(days=2), again + timedelta(days=1)))
    return out


def populate(hub: Hub, cases: int, texts: list[str], seed: int = 5,
             search_index: bool = True, topic_index: bool = True) -> dict[str, float]:
    """Fill an empty, migrated database; returns rows written and seconds taken."""
    rng = random.Random(seed)
    engine = hub.engine
    units = [i for c, i in hub.unit_ids.items() if c != "city"]
    sources = [hub.source_ids[n] for n in ("hotline-push", "web", "import")]
    counties = [c.code for c in hub.config.counties]
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    started = time.perf_counter()
    plan = []
    for i in range(1, cases + 1):
        received = START + timedelta(seconds=rng.randrange(SPAN_S))
        r = rng.random()
        state = ("closed" if r < 0.6 else "replied" if r < 0.66 else "triage" if r < 0.7
                 else rng.choice(OPEN))
        if state in OPEN:  # open work is recent, its deadline near "now"
            received = now - timedelta(days=rng.uniform(0, 12))
        plan.append((i, received, state, rng.choice(units), rng.choice(counties),
                     rng.choice((3, 4, 5, 7)), rng.uniform(2, 120), rng.uniform(1, 100)))
    # ids follow arrival, as the intake gives them
    plan = [(i, *row[1:]) for i, row in enumerate(sorted(plan, key=lambda r: r[1]), start=1)]

    def appeals() -> Iterator[tuple[Any, ...]]:
        for i, received, *_ in plan:
            body = texts[i % len(texts)]
            yield (i, rng.choice(sources), f"b{i}", _ts(engine, received),
                   _ts(engine, received), body[:30] or "诉求", body,
                   "张三", f"138{i % 100000000:08d}", None, rng.randrange(50), "done", 1)

    n_appeals = _write(engine, "appeal", (
        "id", "source_id", "external_id", "received_at", "created_at", "title", "body",
        "contact_name", "contact_phone", "location", "votes", "state", "attempts"), appeals())

    def work_orders() -> Iterator[tuple[Any, ...]]:
        for row in plan:
            i, received, state, unit, county = row[:5]
            events = _timeline(row)
            last = events[-1]
            replied = next((e[0] for e in events if e[2] == "reply"), None)
            closed = events[-1][0] if state == "closed" else None
            yield (i, f"{received:%Y%m%d}{i:07d}", i, state, "城乡建设",
                   None if state == "triage" else unit, county, 0.8, False, False, "normal",
                   _ts(engine, last[6]) if last[6] else None, "ok", 0, False,
                   "ABCDEF", 1 if state == "reopened" else 0, 0, False,
                   _ts(engine, received), _ts(engine, last[0]),
                   _ts(engine, received + timedelta(hours=1)),
                   _ts(engine, replied) if replied else None,
                   _ts(engine, closed) if closed else None, 3)

    n_cases = _write(engine, "work_order", (
        "id", "number", "appeal_id", "state", "category", "unit_id", "county_code",
        "confidence", "urgent", "hide_identity", "difficulty", "deadline_at", "due_state",
        "urge_count", "escalated", "query_code", "reopen_count", "return_count",
        "extension_requested", "created_at", "updated_at", "assigned_at", "first_reply_at",
        "closed_at", "version"), work_orders())

    def events() -> Iterator[tuple[Any, ...]]:
        for row in plan:
            for at, actor, action, before, after, unit, due, sign_by in _timeline(row):
                yield (row[0], _ts(engine, at), actor, action, before, after, unit,
                       _ts(engine, due) if due else None,
                       _ts(engine, sign_by) if sign_by else None)

    n_events = _write(engine, "caseevent", (
        "case_id", "at", "actor", "action", "from_state", "to_state", "unit_id",
        "deadline_at", "sign_deadline_at"), events())

    def ratings() -> Iterator[tuple[Any, ...]]:
        for i, received, state, unit, *_ in plan:
            if state in ("closed", "reopened") and (i % 2 == 0 or state == "reopened"):
                grade = "不满意" if state == "reopened" else rng.choice(GRADES[:4])
                yield (i, unit, 0, grade, "web", _ts(engine, received + timedelta(days=4)))

    n_ratings = _write(engine, "rating", ("case_id", "unit_id", "round", "grade", "channel",
                                          "at"), ratings())
    seconds = time.perf_counter() - started
    t_index = time.perf_counter()
    if search_index:  # what `hub reindex` does; the pipeline indexes as it goes
        search.rebuild(hub.sessions)
    index_seconds = time.perf_counter() - t_index
    t_topics = time.perf_counter()
    if topic_index:  # what the topic job does as cases open, all at once
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO topicbacklog (appeal_id) SELECT id FROM appeal"))
        topics.assign_backlog(hub.sessions, batch=2000)
    topic_seconds = time.perf_counter() - t_topics
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("appeal", "work_order", "caseevent", "rating"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'),"
                                  f" (SELECT max(id) FROM \"{table}\"))"))
            conn.execute(text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return {"appeals": n_appeals, "cases": n_cases, "events": n_events,
            "ratings": n_ratings, "seconds": round(seconds, 1),
            "search_index_seconds": round(index_seconds, 1),
            "topic_seconds": round(topic_seconds, 1)}


def populate_open(hub: Hub, cases: int, seed: int = 9) -> dict[str, float]:
    """Only open work (assigned/signed/reopened) with deadlines around 2026-11-20:
    the deadline job's worst case, every case a candidate."""
    rng = random.Random(seed)
    engine = hub.engine
    units = [i for c, i in hub.unit_ids.items() if c != "city"]
    source = hub.source_ids["import"]
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    started = time.perf_counter()
    received = [now - timedelta(days=rng.uniform(0, 12)) for _ in range(cases)]

    def appeals() -> Iterator[tuple[Any, ...]]:
        for i, at in enumerate(received, 1):
            yield (i, source, f"o{i}", _ts(engine, at), _ts(engine, at), "诉求", "A1区某处路灯不亮",
                   0, "done", 1)

    _write(engine, "appeal", ("id", "source_id", "external_id", "received_at", "created_at",
                              "title", "body", "votes", "state", "attempts"), appeals())

    def work_orders() -> Iterator[tuple[Any, ...]]:
        for i, at in enumerate(received, 1):
            deadline = at + timedelta(days=rng.choice((3, 4, 5, 7)))
            yield (i, f"{at:%Y%m%d}{i:07d}", i, rng.choice(OPEN), rng.choice(units),
                   False, False, "normal", _ts(engine, deadline), "ok", 0, False, "ABCDEF", 0,
                   0, False, _ts(engine, at), _ts(engine, at), _ts(engine, at), 2)

    n = _write(engine, "work_order", (
        "id", "number", "appeal_id", "state", "unit_id", "urgent", "hide_identity",
        "difficulty", "deadline_at", "due_state", "urge_count", "escalated", "query_code",
        "reopen_count", "return_count", "extension_requested", "created_at", "updated_at",
        "assigned_at", "version"), work_orders())
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return {"cases": n, "seconds": round(time.perf_counter() - started, 1)}
