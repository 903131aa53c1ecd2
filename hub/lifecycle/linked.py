"""Linked callers: a case merged into the one that carries its matter.

Everyone who reported a matter keeps their own case number and query code. Their
case is merged (合并) into the carrying case; their look-up then shows the carrying
case's progress and reply, and they may rate that reply once per round of handling.
Their rating is stored on their own case (the carrying case keeps one rating per
round from its own citizen), with the carrying unit, so it counts for that unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from hub.lifecycle.states import target_of
from hub.models import Case, CaseEvent, Rating, Reply, utcnow

MAX_HOPS = 10  # merges chain at most this far (a carrier merged into another, ...)


@dataclass(frozen=True)
class Link:
    """Merge ``case_id`` (opened in this transaction) into ``into_id``."""

    case_id: int
    into_id: int
    into_number: str
    into_state: str
    note: str  # why, for the caller's own record ("跨渠道重复 ...", "热点突发 ...")
    record_on_target: bool = True  # also note it on the carrying case (not in a surge)


def link_opened(session: Session, links: list[Link], actor: str = "dedupe",
                now: datetime | None = None) -> None:
    """Merge cases opened earlier in this same transaction, in three statements
    whatever their number: nobody else can have seen or changed them yet, so the
    version guard of ``CaseService._move`` has nothing to guard. Each merge still
    passes the state machine and writes its events."""
    if not links:
        return
    now = now or utcnow()
    ids = sorted({link.case_id for link in links})
    cases = {cid: (state, unit_id, number) for cid, state, unit_id, number in session.execute(
        select(Case.id, Case.state, Case.unit_id, Case.number).where(Case.id.in_(ids)))}
    table = Case.__table__
    rows, events = [], []
    for link in links:
        state, unit_id, number = cases[link.case_id]
        to_state = target_of("merge", state)
        rows.append({"b_id": link.case_id, "b_into": link.into_id})
        events += [
            {"case_id": link.case_id, "at": now, "actor": actor, "action": "merge",
             "from_state": state, "to_state": to_state, "unit_id": unit_id,
             "note": f"并入 {link.into_number}"},
            {"case_id": link.case_id, "at": now, "actor": actor, "action": "duplicate",
             "from_state": to_state, "to_state": to_state, "unit_id": None, "note": link.note}]
        if link.record_on_target:
            events.append({"case_id": link.into_id, "at": now, "actor": actor,
                           "action": "merge", "from_state": link.into_state,
                           "to_state": link.into_state,
                           "unit_id": None, "note": f"合并重复件 {number}"})
    session.execute(update(table).where(table.c.id == bindparam("b_id")).values(
        state="merged", merged_into_id=bindparam("b_into"), version=table.c.version + 1,
        updated_at=now), rows)
    session.execute(insert(CaseEvent.__table__), events)  # type: ignore[arg-type]


def carrier_of(session: Session, case: Case) -> Case:
    """The case that handles this one's matter: itself, or where its merges lead."""
    current = case
    for _ in range(MAX_HOPS):
        if current.state != "merged" or current.merged_into_id is None:
            return current
        nxt = session.get(Case, current.merged_into_id)
        if nxt is None:
            return current
        current = nxt
    return current


def may_rate(session: Session, case: Case, carrier: Case) -> bool:
    """A linked caller may rate the carrying case's reply once per round."""
    if case.id == carrier.id:
        return case.state == "replied"
    if carrier.state not in ("replied", "closed"):
        return False
    has_reply = session.scalar(select(Reply.id).where(Reply.case_id == carrier.id).limit(1))
    rated = session.scalar(select(Rating.id).where(Rating.case_id == case.id,
                                                   Rating.round == carrier.reopen_count))
    return bool(has_reply) and rated is None


def rate_as_linked(session: Session, case: Case, grade: str, comment: str | None,
                   channel: str, now: datetime | None = None,
                   solved: bool | None = None) -> Case:
    """A linked caller's 评价 of the carrying case's reply. It is counted for the unit
    that replied and noted on the caller's own case; it neither closes nor reopens the
    carrying case, which its own citizen (and supervisors) decide."""
    from hub.lifecycle.service import Conflict

    now = now or utcnow()
    carrier = carrier_of(session, case)
    if carrier.id == case.id or not may_rate(session, case, carrier):
        if session.scalar(select(Rating.id).where(Rating.case_id == case.id,
                                                  Rating.round == carrier.reopen_count)):
            raise Conflict("这次答复已经评价过了")
        raise Conflict("这件工单目前没有待评价的答复")
    session.add(Rating(case_id=case.id, unit_id=carrier.unit_id, round=carrier.reopen_count,
                       grade=grade, comment=(comment or "").strip()[:2000] or None,
                       channel=channel, at=now, solved=solved))
    note = f"{grade}（对 {carrier.number} 的答复）" + (
        f": {comment.strip()[:200]}" if comment and comment.strip() else "")
    session.add(CaseEvent(case_id=case.id, at=now, actor="citizen", action="rate",
                          from_state=case.state, to_state=case.state,
                          unit_id=carrier.unit_id, note=note))
    session.flush()
    return case
