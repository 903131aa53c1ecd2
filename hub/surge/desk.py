"""What the pipeline does with each batch's clusters, inside its transaction.

For every cluster that gained members in the batch: make sure one open case
carries the matter, link the new members' cases to it as callers, and raise a
surge when the cluster passed the threshold within the window. The work is a few
statements per batch and per cluster touched, never per member of the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from hub.config import CityConfig
from hub.db import insert_ignoring_conflicts, is_postgres
from hub.dedupe import Assignment, Member
from hub.labels import label_words
from hub.lifecycle.linked import MAX_HOPS, Link, link_opened
from hub.models import Appeal, AppealCluster, Case, CaseEvent, Surge, Unit, utcnow
from hub.surge.absorb import MAX_ABSORB, absorb, find_twin
from hub.surge.answers import default_answer

DESK_SOURCES = ("hotline-desk",)  # where an operator may link a call to a surge
RAISE_LOCK = 7_230_022  # PostgreSQL advisory lock id, held while raising a surge
NOTED_ON_CARRIER = 50  # merges noted on the carrying case itself, at most (its record stays
# readable: a matter with thousands of callers shows their count, not thousands of rows)
ENDED_STATES = ("closed", "merged")  # a carrier in these no longer carries the matter


@dataclass
class _Carrier:
    id: int
    number: str
    state: str
    unit_id: int | None
    county_code: str | None
    category: str | None
    merged_into_id: int | None


@dataclass
class _Cluster:
    id: int
    original_appeal_id: int
    case_id: int | None
    size: int
    last_at: datetime
    reps: list[int]
    category: str | None


@dataclass
class SettleResult:
    linked: int = 0
    raised: int = 0


class SurgeDesk:
    def __init__(self, config: CityConfig) -> None:
        self.config = config
        self.spec = config.routing.surge

    # -- before dedupe ----------------------------------------------------------------------
    @staticmethod
    def pinned(session: Session, appeals: list[Any]) -> dict[int, int]:
        """Calls an operator linked to an active surge on the call form: appeal id ->
        the surge's cluster. ``raw`` is written by the hub itself for desk calls (the
        intake API cannot set these keys), and the surge must still be active."""
        wanted: dict[int, int] = {}
        for a in appeals:
            raw = a.raw if isinstance(a.raw, dict) else {}
            sid = raw.get("surge_id")
            if raw.get("entered_by") in DESK_SOURCES and isinstance(sid, int):
                wanted[a.id] = sid
        if not wanted:
            return {}
        active = dict(session.execute(
            select(Surge.id, Surge.cluster_id).where(Surge.id.in_(sorted(set(wanted.values()))),
                                                     Surge.state == "active")).all())
        return {aid: active[sid] for aid, sid in wanted.items() if sid in active}

    # -- after the batch's cases are open ---------------------------------------------------
    def settle(self, session: Session, case_of_appeal: dict[int, int], assignment: Assignment,
               now: datetime | None = None) -> SettleResult:
        result = SettleResult()
        groups = assignment.clusters()
        if not groups:
            return result
        now = now or utcnow()
        cluster_ids = sorted(groups)
        c = AppealCluster
        clusters = {r.id: _Cluster(r.id, r.original_appeal_id, r.case_id, r.size, r.last_at,
                                   list(r.reps or []), r.category) for r in session.execute(
            select(c.id, c.original_appeal_id, c.case_id, c.size, c.last_at, c.reps, c.category)
            .where(c.id.in_(cluster_ids)))}
        surges = {s.cluster_id: s for s in session.scalars(
            select(Surge).where(Surge.cluster_id.in_(cluster_ids)))}
        carriers = self._carriers(session, clusters.values(), case_of_appeal)
        links: list[Link] = []
        for cid in cluster_ids:
            cluster = clusters.get(cid)
            if cluster is None:  # cannot happen unless a row was removed by hand
                continue
            surge = surges.get(cid)
            carrier = carriers.get(cid)
            for member in sorted(groups[cid], key=lambda m: m.appeal_id):
                own = case_of_appeal.get(member.appeal_id)
                if own is None:
                    continue
                if carrier is None or carrier.state in ENDED_STATES:
                    carrier = self._take_over(session, own, member, carrier, now)
                    continue
                in_surge = surge is not None and surge.state == "active"
                links.append(Link(own, carrier.id, carrier.number, carrier.state,
                                  _note(member, carrier, surge if in_surge else None),
                                  record_on_target=not in_surge
                                  and cluster.size <= NOTED_ON_CARRIER))
            if carrier is not None and carrier.id != cluster.case_id:
                self._carry(session, cluster, surge, carrier)
            if carrier is not None and self.spec.enabled and (
                    surge is None or surge.state != "active"):
                result.raised += self._maybe_raise(session, cluster, surge, carrier, now)

        link_opened(session, links, now=now)
        result.linked = len(links)
        return result

    def _carriers(self, session: Session, clusters: Any,
                  case_of_appeal: dict[int, int]) -> dict[int, _Carrier]:
        """The case carrying each cluster: its recorded one (following merges) or, for
        a new cluster, the original appeal's case."""
        wanted: dict[int, int] = {}
        by_original: dict[int, int] = {}
        for c in clusters:
            if c.case_id is not None:
                wanted[c.id] = c.case_id
            elif c.original_appeal_id in case_of_appeal:
                wanted[c.id] = case_of_appeal[c.original_appeal_id]
            else:
                by_original[c.original_appeal_id] = c.id
        if by_original:
            for appeal_id, case_id in session.execute(
                    select(Case.appeal_id, Case.id).where(Case.appeal_id.in_(sorted(by_original)))):
                wanted[by_original[appeal_id]] = case_id
        found = _load_cases(session, set(wanted.values()))
        out: dict[int, _Carrier] = {}
        for cid, case_id in wanted.items():
            carrier = found.get(case_id)
            for _ in range(MAX_HOPS):  # a dispatcher merged the carrier into another case
                if carrier is None or carrier.state != "merged" or not carrier.merged_into_id:
                    break
                carrier = _load_cases(session, {carrier.merged_into_id}).get(
                    carrier.merged_into_id)
            if carrier is not None:
                out[cid] = carrier
        return out

    def _take_over(self, session: Session, own: int, member: Member,
                   previous: _Carrier | None, now: datetime) -> _Carrier:
        """The carrying case was closed (the matter was answered) yet calls keep coming:
        this caller's case carries the matter from now on."""
        carrier = _load_cases(session, {own})[own]
        note = (f"与诉求 #{member.original_id} 属同一事项"
                + (f"，原承办工单 {previous.number} 已办结，本工单继续承办" if previous
                   else "，本工单承办"))
        session.execute(insert(CaseEvent.__table__), [{  # type: ignore[arg-type]
            "case_id": own, "at": now, "actor": "dedupe", "action": "duplicate",
            "from_state": carrier.state, "to_state": carrier.state, "unit_id": None,
            "note": note}])
        return carrier

    @staticmethod
    def _carry(session: Session, cluster: _Cluster, surge: Surge | None,
               carrier: _Carrier) -> None:
        session.execute(update(AppealCluster).where(AppealCluster.id == cluster.id).values(
            case_id=carrier.id, county_code=carrier.county_code, category=carrier.category)
            .execution_options(synchronize_session=False))
        cluster.case_id, cluster.category = carrier.id, carrier.category
        if surge is not None and surge.case_id != carrier.id:
            session.execute(update(Surge).where(Surge.id == surge.id).values(
                case_id=carrier.id, version=Surge.version + 1)
                .execution_options(synchronize_session=False))

    def _maybe_raise(self, session: Session, cluster: _Cluster, surge: Surge | None,
                     carrier: _Carrier, now: datetime) -> int:
        """Raise (or raise again) a surge when ``threshold`` members arrived within the
        window. The count stops at the threshold, so it costs as little for a cluster
        of 10,000 as for one of 20; calls received long ago (an import) raise nothing."""
        threshold, window = self.spec.threshold, timedelta(minutes=self.spec.window_minutes)
        if cluster.size < threshold or cluster.last_at < now - window:
            return 0
        since = cluster.last_at - window
        if surge is not None and surge.ended_at is not None:
            since = max(since, surge.ended_at)
        recent = select(Appeal.id).where(Appeal.cluster_id == cluster.id,
                                         Appeal.received_at >= since).limit(threshold)
        if (session.scalar(select(func.count()).select_from(recent.subquery())) or 0) < threshold:
            return 0
        note = (f"热点突发：{self.spec.window_minutes} 分钟内 {threshold} 件以上同一事项诉求，"
                f"已关联 {cluster.size} 位来电人")
        if is_postgres(session):
            # one raiser at a time across pipelines: a second one waits for the first to
            # commit, then sees its surge below and joins it instead of raising another
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": RAISE_LOCK})
        if surge is None:
            twin = find_twin(session, cluster, carrier.county_code) \
                if cluster.size <= MAX_ABSORB else None
            if twin is not None:  # the same matter told otherwise: join that surge
                absorb(session, cluster, twin, now)
                return 0
        if surge is not None:  # it had been ended; the matter flared up again
            session.execute(update(Surge).where(Surge.id == surge.id).values(
                state="active", ended_at=None, ended_by=None, case_id=carrier.id,
                version=Surge.version + 1).execution_options(synchronize_session=False))
            note = "再次" + note
        else:
            label = surge_label(session, cluster)
            place = self._county_name(carrier.county_code)
            unit = session.scalar(select(Unit.name).where(Unit.id == carrier.unit_id)) \
                if carrier.unit_id else None
            made = insert_ignoring_conflicts(session, Surge.__table__, [{
                "cluster_id": cluster.id, "case_id": carrier.id,
                "county_code": carrier.county_code, "category": carrier.category,
                "label": label[:100], "title": f"{place}{label}"[:200],
                "answer": default_answer(place, label, unit), "state": "active",
                "raised_at": now, "callers_at_raise": cluster.size, "version": 1}],
                ["cluster_id"], [Surge.__table__.c.id])
            if not made:
                return 0  # another pipeline raised it a moment ago
        session.execute(insert(CaseEvent.__table__), [{  # type: ignore[arg-type]
            "case_id": carrier.id, "at": now, "actor": "dedupe", "action": "surge",
            "from_state": carrier.state, "to_state": carrier.state, "unit_id": carrier.unit_id,
            "note": note}])
        return 1

    def _county_name(self, code: str | None) -> str:
        names = {c.code: c.name for c in self.config.counties}
        return names.get(code or "", "")


