"""Near-duplicates and the clusters they form, at a constant cost per appeal.

Each appeal's text gets a MinHash signature (character 3-grams) and 16 band keys.
Appeals about one matter form a cluster (``appeal_cluster``): the first appeal (its
original) and every near-duplicate after it (real Jaccard similarity >= THRESHOLD
with a representative seen within WINDOW). Each member's ``appeal.cluster_id`` is
set when it is processed, so reports can aggregate matters without clustering
again; an appeal that matched nothing keeps NULL (a cluster of one).

The cost of a new appeal does not grow with the size of its cluster, whether the
cluster has 3 members or 10,000 (a burst water main: thousands of calls an hour):

- only *representatives* store band keys (``appealband``): a cluster's original and
  at most RECENT_REPS recent members, each either unlike the representatives it was
  compared with (similarity < NOVEL) or refreshing a cluster whose newest
  representative is older than REFRESH. Exact copies add no rows; a representative
  pushed out of the recent list has its keys deleted.
- a new appeal is compared only with representatives sharing a band key with it,
  at most MAX_CANDIDATES of them (those sharing the most keys first).
- nothing about a cluster is held in memory between batches.

``Assignment.comparisons`` counts the similarity computations, so a test can show
the work per appeal stays flat as a cluster grows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, delete, insert, select, update
from sqlalchemy.orm import Session

from hub.db import insert_ignoring_conflicts, is_postgres
from hub.models import Appeal, AppealBand, AppealCluster
from hub.textsim import MinHasher, band_keys, jaccard, shingles

WINDOW = timedelta(days=14)
THRESHOLD = 0.6
MIN_CHARS = 20  # shorter texts ("路灯不亮") repeat honestly; never merge on them
RECENT_REPS = 4  # representatives besides the original
NOVEL = 0.75  # a member this unlike the representatives becomes one itself
REFRESH = timedelta(days=1)  # ... as does one arriving when the newest is this old
MAX_CANDIDATES = 16  # representatives compared with one new appeal, at most
_hasher = MinHasher()


@dataclass(frozen=True)
class Fingerprint:
    appeal_id: int
    received_at: datetime
    grams: frozenset[str]
    keys: tuple[int, ...]


def grams_of(title: str, body: str) -> frozenset[str]:
    return shingles(body if len(body) >= MIN_CHARS else f"{title}{body}")


def fingerprint(appeal_id: int, received_at: datetime, title: str, body: str) -> Fingerprint:
    """Computed outside any transaction (NumPy work)."""
    grams = grams_of(title, body)
    keys = tuple(band_keys(_hasher.signature(grams))) if len(grams) >= MIN_CHARS else ()
    return Fingerprint(appeal_id, received_at, grams, keys)


@dataclass(frozen=True)
class Member:
    """An appeal of this batch that joined a cluster."""

    appeal_id: int
    cluster_id: int
    original_id: int
    score: float | None  # None: linked by an operator (pinned), not by its text


@dataclass
class Assignment:
    members: dict[int, Member] = field(default_factory=dict)  # by appeal id
    created: set[int] = field(default_factory=set)  # cluster ids created by this batch
    comparisons: int = 0  # similarity computations, for the constant-cost test
    candidates: int = 0  # representatives' band rows read

    def clusters(self) -> dict[int, list[Member]]:
        out: dict[int, list[Member]] = {}
        for m in self.members.values():
            out.setdefault(m.cluster_id, []).append(m)
        return out


@dataclass(eq=False)
class _Group:
    """A cluster as this batch sees it (an existing one, or an appeal not yet joined)."""

    cluster_id: int | None
    original_id: int
    original_at: datetime
    newest_rep_at: datetime
    recent: list[int] = field(default_factory=list)
    joined: list[tuple[int, float | None, datetime]] = field(default_factory=list)
    new_reps: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Rep:
    appeal_id: int
    received_at: datetime
    grams: frozenset[str]
    cluster_id: int | None = None


@dataclass
class ClusterPlan:
    """Which cluster each appeal of a batch joins, decided from a read of the stored
    representatives; ``apply_plan`` writes it. Planning reads only, so the pipeline
    does it before its write transaction: on SQLite the write lock (which intake
    waits for) is held for the writes alone."""

    appeal_ids: frozenset[int]
    touched: list[_Group]
    fresh: list[_Group]
    prints: dict[int, Fingerprint]
    result: Assignment


def assign_clusters(session: Session, prints: list[Fingerprint],
                    pinned: dict[int, int] | None = None) -> Assignment:
    """Put each appeal of the batch in its cluster (or leave it alone) and store what
    the next batches need: band keys of new representatives, cluster rows, and each
    member's ``cluster_id`` and ``duplicate_of_id`` (the cluster's original).

    ``pinned`` maps appeal id -> cluster id for appeals an operator linked to a matter
    (a surge) when logging the call: they join it without comparing texts.
    """
    return apply_plan(session, plan_clusters(session, prints, pinned))


def plan_clusters(session: Session, prints: list[Fingerprint],
                  pinned: dict[int, int] | None = None) -> ClusterPlan:
    """Decide, without writing, which cluster each appeal joins (see assign_clusters)."""
    pinned = pinned or {}
    result = Assignment()
    usable = sorted((p for p in prints if p.keys or p.appeal_id in pinned),
                    key=lambda p: (p.received_at, p.appeal_id))
    ids = frozenset(p.appeal_id for p in prints)
    if not usable:
        return ClusterPlan(ids, [], [], {}, result)
    reps, rep_keys = _stored_representatives(session, usable, result)
    clusters, rep_group = _groups_of(session, reps, pinned)
    batch_keys: dict[int, list[int]] = {}
    retired: set[int] = set()
    fresh: list[_Group] = []
    for p in usable:
        if p.appeal_id in pinned and pinned[p.appeal_id] in clusters:
            clusters[pinned[p.appeal_id]].joined.append((p.appeal_id, None, p.received_at))
            continue
        if not p.keys:
            continue
        scores = _similar(p, rep_keys, batch_keys, reps, retired, result)
        matched = [(rep_group[r], score) for r, score in scores.items() if score >= THRESHOLD]
        if not matched:
            group = _Group(None, p.appeal_id, p.received_at, p.received_at)
            fresh.append(group)
            _become_rep(p, group, reps, rep_group, batch_keys)
            continue
        # two clusters can tell one matter (a caller bridged them, or two pipelines began
        # it at once): the oldest draws every later member, so the other stays small
        group = min((g for g, _ in matched), key=lambda g: (g.original_at, g.original_id))
        score = max(sc for g, sc in matched if g is group)
        group.joined.append((p.appeal_id, score, p.received_at))
        if score < NOVEL or p.received_at - group.newest_rep_at > REFRESH:
            group.recent.append(p.appeal_id)
            group.new_reps.append(p.appeal_id)
            _become_rep(p, group, reps, rep_group, batch_keys)
            if len(group.recent) > RECENT_REPS:
                retired.add(group.recent.pop(0))
    touched = {id(g): g for g in rep_group.values() if g.joined}
    touched.update({id(g): g for g in clusters.values() if g.joined})
    return ClusterPlan(ids, list(touched.values()), fresh,
                       {p.appeal_id: p for p in usable}, result)


def matching_original(session: Session, title: str, body: str, now: datetime) -> int | None:
    """The original appeal of the matter an appeal with this text would join now (a
    cluster's, or a lone appeal's that would start one), read only: the operator's
    assistant asks while a call is being typed."""
    probe = fingerprint(-1, now, title, body)
    for group in plan_clusters(session, [probe]).touched:
        if any(a == -1 for a, _, _ in group.joined):
            return group.original_id
    return None


def apply_plan(session: Session, plan: ClusterPlan) -> Assignment:
    """Write a plan: cluster rows (locked, in id order), members, band keys. What was
    read may have moved on since (another pipeline's batch): representatives are
    merged with the stored ones under the lock, and a match found against a
    representative that has just been replaced is still a member of that cluster."""
    _write(session, plan.touched, plan.fresh, plan.prints, plan.result)
    return plan.result


def _stored_representatives(session: Session, usable: list[Fingerprint],
                            result: Assignment) -> tuple[dict[int, _Rep], dict[int, list[int]]]:
    """Representatives within the window sharing a band key with some appeal of the
    batch: only the MAX_CANDIDATES sharing most keys with each appeal are loaded."""
    keyed = [p for p in usable if p.keys]
    if not keyed:
        return {}, {}
    earliest = min(p.received_at for p in keyed) - WINDOW
    all_keys = sorted({k for p in keyed for k in p.keys})
    rep_keys: dict[int, list[int]] = {}
    for start in range(0, len(all_keys), 900):
        chunk = all_keys[start:start + 900]
        for key, appeal_id in session.execute(
                select(AppealBand.key, AppealBand.appeal_id)
                .where(AppealBand.key.in_(chunk), AppealBand.received_at >= earliest)):
            rep_keys.setdefault(key, []).append(appeal_id)
            result.candidates += 1
    wanted: set[int] = set()
    for p in keyed:
        shared = Counter(a for k in p.keys for a in rep_keys.get(k, ()))
        wanted.update(a for a, _ in _top(shared))
    reps: dict[int, _Rep] = {}
    ordered = sorted(wanted)
    for start in range(0, len(ordered), 500):
        for aid, at, title, body, cid in session.execute(
                select(Appeal.id, Appeal.received_at, Appeal.title, Appeal.body,
                       Appeal.cluster_id).where(Appeal.id.in_(ordered[start:start + 500]))):
            reps[aid] = _Rep(aid, at, grams_of(title, body), cid)
    return reps, rep_keys


def _top(shared: Counter[int]) -> list[tuple[int, int]]:
    """The representatives sharing most keys, newest first on ties (deterministic)."""
    return sorted(shared.items(), key=lambda kv: (-kv[1], -kv[0]))[:MAX_CANDIDATES]


def _groups_of(session: Session, reps: dict[int, _Rep], pinned: dict[int, int]
               ) -> tuple[dict[int, _Group], dict[int, _Group]]:
    """The clusters of the stored representatives and of pinned appeals (by cluster
    id), and the group each representative leads to (a lone appeal is its own)."""
    clusters: dict[int, _Group] = {}
    wanted = sorted({r.cluster_id for r in reps.values() if r.cluster_id is not None}
                    | set(pinned.values()))
    for start in range(0, len(wanted), 500):
        for cid, original, first_at, recent in session.execute(
                select(AppealCluster.id, AppealCluster.original_appeal_id,
                       AppealCluster.first_at, AppealCluster.reps)
                .where(AppealCluster.id.in_(wanted[start:start + 500]))):
            clusters[cid] = _Group(cid, original, first_at, first_at, list(recent or []))
    rep_group: dict[int, _Group] = {}
    for aid, rep in reps.items():
        group = clusters.get(rep.cluster_id) if rep.cluster_id is not None else None
        if group is None:
            group = _Group(None, aid, rep.received_at, rep.received_at)
        group.newest_rep_at = max(group.newest_rep_at, rep.received_at)
        rep_group[aid] = group
    return clusters, rep_group


def _similar(p: Fingerprint, rep_keys: dict[int, list[int]], batch_keys: dict[int, list[int]],
             reps: dict[int, _Rep], retired: set[int], result: Assignment) -> dict[int, float]:
    """Similarity to each of the (at most MAX_CANDIDATES) representatives sharing the
    most band keys with ``p``, received before it and within the window."""
    shared: Counter[int] = Counter()
    for k in p.keys:
        shared.update(rep_keys.get(k, ()))
        shared.update(batch_keys.get(k, ()))
    for rep_id in [r for r in shared if r in retired or r == p.appeal_id or r not in reps]:
        del shared[rep_id]
    scores: dict[int, float] = {}
    for rep_id, _ in _top(shared):
        rep = reps[rep_id]
        if rep.received_at > p.received_at or p.received_at - rep.received_at > WINDOW:
            continue  # only an earlier appeal, within the window, can be matched
        result.comparisons += 1
        scores[rep_id] = jaccard(p.grams, rep.grams)
    return scores


def _become_rep(p: Fingerprint, group: _Group, reps: dict[int, _Rep],
                rep_group: dict[int, _Group], batch_keys: dict[int, list[int]]) -> None:
    reps[p.appeal_id] = _Rep(p.appeal_id, p.received_at, p.grams)
    rep_group[p.appeal_id] = group
    group.newest_rep_at = max(group.newest_rep_at, p.received_at)
    for k in p.keys:
        batch_keys.setdefault(k, []).append(p.appeal_id)


def _write(session: Session, touched: list[_Group], fresh: list[_Group],
           prints: dict[int, Fingerprint], result: Assignment) -> None:
    """Cluster rows, members' appeal rows and representatives' band keys."""
    now_reps: dict[int, list[int]] = {}  # cluster id -> representatives kept
    evicted: list[int] = []
    new_rows = [g for g in touched if g.cluster_id is None]
    for g in sorted(new_rows, key=lambda g: g.original_id):
        newest = max(at for _, _, at in g.joined)
        created = insert_ignoring_conflicts(session, AppealCluster.__table__, [{
            "original_appeal_id": g.original_id, "size": 1, "first_at": g.original_at,
            "last_at": newest, "reps": [], "created_at": newest}],
            ["original_appeal_id"], [AppealCluster.__table__.c.id])
        if created:
            g.cluster_id = created[0][0]
            result.created.add(g.cluster_id)
        else:  # another pipeline made it a moment ago: join that cluster
            g.cluster_id = session.scalar(select(AppealCluster.id).where(
                AppealCluster.original_appeal_id == g.original_id))
    touched.sort(key=lambda g: g.cluster_id or 0)  # one lock order for every pipeline
    ids = [g.cluster_id for g in touched]
    current: dict[int, list[int]] = {}
    if ids:
        locked = select(AppealCluster.id, AppealCluster.reps).where(AppealCluster.id.in_(ids))
        if is_postgres(session):
            locked = locked.order_by(AppealCluster.id).with_for_update()
        current = {cid: list(r or []) for cid, r in session.execute(locked)}
    updates = []
    for g in touched:
        assert g.cluster_id is not None
        merged = current.get(g.cluster_id, []) + g.new_reps
        keep = merged[-RECENT_REPS:]
        evicted += [r for r in merged[:-RECENT_REPS] if r not in keep]
        now_reps[g.cluster_id] = keep
        updates.append({"b_id": g.cluster_id, "b_size": len(g.joined),
                        "b_last": max(at for _, _, at in g.joined), "b_reps": keep})
        for appeal_id, score, _ in g.joined:
            result.members[appeal_id] = Member(appeal_id, g.cluster_id, g.original_id, score)
    table = AppealCluster.__table__
    if updates:
        newest = bindparam("b_last", type_=table.c.last_at.type)
        session.execute(update(table).where(table.c.id == bindparam("b_id")).values(
            size=table.c.size + bindparam("b_size"), reps=bindparam("b_reps"),
            last_at=case((table.c.last_at > newest, table.c.last_at), else_=newest)), updates)
        _set_membership(session, touched, result)
    kept = {r for reps in now_reps.values() for r in reps}
    band_owners = [g.original_id for g in fresh] + [
        r for g in touched for r in g.new_reps if r in kept]
    _store_bands(session, [(k, a, prints[a].received_at)
                           for a in band_owners for k in prints[a].keys])
    stale = [r for r in evicted if r not in prints]  # stored earlier: delete their keys
    if stale:
        session.execute(delete(AppealBand).where(AppealBand.appeal_id.in_(stale)))


def _set_membership(session: Session, touched: list[_Group], result: Assignment) -> None:
    table = Appeal.__table__
    rows = [{"b_id": m.appeal_id, "b_cluster": m.cluster_id, "b_original": m.original_id}
            for m in result.members.values()]
    session.execute(update(table).where(table.c.id == bindparam("b_id")).values(
        cluster_id=bindparam("b_cluster"), duplicate_of_id=bindparam("b_original")), rows)
    originals = [{"b_id": g.original_id, "b_cluster": g.cluster_id} for g in touched
                 if g.cluster_id in result.created]
    if originals:
        session.execute(update(table).where(table.c.id == bindparam("b_id")).values(
            cluster_id=bindparam("b_cluster")), originals)


def _store_bands(session: Session, rows: list[tuple[int, int, datetime]]) -> None:
    """Sixteen rows a representative: on PostgreSQL by COPY (in this transaction),
    several times cheaper than an INSERT per row; elsewhere one executemany."""
    if not rows:
        return
    if is_postgres(session):
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(  # type: ignore[union-attr]
                "COPY appealband (key, appeal_id, received_at) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    session.execute(insert(AppealBand.__table__), [  # type: ignore[arg-type]
        {"key": k, "appeal_id": a, "received_at": at} for k, a, at in rows])
