"""Topics: which matter each appeal is about, decided once, as appeals arrive.

A hot issue (热点问题) is many appeals about one matter in one place and time. Citizens
word one matter differently, so a topic is looser than a duplicate cluster
(hub/dedupe.py, near-identical wording, merged into one case): appeals of one county
and category whose character bigrams overlap by ``SIMILARITY`` (Jaccard) are one
topic. Deciding that at report time meant clustering a whole week of appeals every
time a report was made (most of a ranking's cost at a million cases); here each
appeal is assigned a topic by a background job soon after its case is opened, and the
weekly report only aggregates ``appeal.topic_id``.

Cost per appeal is bounded whatever a topic's size: an appeal is compared with the
representatives (the first appeal and at most ``MAX_REPS - 1`` others) of at most
``MAX_CANDIDATES`` recent topics that share a MinHash band with it (LSH over 32 bands
of 2 rows, keyed by county and category); only representatives store band keys.
Topics last ``WINDOW``: an appeal joins a topic last fed within that time, so an old
matter raised again starts a new topic.

The pipeline queues each appeal it opens a case for (``TopicBacklog``, in its own
transaction); the job (``assign_backlog``) takes them oldest first. The weekly
ranking drains the backlog before it aggregates. Determinism: appeals are assigned in
id order, candidates compared in a fixed order, ties broken by topic id.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, bindparam, column, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from hub.db import insert_ignoring_conflicts, is_postgres, transaction
from hub.models import Appeal, Case, Topic, TopicBacklog, TopicBand

SIMILARITY = 0.18  # bigram Jaccard: paraphrases share place names and key words
DISTINCT = 0.5  # a member this unlike every representative becomes one (if room)
WINDOW = timedelta(days=14)
MAX_REPS = 5
MAX_CANDIDATES = 8
TEXT_CHARS = 300
BANDS, ROWS = 32, 2  # P(candidate) ≈ 0.7 at Jaccard 0.19 (a rep each), 0.03 at 0.03
_rng = np.random.default_rng(11)
# multiply-shift hashing ((a*x + b) mod 2^64, top 32 bits): MinHash without a modulo
_A = (_rng.integers(1, 2**63, size=(BANDS * ROWS, 1), dtype=np.uint64) | np.uint64(1))
_B = _rng.integers(0, 2**63, size=(BANDS * ROWS, 1), dtype=np.uint64)
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)  # as hub.textsim


def bigrams(title: str, body: str) -> np.ndarray:
    """A text's distinct character bigrams (punctuation and spaces dropped) as sorted
    integers (code point pairs): exact, and a tenth of the memory of strings."""
    clean = _NOISE.sub("", f"{title}{body[:TEXT_CHARS]}")
    points = np.frombuffer(clean.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if points.size < 2:
        return points
    return np.unique(points[:-1] * np.uint64(0x110000) + points[1:])


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    if not a.size or not b.size:
        return 0.0
    shared = np.intersect1d(a, b, assume_unique=True).size
    return shared / (a.size + b.size - shared)


_BAND_SALT = np.arange(BANDS, dtype=np.uint64)


def band_keys(grams: np.ndarray, county: str | None, category: str | None) -> list[int]:
    """The text's 32 LSH band keys, each folded with its county and category (a
    matter is one place's), as 63-bit integers for a BIGINT column."""
    if not grams.size:
        return []
    signature = ((_A * grams[None, :] + _B) >> np.uint64(32)).min(axis=1)
    place = hashlib.blake2b(f"{county}|{category}".encode(), digest_size=8).digest()
    salt = np.uint64(int.from_bytes(place, "big"))
    values = (signature[0::2] << np.uint64(32)) | signature[1::2]
    keys = (values ^ salt ^ (_BAND_SALT * np.uint64(0x9E3779B97F4A7C15))) >> np.uint64(1)
    return [int(k) for k in keys]