def _note(member: Member, carrier: _Carrier, surge: Surge | None) -> str:
    if surge is not None:
        return f"热点突发来电，关联至 {carrier.number} 统一办理"
    if member.score is None:
        return f"坐席关联至 {carrier.number} 统一办理"
    return f"跨渠道重复 (相似度 {member.score:.2f})，并入 {carrier.number}"


def _load_cases(session: Session, ids: set[int]) -> dict[int, _Carrier]:
    if not ids:
        return {}
    return {r.id: _Carrier(r.id, r.number, r.state, r.unit_id, r.county_code, r.category,
                           r.merged_into_id) for r in session.execute(
        select(Case.id, Case.number, Case.state, Case.unit_id, Case.county_code, Case.category,
               Case.merged_into_id).where(Case.id.in_(sorted(ids))))}


def surge_label(session: Session, cluster: Any, limit: int = 5) -> str:
    """The words most of a bounded number of the cluster's appeals share, made as
    every published label is (hub/labels.py: masked text, no names, no digits)."""
    ids = [cluster.original_appeal_id, *cluster.reps][:limit]
    if len(ids) < 3:
        ids += list(session.scalars(
            select(Appeal.id).where(Appeal.cluster_id == cluster.id, Appeal.id.notin_(ids))
            .order_by(Appeal.id.desc()).limit(limit - len(ids))))
    rows = session.execute(select(Appeal.title, Appeal.body, Appeal.contact_name)
                           .where(Appeal.id.in_(ids))).all()
    texts = sorted({f"{r.title} {r.body[:300]}" for r in rows})  # exact copies count once
    words = label_words(texts, [r.contact_name for r in rows])
    return "、".join(words) or cluster.category or "同一事项"
