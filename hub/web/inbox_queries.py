"""The inbox's reads: filtered, searched, sorted case lists, their count and export
(one case in full: hub/web/case_queries.py).

The same ``Filters`` serve the page, the JSON API and the exports, so what a user
exports is exactly what they were looking at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, text
from sqlalchemy.orm import Session

from hub import search
from hub.lifecycle.actions import AWAITING_DISPATCH
from hub.lifecycle.calendar import WorkCalendar
from hub.lifecycle.states import (
    CALLBACK_PENDING_SQL,
    LATE_SQL,
    OPEN_WORK,
    OPEN_WORK_SQL,
    STATES,
    state_label,
)
from hub.lifecycle.warnings import share_used
from hub.models import Appeal, Case, SavedView, Source, Unit, utcnow
from hub.privacy import mask_name, mask_phone, mask_text
from hub.security.text import parse_id
from hub.web.access import may_see_contact, scoped
from hub.web.auth import Staff

VIEWS = {
    "all": "全部",
    "triage": "待分拨",
    "mine": "待办理",
    "late": "临期/超期",
    "supervise": "督办关注",
    "callback": "待回访",
    "arbitration": "退单仲裁",
    "approvals": "待审批",
    "urged": "多次催办",
    "flagged": "答复质检",
}
#: the tabs each role's inbox shows (any view can still be asked for by its name)
ROLE_VIEWS = {
    "operator": ("all", "callback"),
    "dispatcher": ("all", "triage", "arbitration", "late", "supervise"),
    "unit": ("all", "mine", "late"),
    "supervisor": ("all", "supervise", "approvals", "urged", "flagged", "late", "arbitration",
                   "triage"),
}
SORTS = {"newest": "最新", "deadline": "按期限", "oldest": "最早"}
FOLLOW_UP_SHOWN = timedelta(days=30)
COUNT_CAP = 1_000  # beyond this the page says "1000+": counting a million rows is slow
SEARCH_COUNT_CAP = 100
SEARCH_WINDOW = 200_000
DUE_LABELS = {"ok": "正常", "due_soon": "临期", "overdue": "超期"}
PAGE_SIZE = 50
MAX_PAGE = 10_000
MAX_EXPORT = 50_000


@dataclass(frozen=True)
class Filters:
    view: str = "all"
    state: str = ""
    due: str = ""
    channel: str = ""
    county: str = ""
    unit: str = ""
    q: str = ""
    sort: str = "newest"
    page: int = 1
    sort_chosen: bool = field(default=False, compare=False)

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Filters:
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "sort_chosen":
                continue
            raw = (query.get(f.name) or "").strip()[:100]
            if not raw:
                continue
            if f.name == "page":  # ASCII digits, bounded: the offset must fit the database
                values["page"] = parse_id(raw, maximum=MAX_PAGE) or 1
            else:
                values[f.name] = raw
        values["sort_chosen"] = "sort" in values
        filters = cls(**values)
        if filters.view not in VIEWS:
            filters = cls(**{**values, "view": "all"})
        if filters.sort not in SORTS:
            filters = cls(**{**values, "view": filters.view, "sort": "newest"})
        return filters

    @property
    def effective_sort(self) -> str:
        """Open work is read soonest-deadline first unless the user chose otherwise."""
        if not self.sort_chosen and self.view in ("mine", "late"):
            return "deadline"
        return self.sort

    def as_query(self, **changes: Any) -> dict[str, str]:
        merged = {f.name: getattr(self, f.name) for f in fields(self)
                  if f.name != "sort_chosen"} | changes
        return {k: str(v) for k, v in merged.items() if v not in ("", None)
                and not (k == "page" and v == 1)}


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# Written out, not bound: SQLite uses a partial index only when the query's WHERE
# repeats the index's predicate literally (ix_work_order_open_deadline).
OPEN_WORK_CLAUSE = text(f"work_order.{OPEN_WORK_SQL}")
LATE_CLAUSE = text(f"work_order.{LATE_SQL}")  # with OPEN_WORK_CLAUSE: ix_work_order_late_deadline


@dataclass(frozen=True)
class TextSearch:
    """How this database answers the query's words: the bigram index for words of two
    or more characters; a one-character word alone scans appeals above ``floor``."""

    dialect: str
    floor: int = 0


def _view(query: Select[Any], f: Filters) -> Select[Any]:
    """The tab's condition."""
    if f.view == "all" and f.state != "merged":
        # merged duplicates follow the case that carries them: listed on request only
        query = query.where(Case.state != "merged")
    elif f.view == "triage":
        query = query.where(Case.state.in_(AWAITING_DISPATCH))
    elif f.view == "mine":
        query = query.where(OPEN_WORK_CLAUSE)
    elif f.view == "late":
        query = query.where(OPEN_WORK_CLAUSE, LATE_CLAUSE)
    elif f.view == "supervise":
        query = query.where(or_(
            and_(Case.due_state == "overdue", Case.state.in_(OPEN_WORK)),
            and_(Case.urgent, Case.state.notin_(("closed", "merged"))),
            Case.state == "reopened", and_(Case.escalated, Case.state != "closed"),
            Case.extension_requested, Case.pause_requested,
            # 列入计划 whose planned day passed in the last 30 days (no follow-up
            # outcome is recorded yet: the case leaves the view after a month)
            Case.follow_up_at.between(utcnow() - FOLLOW_UP_SHOWN, utcnow())))
    elif f.view == "approvals":  # extension and pause requests waiting for a supervisor
        query = query.where(or_(Case.extension_requested, Case.pause_requested))
    elif f.view == "arbitration":  # returns waiting for a dispatcher's ruling
        query = query.where(Case.state == "returned")
    elif f.view == "urged":  # open work urged (催办) twice or more
        query = query.where(OPEN_WORK_CLAUSE, Case.urge_count >= 2)
    elif f.view == "flagged":  # replies sent despite the reply-quality check
        query = query.where(Case.reply_flagged)
    elif f.view == "callback":  # the operators' call-back queue (partial index)
        query = query.where(text(f"work_order.{CALLBACK_PENDING_SQL}"))
    return query