def enqueue(session: Session, appeal_ids: list[int]) -> None:
    """Ask for these appeals to be given a topic (the pipeline, in its transaction);
    idempotent like the search index's queue."""
    if appeal_ids:
        insert_ignoring_conflicts(session, TopicBacklog.__table__,
                                  [{"appeal_id": i} for i in sorted(set(appeal_ids))],
                                  ["appeal_id"], [TopicBacklog.__table__.c.appeal_id])


@dataclass
class _Member:
    appeal_id: int
    at: datetime
    county: str | None
    category: str | None
    grams: np.ndarray
    keys: list[int]


@dataclass
class _Topic:
    """A topic as the batch sees it: ``id`` is negative until the batch inserts it."""

    id: int
    county: str | None
    category: str | None
    original: int
    size: int
    first_at: datetime
    last_at: datetime
    reps: list[tuple[int, np.ndarray]] = field(default_factory=list)
    changed: bool = False


@dataclass
class Assigned:
    appeals: int = 0
    topics_created: int = 0
    comparisons: int = 0


def assign_backlog(session_factory: sessionmaker[Session], batch: int = 500,
                   limit: int | None = None) -> Assigned:
    """Give every waiting appeal its topic, oldest first, ``batch`` per transaction.

    Bigrams, band keys and the comparisons with candidate topics are computed from a
    read; the write transaction only checks that the candidates did not move
    meanwhile (else it places again, under its lock) and writes. On SQLite the file's
    one write lock is then held for milliseconds: placing a hot event's batch inside
    it held the intake's group commits back for up to 350 ms."""
    total = Assigned()
    while limit is None or total.appeals < limit:
        ids, members = _read_batch(session_factory, batch)
        if not ids:
            break
        with session_factory() as s:  # the comparisons, from a read: no write lock yet
            plan = _plan(s, members)
        with transaction(session_factory) as s:
            done = _assign(s, ids, members, plan)
        if done.appeals == 0:
            break  # another process holds these (PostgreSQL): it places them
        total.appeals += done.appeals
        total.topics_created += done.topics_created
        total.comparisons += done.comparisons
    return total


def _read_batch(session_factory: sessionmaker[Session],
                batch: int) -> tuple[list[int], list[_Member]]:
    with session_factory() as s:
        ids = list(s.scalars(select(TopicBacklog.appeal_id)
                             .order_by(TopicBacklog.appeal_id).limit(batch)))
        if not ids:
            return [], []
        rows = s.execute(
            select(Appeal.id, Appeal.received_at, Appeal.title,
                   func.substr(Appeal.body, 1, TEXT_CHARS), Case.county_code, Case.category)
            .join(Case, Case.appeal_id == Appeal.id)
            .where(Appeal.id.in_(ids), Appeal.topic_id.is_(None)).order_by(Appeal.id)).all()
    members = []
    for aid, at, title, body, county, category in rows:
        grams = bigrams(title or "", body or "")
        members.append(_Member(aid, at, county, category, grams,
                               band_keys(grams, county, category)))
    return ids, members


def _assign(s: Session, ids: list[int], members: list[_Member], plan: _Plan) -> Assigned:
    """Write the plan for the members still waiting: another process (the ranking
    draining the backlog while the job runs) may have taken some since the read. On
    PostgreSQL the backlog rows are locked, skipping those another transaction holds."""
    waiting = select(TopicBacklog.appeal_id).where(TopicBacklog.appeal_id.in_(ids))
    if is_postgres(s):
        waiting = waiting.with_for_update(skip_locked=True)
    still = set(s.scalars(waiting))
    if not still:
        return Assigned()
    if still != {m.appeal_id for m in members} or _moved(s, plan):
        plan = _plan(s, [m for m in members if m.appeal_id in still], lock=True)
    _write_plan(s, plan)
    s.execute(delete(TopicBacklog).where(TopicBacklog.appeal_id.in_(sorted(still))))
    plan.result.appeals = len(still)
    return plan.result


