"""Surges as staff see and change them: the call form's banner, the surge page with
its callers, a supervisor's edits (title, prepared answer, knowledge-base article,
ending or resuming it). Every read is bounded (a page of callers, a few banners);
every change writes its audit row on the carrying case in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.lifecycle.service import CaseError, Conflict, NotFound
from hub.lifecycle.states import state_label
from hub.models import Appeal, AppealCluster, Case, CaseEvent, Rating, Reply, Source, Surge, utcnow
from hub.privacy import mask_name, mask_phone, mask_text
from hub.surge.answers import PreparedAnswer, prepared_answer

BANNERS = 5  # active surges shown on the call form and the inbox
CALLERS_PAGE = 50


@dataclass(frozen=True)
class SurgeCard:
    id: int
    title: str
    label: str
    county_code: str | None
    category: str | None
    state: str
    raised_at: datetime
    callers: int
    last_at: datetime
    case_id: int
    case_number: str
    case_state: str
    answer: PreparedAnswer
    reply: str | None  # the carrying case's latest reply, masked
    version: int


def _cards(session: Session, query: Any) -> list[SurgeCard]:
    rows = session.execute(query.add_columns(AppealCluster.size, AppealCluster.last_at,
                                             Case.number, Case.state)
                           .join(AppealCluster, AppealCluster.id == Surge.cluster_id)
                           .join(Case, Case.id == Surge.case_id)).all()
    case_ids = [r[0].case_id for r in rows]
    replies: dict[int, str] = {}
    if case_ids:
        for case_id, body in session.execute(
                select(Reply.case_id, Reply.body).where(Reply.case_id.in_(case_ids))
                .order_by(Reply.id)):
            replies[case_id] = mask_text(body)  # the latest wins
    return [SurgeCard(s.id, s.title, s.label, s.county_code, s.category, s.state, s.raised_at,
                      size, last_at, s.case_id, number, state_label(state),
                      prepared_answer(session, s), replies.get(s.case_id), s.version)
            for s, size, last_at, number, state in rows]


def active_surges(session: Session, limit: int = BANNERS) -> list[SurgeCard]:
    """The newest active surges, for banners (call form, inbox)."""
    return _cards(session, select(Surge).where(Surge.state == "active")
                  .order_by(Surge.raised_at.desc(), Surge.id.desc()).limit(limit))


def recent_surges(session: Session, limit: int = 50) -> list[SurgeCard]:
    """Active surges first, then those ended most recently."""
    return _cards(session, select(Surge).order_by((Surge.state == "active").desc(),
                                                  Surge.raised_at.desc(), Surge.id.desc())
                  .limit(limit))


def surge_notice(session: Session, case_id: int) -> str | None:
    """What a linked caller's look-up says when their matter is a surge."""
    state = session.scalar(select(Surge.state).where(Surge.case_id == case_id).limit(1))
    if state is None:
        return None
    return ("该问题已列为热点事件，正在统一处理，处理结果将在此公布。" if state == "active"
            else "该问题曾列为热点事件，已统一处理。")


def surge_for_case(session: Session, case_id: int) -> SurgeCard | None:
    cards = _cards(session, select(Surge).where(Surge.case_id == case_id).limit(1))
    return cards[0] if cards else None