def _conditions(staff: Staff, f: Filters, query: Select[Any], joined: bool,
                text_search: TextSearch | None = None) -> Select[Any]:
    """The filters as WHERE clauses; ``joined`` says whether Appeal, Source and Unit are
    already in the query (the page) or must be joined only when a filter needs them
    (the count, which should touch as little as possible)."""
    query = scoped(query, staff)
    if not f.q.strip():  # a search looks through every case the role may see
        query = _view(query, f)
    if f.state in STATES:
        query = query.where(Case.state == f.state)
    if f.due in ("ok", "due_soon", "overdue"):
        query = query.where(Case.due_state == f.due)
    if f.county:
        query = query.where(Case.county_code == f.county)
    terms = f.q.split()[:5]
    if not joined and (terms or f.channel):
        query = query.join(Appeal, Appeal.id == Case.appeal_id)
    if f.channel:
        if not joined:
            query = query.join(Source, Source.id == Appeal.source_id)
        query = query.where(Source.name == f.channel)
    if f.unit:
        if not joined:
            query = query.join(Unit, Unit.id == Case.unit_id)
        query = query.where(Unit.code == f.unit)
    numbers = [t for t in terms if t.isdigit() and len(t) >= 10]
    if numbers:  # a case number: exact, any age
        query = query.where(Case.number.in_(numbers))
    words = [t for t in terms if t not in numbers]
    indexed = [t for t in words if search.indexable(t)]
    if indexed and text_search:
        query = query.where(search.matching(text_search.dialect, indexed))
    elif words and text_search and text_search.floor > 0:
        # a one-character word cannot use the index: read the newest SEARCH_WINDOW
        # appeals (an id range on the primary key), so a rare character costs a bounded scan
        query = query.where(Appeal.id > text_search.floor)
    for term in words:  # LIKE confirms each word on the candidates
        pattern = _like(term)
        query = query.where(or_(Appeal.title.like(pattern, escape="\\"),
                                Appeal.body.like(pattern, escape="\\")))
    if f.effective_sort == "deadline":
        # cases that have a deadline; open work is read from its partial index
        query = query.where(Case.deadline_at.is_not(None))
    return query


