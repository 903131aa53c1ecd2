"""One matter, two clusters: a cluster joins the active surge that tells the same thing.

Callers word a matter in many ways; those who word it unlike the surge's
representatives start a cluster of their own, which can pass the threshold too, and
operators would then see two banners for one burst main. Before a surge is raised,
its cluster is compared with the active surges of the same place, a few texts each
(the originals and representatives), so the check costs the same whatever their
size. When one tells the same matter (3-gram Jaccard >= TWIN), the cluster joins it:
its members move to the surge's cluster, its carrying case is merged into the
surge's, and its representatives become the surge cluster's, so later callers who
word it that way join the surge directly. That is one pass over the joining
cluster's members, once, in the pipeline's transaction.

Two pipelines never raise two surges for one matter at the same moment: on
PostgreSQL raising takes an advisory lock, so the second waits for the first to
commit and then finds its surge here (SQLite writers are one at a time anyway).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from hub.db import is_postgres
from hub.dedupe import RECENT_REPS, grams_of
from hub.models import Appeal, AppealBand, AppealCluster, Case, CaseEvent, Surge
from hub.textsim import jaccard

TWIN = 0.45  # looser than a duplicate (0.6): the same matter told otherwise
MAX_ABSORB = 2000  # a cluster this large is a matter of its own by now
ACTIVE_CHECKED = 10  # active surges of one place compared, newest first
MERGEABLE = ("received", "triage", "returned", "assigned", "signed")


def find_twin(session: Session, cluster: Any, county_code: str | None) -> Any | None:
    """The active surge of the same place whose matter this cluster tells, if any."""
    place = Surge.county_code.is_(None) if county_code is None \
        else Surge.county_code == county_code
    surges = session.execute(
        select(Surge.id, Surge.cluster_id, Surge.case_id, Surge.title,
               AppealCluster.original_appeal_id, AppealCluster.reps)
        .join(AppealCluster, AppealCluster.id == Surge.cluster_id)
        .where(Surge.state == "active", place, Surge.cluster_id != cluster.id)
        .order_by(Surge.raised_at.desc()).limit(ACTIVE_CHECKED)).all()
    if not surges:
        return None
    own = [cluster.original_appeal_id, *cluster.reps][:1 + RECENT_REPS]
    theirs = {s.id: [s.original_appeal_id, *(s.reps or [])][:1 + RECENT_REPS] for s in surges}
    wanted = sorted({*own, *(a for ids in theirs.values() for a in ids)})
    grams = {aid: grams_of(title, body) for aid, title, body in session.execute(
        select(Appeal.id, Appeal.title, Appeal.body).where(Appeal.id.in_(wanted)))}
    mine = [grams[a] for a in own if a in grams]
    for s in surges:
        other = [grams[a] for a in theirs[s.id] if a in grams]
        if any(jaccard(x, y) >= TWIN for x in mine for y in other):
            return s
    return None


def absorb(session: Session, cluster: Any, twin: Any, now: datetime) -> bool:
    """Move ``cluster`` into the surge ``twin``'s cluster; False when another pipeline
    holds the surge's cluster (a later batch tries again: waiting here could deadlock
    with the locks this batch already holds)."""
    locked = select(AppealCluster.id, AppealCluster.original_appeal_id, AppealCluster.reps,
                    AppealCluster.last_at).where(AppealCluster.id == twin.cluster_id)
    if is_postgres(session):
        locked = locked.with_for_update(skip_locked=True)
    target = session.execute(locked).first()
    if target is None:
        return False
    session.execute(update(Appeal).where(Appeal.cluster_id == cluster.id).values(
        cluster_id=target.id, duplicate_of_id=target.original_appeal_id)
        .execution_options(synchronize_session=False))
    merged = [*(target.reps or []), cluster.original_appeal_id, *cluster.reps]
    keep = merged[-RECENT_REPS:]
    dropped = [r for r in merged if r not in keep]
    if dropped:
        session.execute(delete(AppealBand).where(AppealBand.appeal_id.in_(dropped)))
    session.execute(update(AppealCluster).where(AppealCluster.id == target.id).values(
        size=AppealCluster.size + cluster.size, reps=keep,
        last_at=max(target.last_at, cluster.last_at))
        .execution_options(synchronize_session=False))
    # the emptied cluster stays, pointing at the surge's case: a pipeline that gave it
    # members a moment ago (before this commit) still links them to the right case
    session.execute(update(AppealCluster).where(AppealCluster.id == cluster.id).values(
        size=0, reps=[], case_id=twin.case_id).execution_options(synchronize_session=False))
    _merge_carrier(session, cluster, twin, now)
    return True


def _merge_carrier(session: Session, cluster: Any, twin: Any, now: datetime) -> None:
    """Merge the cluster's carrying case into the surge's, unless someone is working
    on it in a way a merge would undo (replied, closed) or changed it just now."""
    if cluster.case_id is None or cluster.case_id == twin.case_id:
        return
    row = session.execute(select(Case.state, Case.version, Case.unit_id)
                          .where(Case.id == cluster.case_id)).first()
    into = session.execute(select(Case.number, Case.state)
                           .where(Case.id == twin.case_id)).first()
    if row is None or into is None or row.state not in MERGEABLE:
        return
    done = session.execute(
        update(Case).where(Case.id == cluster.case_id, Case.version == row.version)
        .values(state="merged", merged_into_id=twin.case_id, version=row.version + 1,
                updated_at=now).execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return
    number = session.scalar(select(Case.number).where(Case.id == cluster.case_id))
    session.execute(insert(CaseEvent.__table__), [  # type: ignore[arg-type]
        {"case_id": cluster.case_id, "at": now, "actor": "dedupe", "action": "merge",
         "from_state": row.state, "to_state": "merged", "unit_id": row.unit_id,
         "note": f"并入 {into.number}"},
        {"case_id": cluster.case_id, "at": now, "actor": "dedupe", "action": "duplicate",
         "from_state": "merged", "to_state": "merged", "unit_id": None,
         "note": f"同一热点事件（{twin.title}）的另一组来电 {cluster.size} 位，并入 {into.number}"},
        {"case_id": twin.case_id, "at": now, "actor": "dedupe", "action": "surge",
         "from_state": into.state, "to_state": into.state, "unit_id": None,
         "note": f"合并同一事项的另一组来电 {cluster.size} 位（原承办工单 {number}）"}])