def surge_detail(session: Session, surge_id: int, see_contact: bool,
                 page: int = 1) -> dict[str, Any]:
    """The surge, one page of its callers (newest first) and how they rated."""
    cards = _cards(session, select(Surge).where(Surge.id == surge_id))
    if not cards:
        raise NotFound("找不到这个热点事件")
    card = cards[0]
    cluster_id = session.scalar(select(Surge.cluster_id).where(Surge.id == surge_id))
    page = max(1, page)
    rows = session.execute(
        select(Case.id, Case.number, Case.state, Appeal.received_at, Appeal.contact_name,
               Appeal.contact_phone, Source.title)
        .join(Appeal, Appeal.id == Case.appeal_id).join(Source, Source.id == Appeal.source_id)
        .where(Appeal.cluster_id == cluster_id)
        .order_by(Appeal.received_at.desc(), Appeal.id.desc()).limit(CALLERS_PAGE + 1)
        .offset((page - 1) * CALLERS_PAGE)).all()
    callers = [{"id": r.id, "number": r.number, "state": state_label(r.state),
                "received_at": r.received_at, "channel": r.title,
                "name": r.contact_name if see_contact else mask_name(r.contact_name),
                "phone": r.contact_phone if see_contact else mask_phone(r.contact_phone)}
               for r in rows[:CALLERS_PAGE]]
    ratings = {"满意": 0, "基本满意": 0, "不满意": 0}
    for grade, n in session.execute(
            select(Rating.grade, func.count()).join(Case, Case.id == Rating.case_id)
            .join(Appeal, Appeal.id == Case.appeal_id)
            .where(Appeal.cluster_id == cluster_id).group_by(Rating.grade)):
        ratings[grade] = ratings.get(grade, 0) + n
    return {"surge": card, "callers": callers, "page": page,
            "more": len(rows) > CALLERS_PAGE, "ratings": ratings}


def _load(session: Session, surge_id: int, expected_version: int | None) -> Surge:
    surge = session.get(Surge, surge_id)
    if surge is None:
        raise NotFound("找不到这个热点事件")
    if expected_version is not None and expected_version != surge.version:
        raise Conflict("该热点事件已被他人修改，请刷新后再试")
    return surge


def _save(session: Session, surge: Surge, actor: str, note: str, **changes: Any) -> Surge:
    """Apply ``changes`` guarded by the version; the event goes on the carrying case."""
    done = session.execute(update(Surge).where(Surge.id == surge.id,
                                               Surge.version == surge.version)
                           .values(**changes, version=surge.version + 1)
                           .execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("该热点事件已被他人修改，请刷新后再试")
    state = session.scalar(select(Case.state).where(Case.id == surge.case_id))
    session.add(CaseEvent(case_id=surge.case_id, actor=actor, action="surge_edit",
                          from_state=state, to_state=state, note=note))
    session.flush()
    session.refresh(surge)
    return surge


def edit(session: Session, surge_id: int, actor: str, title: str, answer: str,
         article_ref: str | None, expected_version: int | None = None,
         now: datetime | None = None) -> Surge:
    """A supervisor words the surge and the answer operators read out."""
    title, answer = title.strip(), answer.strip()
    article_ref = (article_ref or "").strip() or None
    if not title or len(title) > 200:
        raise CaseError("标题不能为空，且不超过200字")
    if len(answer) < 5 or len(answer) > 4000:
        raise CaseError("预设答复应为5至4000字")
    if article_ref is not None and len(article_ref) > 80:
        raise CaseError("知识库条目编号不超过80字")
    surge = _load(session, surge_id, expected_version)
    return _save(session, surge, actor, f"更新热点事件“{title}”的预设答复",
                 title=title, answer=answer, article_ref=article_ref,
                 answer_by=actor, answer_at=now or utcnow())


def end(session: Session, surge_id: int, actor: str, expected_version: int | None = None,
        now: datetime | None = None) -> Surge:
    """事件处置完毕: the banner goes; callers stay linked. A new flare raises it again."""
    surge = _load(session, surge_id, expected_version)
    if surge.state != "active":
        raise Conflict("该热点事件已结束")
    return _save(session, surge, actor, f"热点事件“{surge.title}”结束",
                 state="ended", ended_at=now or utcnow(), ended_by=actor)


def resume(session: Session, surge_id: int, actor: str,
           expected_version: int | None = None) -> Surge:
    surge = _load(session, surge_id, expected_version)
    if surge.state == "active":
        raise Conflict("该热点事件仍在进行中")
    return _save(session, surge, actor, f"热点事件“{surge.title}”恢复",
                 state="active", ended_at=None, ended_by=None)
