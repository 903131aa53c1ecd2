"""One case in full, as the case page and the staff API show it, already masked for
the staff member reading it (the inbox's lists: hub/web/inbox_queries.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.lifecycle import cohandling
from hub.lifecycle.calendar import WorkCalendar
from hub.lifecycle.states import OPEN_WORK, SYSTEM_ACTORS, action_label, state_label
from hub.models import (
    Appeal,
    Case,
    CaseEvent,
    Rating,
    Reply,
    Source,
    SourceEvent,
    Unit,
    User,
    utcnow,
)
from hub.privacy import mask_location, mask_name, mask_phone, mask_text
from hub.replies.quality import LABELS as QUALITY_LABELS
from hub.web.access import may_see_contact, require_view
from hub.web.auth import Staff


def case_detail(session: Session, staff: Staff, case_id: int,
                calendar: WorkCalendar) -> dict[str, Any]:
    """Everything the case page shows, already masked for this staff member."""
    from hub.lifecycle.service import CaseService

    case = CaseService.load(session, case_id)
    require_view(staff, case)
    appeal = session.get(Appeal, case.appeal_id)
    assert appeal is not None
    source = session.get(Source, appeal.source_id)
    unit = session.get(Unit, case.unit_id) if case.unit_id else None
    units = {u.id: u.name for u in session.scalars(select(Unit))}
    full = may_see_contact(staff, case, calling=True)
    known = (appeal.contact_name, appeal.contact_phone)

    def masked(value: str | None) -> str | None:
        return value if full or not value else mask_text(value, known)

    rows = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                .order_by(CaseEvent.id)))
    who = _actors(session, {e.actor for e in rows}, units)
    events = [{"at": e.at, "actor": who.get(e.actor, e.actor),
               "action": action_label(e.action),
               "from": state_label(e.from_state),
               "to": state_label(e.to_state),
               "unit": units.get(e.unit_id) if e.unit_id else None,
               "note": masked(e.note) or ""}
              for e in rows]
    replies = [{"at": r.at, "author": r.author, "body": masked(r.body),
                "unit": units.get(r.unit_id), "resolution": r.resolution,
                "planned_on": r.planned_on, "resolution_note": masked(r.resolution_note),
                "flags": [QUALITY_LABELS.get(f, f) for f in r.quality_flags or []],
                "override": masked(r.quality_override)}
               for r in session.scalars(select(Reply).where(Reply.case_id == case.id)
                                        .order_by(Reply.id))]
    ratings = [{"at": r.at, "grade": r.grade, "round": r.round, "channel": r.channel,
                "comment": masked(r.comment)}
               for r in session.scalars(select(Rating).where(Rating.case_id == case.id)
                                        .order_by(Rating.id))]
    now = utcnow()
    open_work = case.state in OPEN_WORK
    channel_reply, channel_updated = _channel_reply(session, appeal)
    return {
        "case": case, "state_label": state_label(case.state),
        "title": masked(appeal.title), "body": masked(appeal.body),
        "contact_name": appeal.contact_name if full else mask_name(appeal.contact_name),
        "contact_phone": appeal.contact_phone if full else mask_phone(appeal.contact_phone),
        "contact_masked": not full,
        "location": appeal.location if full else mask_location(appeal.location),
        "received_at": appeal.received_at, "channel": source.title if source else "",
        "unit": unit, "events": events, "replies": replies, "ratings": ratings,
        "cotasks": [{**t, "task": masked(t["task"]), "answer": masked(t["answer"])}
                    for t in cohandling.tasks_of_case(session, case.id)],
        "days_left": calendar.workdays_left(now, case.deadline_at)
        if open_work and case.deadline_at else None,
        "merged_into": session.get(Case, case.merged_into_id) if case.merged_into_id else None,
        "channel_reply": channel_reply if full else mask_text(channel_reply),
        "channel_updated": channel_updated,
    }


def _channel_reply(session: Session, appeal: Appeal) -> tuple[str, datetime | None]:
    """The departments' reply as the channel shows it (a board's 回复, a news app's
    replies), kept current by pulls, and when a pull last changed it."""
    extra = (appeal.raw or {}).get("extra") or {}
    text_ = extra.get("reply") if isinstance(extra.get("reply"), str) else "\n\n".join(
        f"{r.get('dept') or ''}：{r.get('content') or ''}"
        for r in extra.get("replies") or [] if isinstance(r, dict))
    updated = session.scalar(select(func.max(SourceEvent.at)).where(
        SourceEvent.appeal_id == appeal.id, SourceEvent.action == "upstream_update"))
    return text_ or "", updated



def _actors(session: Session, actors: set[str], units: dict[int, str]) -> dict[str, str]:
    """The case history's "who": a person's name with role and unit ("role:username"
    as stored), a system step by what it is (SYSTEM_ACTORS), never an internal name."""
    from hub.web.auth import ROLES

    names = {a.split(":", 1)[1] for a in actors if ":" in a and not a.startswith("system:")}
    people = {u.username: u for u in session.scalars(
        select(User).where(User.username.in_(names)))} if names else {}
    out: dict[str, str] = {}
    for actor in actors:
        if actor in SYSTEM_ACTORS:
            out[actor] = SYSTEM_ACTORS[actor]
            continue
        role, _, username = actor.partition(":")
        person = people.get(username)
        label = ROLES.get(role, "工作人员")
        if person is None:  # an account since removed, or a service call
            out[actor] = label
            continue
        unit = units.get(person.unit_id) if person.unit_id else None
        out[actor] = f"{person.display_name}（{label}{' · ' + unit if unit else ''}）"
    return out