def text_search(session: Session, f: Filters) -> TextSearch | None:
    """How to search the query's words on this database (None: no words)."""
    words = [t for t in f.q.split()[:5] if not (t.isdigit() and len(t) >= 10)]
    if not words:
        return None
    dialect = session.get_bind().dialect.name
    if any(search.indexable(t) for t in words):
        return TextSearch(dialect)
    newest = session.scalar(select(func.max(Appeal.id))) or 0
    return TextSearch(dialect, max(0, newest - SEARCH_WINDOW))


def _filtered(staff: Staff, f: Filters, plan: TextSearch | None = None) -> Select[Any]:
    query = (select(Case, Appeal.title, Appeal.received_at, Source.title.label("channel"),
                    Unit.name.label("unit_name"), Appeal.contact_name, Appeal.contact_phone)
             .join(Appeal, Appeal.id == Case.appeal_id)
             .join(Source, Source.id == Appeal.source_id)
             .outerjoin(Unit, Unit.id == Case.unit_id))
    return _ordered(_conditions(staff, f, query, joined=True, text_search=plan), f, plan)


def _ordered(query: Select[Any], f: Filters, plan: TextSearch | None) -> Select[Any]:
    sort = f.effective_sort
    # a search is ordered by appeal (as new as its case, near enough): the database then
    # walks the index's matches in order and stops at a page, instead of sorting them all
    newest_first = Appeal.id if plan else Case.id
    if sort == "newest":
        return query.order_by(newest_first.desc())
    if sort == "oldest":
        return query.order_by(newest_first)
    return query.order_by(Case.deadline_at, Case.id)


@dataclass
class Row:
    id: int
    number: str
    title: str
    state: str
    state_label: str
    channel: str
    unit_name: str | None
    county: str | None
    category: str | None
    deadline_at: datetime | None
    days_left: int | None
    due_state: str
    urgent: bool
    confidence: float | None
    received_at: datetime
    warned: int | None = None  # % of the allowed time the last staged warning marked


def _row(case: Case, title: str, received: datetime, channel: str, unit_name: str | None,
         name: str | None, phone: str | None,
         calendar: WorkCalendar, now: datetime) -> Row:
    open_work = case.state in OPEN_WORK
    return Row(id=case.id, number=case.number, title=mask_text(title, (name, phone)),
               state=case.state,
               state_label=state_label(case.state), channel=channel,
               unit_name=unit_name, county=case.county_code, category=case.category,
               deadline_at=case.deadline_at,
               days_left=calendar.workdays_left(now, case.deadline_at)
               if open_work and case.deadline_at else None,
               due_state=case.due_state, urgent=case.urgent, confidence=case.confidence,
               received_at=received,
               warned=share_used(case, calendar.warning_stages) if open_work else None)


def list_cases(session: Session, staff: Staff, f: Filters, calendar: WorkCalendar,
               limit: int = PAGE_SIZE) -> tuple[list[Row], bool]:
    """One page of the inbox and whether there is a next page."""
    query = _filtered(staff, f, text_search(session, f)).limit(limit + 1).offset(
        (f.page - 1) * limit)
    now = utcnow()
    rows = [_row(*r, calendar=calendar, now=now) for r in session.execute(query)]
    return rows[:limit], len(rows) > limit