@dataclass
class _Plan:
    """Where each member goes, worked out from the topics as they were read."""

    topics: dict[int, _Topic]
    placed: dict[int, int]  # appeal id -> topic id (provisional when negative)
    bands: list[tuple[int, int]]  # key, topic id
    result: Assigned
    seen: dict[int, tuple[int, Any]]  # candidate topic id -> (size, last_at) as read
    newest: int  # the highest topic id when read: a newer one may be a candidate


def _moved(s: Session, plan: _Plan) -> bool:
    """Did any candidate change, or a topic appear, since the plan was made?"""
    newest = s.scalar(select(func.max(Topic.id))) or 0
    if newest != plan.newest:
        return True
    if not plan.seen:
        return False
    query = select(Topic.id, Topic.size, Topic.last_at).where(
        Topic.id.in_(sorted(plan.seen))).order_by(Topic.id)
    if is_postgres(s):  # held until commit: nobody adds to them between check and write
        query = query.with_for_update()
    now = {i: (size, last) for i, size, last in s.execute(query)}
    return now != plan.seen


def _plan(s: Session, members: list[_Member], lock: bool = False) -> _Plan:
    """Assign ``members`` (in id order) to topics; the batch's own new topics are
    candidates for its later members too. Reads the candidates in two queries."""
    result = Assigned()
    newest = s.scalar(select(func.max(Topic.id))) or 0
    if not members:
        return _Plan({}, {}, [], result, {}, newest)
    by_key = _candidates(s, members)
    # only the topics some member will compare with (its MAX_CANDIDATES sharing most
    # bands) are loaded: loading every topic sharing any band cost time and memory in
    # proportion to the topics in the window (two thirds of the job in a soak). The
    # batch's own new topics can only push stored ones out of a member's top, never
    # bring another in, so this set is enough.
    wanted: set[int] = set()
    for m in members:
        wanted.update(_top(m.keys, by_key))
    topics = _load(s, sorted(wanted), lock)
    seen = {t.id: (t.size, t.last_at) for t in topics.values()}
    placed: dict[int, int] = {}  # appeal id -> topic id (provisional when negative)
    bands: list[tuple[int, int]] = []  # key, topic id
    for m in members:
        best: tuple[float, _Topic] | None = None
        for topic_id in _top(m.keys, by_key):
            topic = topics.get(topic_id)
            if topic is None or topic.last_at < m.at - WINDOW:
                continue
            score = 0.0
            for _, grams in topic.reps:
                result.comparisons += 1
                score = max(score, similarity(m.grams, grams))
            if score >= SIMILARITY and (best is None or score > best[0]):
                best = (score, topic)
        if best is None:
            topic = _Topic(-(len(topics) + 1), m.county, m.category, m.appeal_id, 0, m.at,
                           m.at)
            topics[topic.id] = topic
            result.topics_created += 1
            nearest = 0.0
        else:
            nearest, topic = best
        topic.size += 1
        topic.last_at = max(topic.last_at, m.at)
        topic.changed = True
        placed[m.appeal_id] = topic.id
        if m.keys and (not topic.reps or (nearest < DISTINCT and len(topic.reps) < MAX_REPS)):
            topic.reps.append((m.appeal_id, m.grams))
            bands += [(k, topic.id) for k in m.keys]
            for key in m.keys:
                by_key.setdefault(key, set()).add(topic.id)
    return _Plan(topics, placed, bands, result, seen, newest)


def _top(keys: list[int], by_key: dict[int, set[int]]) -> list[int]:
    """The ``MAX_CANDIDATES`` topics sharing most band keys (ties: lowest id)."""
    shared: dict[int, int] = {}
    for key in keys:
        for topic_id in by_key.get(key, ()):
            shared[topic_id] = shared.get(topic_id, 0) + 1
    return sorted(shared, key=lambda t: (-shared[t], t))[:MAX_CANDIDATES]