def count_cases(session: Session, staff: Staff, f: Filters, cap: int = COUNT_CAP) -> int:
    """How many cases match, counted up to ``cap`` + 1 (more shows as "cap+");
    a text search counts fewer: it scans text."""
    cap = min(cap, SEARCH_COUNT_CAP) if f.q.strip() else cap
    plan = text_search(session, f)
    query = _conditions(staff, f, select(Case.id), joined=False, text_search=plan)
    if plan is None:
        # ordered like the list, so the capped count walks the list's index and stops;
        # unordered, PostgreSQL seq-scanned, and concurrent scans start mid-table
        # (synchronize_seqscans): 1,001 late cases took 120 ms to find instead of 1.
        # A search's count stays unordered: its candidates come from the text index.
        query = _ordered(query, f, plan)
    sub = query.limit(cap + 1).subquery()
    return session.scalar(select(func.count()).select_from(sub)) or 0


def export_rows(session: Session, staff: Staff, f: Filters,
                viewed: list[int] | None = None) -> list[dict[str, Any]]:
    """The filtered list for CSV/XLSX, personal data masked unless the role may see it;
    ``viewed`` collects the cases exported with their contact details unmasked."""
    query = (_filtered(staff, f, text_search(session, f))
             .add_columns(Appeal.body)
             .limit(MAX_EXPORT))
    out = []
    for case, title, received, channel, unit_name, name, phone, body in session.execute(query):
        full = may_see_contact(staff, case)
        if full and viewed is not None and (name or phone or mask_text(body) != body):
            viewed.append(case.id)
        out.append({
            "工单编号": case.number, "状态": state_label(case.state),
            "渠道": channel, "受理时间": received.isoformat(timespec="minutes"),
            "标题": title if full else mask_text(title, (name, phone)),
            "内容": body if full else mask_text(body, (name, phone)),
            "分类": case.category or "", "承办单位": unit_name or "",
            "区县": case.county_code or "",
            "办理期限": case.deadline_at.isoformat(timespec="minutes") if case.deadline_at else "",
            "期限状态": DUE_LABELS.get(case.due_state, ""),
            "联系人": (name if full else mask_name(name)) or "",
            "联系电话": (phone if full else mask_phone(phone)) or "",
        })
    return out



TAB_COUNT_CAP = 99  # a tab says "99+" beyond: each count is a capped walk of an index


def tab_counts(session: Session, staff: Staff, views: tuple[str, ...]) -> dict[str, int]:
    """How many cases each queue tab holds (not 全部), up to TAB_COUNT_CAP + 1."""
    return {v: count_cases(session, staff, Filters(view=v), cap=TAB_COUNT_CAP)
            for v in views if v != "all"}


def newer_than(session: Session, staff: Staff, f: Filters, after_id: int) -> int:
    """Cases matching the filters that arrived after the newest one a page showed:
    the list's "n new" notice, without moving the rows under the user's eyes."""
    query = _conditions(staff, replace(f, q=""), select(Case.id), joined=False)
    sub = query.where(Case.id > after_id).limit(TAB_COUNT_CAP + 1).subquery()
    return session.scalar(select(func.count()).select_from(sub)) or 0


def overdue_by_unit(session: Session, limit: int = 15) -> list[tuple[str, int]]:
    """Supervisors' 督办关注: the units with the most overdue open work."""
    rows = session.execute(
        select(Unit.name, func.count()).select_from(Case).join(Unit, Unit.id == Case.unit_id)
        .where(OPEN_WORK_CLAUSE, Case.due_state == "overdue")
        .group_by(Unit.name).order_by(func.count().desc(), Unit.name).limit(limit))
    return [(name, n) for name, n in rows]


def saved_views(session: Session, user_id: int) -> list[dict[str, Any]]:
    """我的视图 (hub/web/saved_views.py), by name."""
    return [{"id": v.id, "name": v.name, "query": v.query}
            for v in session.scalars(select(SavedView).where(SavedView.user_id == user_id)
                                     .order_by(SavedView.name))]