def _write_plan(s: Session, plan: _Plan) -> None:
    """One multi-row statement per table."""
    real = _write(s, plan.topics)
    if plan.placed:
        s.execute(update(Appeal), [{"id": a, "topic_id": real[t]}
                                   for a, t in plan.placed.items()])
    if plan.bands:
        s.execute(insert(TopicBand.__table__),  # type: ignore[arg-type]
                  [{"key": k, "topic_id": real[t]} for k, t in plan.bands])


def _candidates(s: Session, members: list[_Member]) -> dict[int, set[int]]:
    """Band key -> topics fed within the window that share it: one query, the keys
    passed as one value (a JSON array on SQLite, an array on PostgreSQL) rather than
    thousands of bound parameters."""
    earliest = min(m.at for m in members) - WINDOW
    keys = sorted({k for m in members for k in m.keys})
    if not keys:
        return {}
    if is_postgres(s):
        wanted = TopicBand.key == func.any(bindparam("keys", keys, type_=ARRAY(BigInteger)))
    else:
        wanted = TopicBand.key.in_(text("SELECT value FROM json_each(:keys)").bindparams(
            keys=json.dumps(keys)).columns(column("value", BigInteger)))
    by_key: dict[int, set[int]] = {}
    for key, topic_id in s.execute(
            select(TopicBand.key, TopicBand.topic_id)
            .join(Topic, Topic.id == TopicBand.topic_id)
            .where(wanted, Topic.last_at >= earliest)):
        by_key.setdefault(key, set()).add(topic_id)
    return by_key


def _load(s: Session, ids: list[int], lock: bool = False) -> dict[int, _Topic]:
    """The candidate topics with their representatives' bigrams."""
    if not ids:
        return {}
    query = select(Topic).where(Topic.id.in_(ids)).order_by(Topic.id)
    if lock and is_postgres(s):  # two placers never both add to one topic's size
        query = query.with_for_update()
    rows = s.execute(query).scalars().all()
    rep_ids = sorted({r for t in rows for r in t.reps})
    texts = {aid: bigrams(t or "", b or "") for aid, t, b in s.execute(
        select(Appeal.id, Appeal.title, func.substr(Appeal.body, 1, TEXT_CHARS))
        .where(Appeal.id.in_(rep_ids)))}
    return {t.id: _Topic(t.id, t.county_code, t.category, t.original_appeal_id, t.size,
                         t.first_at, t.last_at, [(r, texts[r]) for r in t.reps if r in texts])
            for t in rows if t.id is not None}


def _write(s: Session, topics: dict[int, _Topic]) -> dict[int, int]:
    """Insert the batch's new topics and update the others; provisional -> real ids."""
    fresh = sorted((t for t in topics.values() if t.id < 0), key=lambda t: -t.id)
    real = {t.id: t.id for t in topics.values() if t.id > 0}
    if fresh:
        table = Topic.__table__
        ids = s.scalars(insert(table).returning(  # type: ignore[attr-defined]
            table.c.id, sort_by_parameter_order=True), [
            {"original_appeal_id": t.original, "county_code": t.county,
             "category": t.category, "size": t.size, "first_at": t.first_at,
             "last_at": t.last_at, "reps": [r for r, _ in t.reps]} for t in fresh]).all()
        real.update({t.id: i for t, i in zip(fresh, ids, strict=True)})
    changed = [{"id": t.id, "size": t.size, "last_at": t.last_at,
                "reps": [r for r, _ in t.reps]} for t in topics.values() if t.id > 0 and
               t.changed]
    if changed:
        s.execute(update(Topic), changed)
    return real


def prune(session: Session, now: datetime, limit: int = 20_000) -> int:
    """Forget the band keys of topics not fed for two windows: no appeal can join them
    any more, so they only cost space (the topics and their appeals stay)."""
    stale = select(Topic.id).where(Topic.last_at < now - 2 * WINDOW)
    ids = list(session.scalars(select(TopicBand.id).where(TopicBand.topic_id.in_(stale))
                               .limit(limit)))
    if ids:
        session.execute(delete(TopicBand).where(TopicBand.id.in_(ids)))
    return len(ids)


def backlog_size(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(TopicBacklog)) or 0)
