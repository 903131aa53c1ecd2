"""The hub's tables (SQLModel). Times are timezone-aware UTC on both databases.

The flow is one way: Source -> Appeal (the queue) -> Case (工单) -> CaseEvent,
Reply, Rating. Quarantined items keep their raw bytes so nothing is lost.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from hub.lifecycle.states import (
    CALLBACK_PENDING_SQL,
    DEADLINE_SETTING_SQL,
    LATE_SQL,
    OPEN_WORK_SQL,
)


def utcnow() -> datetime:
    """Aware UTC; SQLModel's UTCDateTime stores it the same way on both databases."""
    return datetime.now(UTC)


class Unit(SQLModel, table=True):
    """A node of the 1+8+N tree: city platform, county, department, county department."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=20)
    parent_id: int | None = Field(default=None, foreign_key="unit.id")
    county_code: str | None = Field(default=None, max_length=40)
    mirrors: str | None = Field(default=None, max_length=40)
    discipline: bool = False
    active: bool = True
    # set by an admin on /admin/units, never by config: while paused the router sends
    # this unit's cases to the dispatchers instead of assigning them itself
    auto_assign_paused: bool = False
    paused_note: str | None = Field(default=None, max_length=200)


class Source(SQLModel, table=True):
    """A channel (渠道) and its pull state."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=40, unique=True)
    kind: str = Field(max_length=20)
    title: str = Field(max_length=100)
    api_key_hash: str | None = Field(default=None, max_length=64)
    enabled: bool = True
    checkpoint: str | None = Field(default=None, max_length=500)
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    paused_until: datetime | None = None
    consecutive_failures: int = 0
    # the last pull finished but may have skipped items (max_pages, a feed that moved
    # on): cleared by the next clean pull, so `hub sources` shows it until then
    last_warning: str | None = Field(default=None, sa_column=Column(Text))
    last_warning_at: datetime | None = None


class Appeal(SQLModel, table=True):
    """One item in the durable queue, whatever its channel (诉求/留言/来电)."""

    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_appeal_source_external"),
        Index("ix_appeal_state_id", "state", "id"),
        # a caller's earlier appeals by phone (the operator's assistant)
        Index("ix_appeal_contact_phone", "contact_phone"),
        # appeals with a topic, by time: the weekly hot-issue report's aggregation
        Index("ix_appeal_received_topic", "received_at", "topic_id",
              sqlite_where=text("topic_id IS NOT NULL"),
              postgresql_where=text("topic_id IS NOT NULL")),
        # members of clusters only: intake inserts (cluster_id NULL) pay nothing for it
        Index("ix_appeal_cluster_at", "cluster_id", "received_at",
              sqlite_where=text("cluster_id IS NOT NULL"),
              postgresql_where=text("cluster_id IS NOT NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id")
    external_id: str = Field(max_length=128)
    received_at: datetime
    created_at: datetime = Field(default_factory=utcnow)
    title: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=30)
    location: str | None = Field(default=None, max_length=200)
    votes: int = 0
    raw: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    state: str = Field(default="queued", max_length=12)  # queued | processing | done
    lease_until: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=64)
    attempts: int = 0
    duplicate_of_id: int | None = Field(default=None, foreign_key="appeal.id")
    # set when the citizen's personal data was erased (on request) or its contact
    # details expired (retention); the retention job skips appeals already done
    anonymised_at: datetime | None = None
    # the matter (cluster of near-duplicates) this appeal belongs to, set when it is
    # processed; NULL: a cluster of one. No foreign key: appeal_cluster already points
    # at appeal and work_order, and a cycle of keys cannot be created or truncated simply
    cluster_id: int | None = None
    # the matter (hub/topics.py) this appeal is about, looser than its cluster: what
    # the weekly hot-issue report counts; set by the topic job after the case opens
    topic_id: int | None = None


class QuarantinedItem(SQLModel, table=True):
    """An item that could not be parsed: raw bytes and reason, replayable later."""

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    external_id: str | None = Field(default=None, max_length=128)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    replayed_at: datetime | None = None


class SourceEvent(SQLModel, table=True):
    """The trail of a channel's items outside the case audit: an appeal updated by its
    channel (a reply added upstream), a quarantined item replayed, downloaded again
    or recovered by a later pull, a source reset. Operators' actions name who did them."""

    __table_args__ = (Index("ix_sourceevent_source_at", "source_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id")
    appeal_id: int | None = Field(default=None, foreign_key="appeal.id", index=True)
    item_id: int | None = Field(default=None, foreign_key="quarantineditem.id")
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=60)
    action: str = Field(max_length=30)  # upstream_update | replay | refetch | recovered | reset
    note: str | None = Field(default=None, sa_column=Column(Text))
    data: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class Case(SQLModel, table=True):
    """A work order (工单): the routed, tracked handling of one appeal."""

    __tablename__ = "work_order"
    __table_args__ = (
        Index("ix_work_order_unit_state", "unit_id", "state"),
        Index("ix_work_order_state_deadline", "state", "deadline_at"),
        Index("ix_work_order_deadline", "deadline_at", "id"),
        Index("ix_work_order_unit_id", "unit_id", "id"),
        # open work by deadline: the inbox's 待办理/临期 views and the deadline check
        Index("ix_work_order_open_deadline", "deadline_at",
              sqlite_where=text(OPEN_WORK_SQL), postgresql_where=text(OPEN_WORK_SQL)),
        # the 临期/超期 view reads only late open work, however much open work there is
        Index("ix_work_order_late_deadline", "deadline_at", "id",
              sqlite_where=text(f"{OPEN_WORK_SQL} AND {LATE_SQL}"),
              postgresql_where=text(f"{OPEN_WORK_SQL} AND {LATE_SQL}")),
        # the operators' 待回访 queue, by when the call is due
        Index("ix_work_order_callback_due", "callback_due_at",
              sqlite_where=text(CALLBACK_PENDING_SQL),
              postgresql_where=text(CALLBACK_PENDING_SQL)),
        # the staged-warning check: open work whose next warning is due
        Index("ix_work_order_next_warning", "next_warning_at",
              sqlite_where=text(OPEN_WORK_SQL), postgresql_where=text(OPEN_WORK_SQL)),
        # a unit's 待办理 view: its open work by deadline
        Index("ix_work_order_unit_open_deadline", "unit_id", "deadline_at",
              sqlite_where=text(OPEN_WORK_SQL), postgresql_where=text(OPEN_WORK_SQL)),
        # cases changed since a moment (rankings: what may have been open then)
        Index("ix_work_order_updated_created", "updated_at", "created_at"),
        # the router's dispatch quality by week (hub/dispatch_quality.py)
        Index("ix_work_order_routed_created", "created_at",
              sqlite_where=text("route_model IS NOT NULL"),
              postgresql_where=text("route_model IS NOT NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=24, unique=True)
    appeal_id: int = Field(foreign_key="appeal.id", unique=True)
    state: str = Field(max_length=20, index=True)
    category: str | None = Field(default=None, max_length=40)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    county_code: str | None = Field(default=None, max_length=40)
    confidence: float | None = None
    # the classifier version that decided the first dispatch (None: a rule or no model)
    route_model: str | None = Field(default=None, max_length=40)
    route_category: str | None = Field(default=None, max_length=40)  # what it predicted
    suggestions: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    urgent: bool = False
    urgent_terms: list[str] | None = Field(default=None, sa_column=Column(JSON))
    hide_identity: bool = False
    # units a misconduct report names (it never goes to them); see hub/whistleblower.py
    accused_units: list[str] | None = Field(default=None, sa_column=Column(JSON))
    difficulty: str = Field(default="normal", max_length=12)
    deadline_at: datetime | None = None
    due_state: str = Field(default="ok", max_length=12)  # ok | due_soon | overdue
    urge_count: int = 0
    last_urged_at: datetime | None = None
    escalated: bool = False
    query_code: str = Field(max_length=12)
    reopen_count: int = 0
    return_count: int = 0
    # a return (退回) waiting for a dispatcher's ruling (hub/lifecycle/arbitration.py):
    # its reason code and the code of the unit the returning unit believes responsible
    return_code: str | None = Field(default=None, max_length=20)
    return_unit: str | None = Field(default=None, max_length=40)
    extension_requested: bool = False
    # a paused clock (挂起, hub/lifecycle/pauses.py): requested with a reason, granted by
    # a supervisor; while paused there is no deadline and ``pause_left_days`` keeps the
    # working time that was left; ``paused_days`` adds up every pause the case had
    pause_requested: bool = False
    pause_kind: str | None = Field(default=None, max_length=40)
    paused_at: datetime | None = None
    pause_left_days: float | None = None
    paused_days: float = 0.0
    # a reply 列入计划: the end of the planned day, when the supervisors follow it up
    follow_up_at: datetime | None = None
    # 回访 (hub/lifecycle/callbacks.py): pending after a reply, done when rated,
    # unreached after the configured unanswered calls
    callback_state: str | None = Field(default=None, max_length=12)
    callback_due_at: datetime | None = None
    callback_attempts: int = 0
    # its latest reply was sent despite the reply-quality check's flags (答复质检 view)
    reply_flagged: bool = False
    # staged warnings (分级预警, hub/lifecycle/warnings.py): when the current deadline
    # was set, how many stages have been sent, and when the next one is due
    clock_started_at: datetime | None = None
    warning_stage: int = 0
    next_warning_at: datetime | None = None
    merged_into_id: int | None = Field(default=None, foreign_key="work_order.id")
    created_at: datetime = Field(default_factory=utcnow)
    # every change to a case moves it (CaseService, the deadline check): rankings find
    # the cases that may have been open at a past moment by it
    updated_at: datetime = Field(default_factory=utcnow)
    assigned_at: datetime | None = None
    first_reply_at: datetime | None = None
    closed_at: datetime | None = None
    version: int = 1


class CaseEvent(SQLModel, table=True):
    """The audit trail: who did what to a case, when, from which state to which.

    Each event also keeps the facts as they stood once it happened: the case's reply
    deadline (``deadline_at``) and, for an assignment, the time by which the unit had
    to sign (``sign_deadline_at``). Rankings read these, never the case's current
    values, so re-marking an old case later cannot change a closed period.
    """

    __table_args__ = (
        # a period's events by action, covering the unit and case: counted without
        # reading the table
        Index("ix_caseevent_at_action", "at", "action", "unit_id", "case_id"),
        # obligations by the day they fall due: 应办结 for a period is a range of this
        Index("ix_caseevent_deadline_set", "deadline_at",
              sqlite_where=text(DEADLINE_SETTING_SQL),
              postgresql_where=text(DEADLINE_SETTING_SQL)),
        Index("ix_caseevent_sign_deadline", "sign_deadline_at",
              sqlite_where=text("sign_deadline_at IS NOT NULL"),
              postgresql_where=text("sign_deadline_at IS NOT NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="work_order.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=60)
    action: str = Field(max_length=30)
    from_state: str | None = Field(default=None, max_length=20)
    to_state: str | None = Field(default=None, max_length=20)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    note: str | None = Field(default=None, sa_column=Column(Text))
    deadline_at: datetime | None = None
    sign_deadline_at: datetime | None = None


class Reply(SQLModel, table=True):
    """A unit's answer to the citizen (答复)."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="work_order.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    author: str = Field(max_length=60)
    body: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(default_factory=utcnow)
    # how the case ended (hub/lifecycle/resolutions.py); None on replies before them
    resolution: str | None = Field(default=None, max_length=12)
    planned_on: date | None = None
    resolution_note: str | None = Field(default=None, max_length=500)
    # 答复质检 (hub/replies/quality.py): the rules it broke, and the unit's reason for
    # sending it anyway
    quality_flags: list[str] | None = Field(default=None, sa_column=Column(JSON))
    quality_override: str | None = Field(default=None, max_length=300)


class Rating(SQLModel, table=True):
    """A citizen's 满意/基本满意/不满意 for one round of handling."""

    __table_args__ = (UniqueConstraint("case_id", "round", name="uq_rating_case_round"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="work_order.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    round: int = 0
    grade: str = Field(max_length=8)
    solved: bool | None = None  # 是否解决, asked beside the grade; None: not asked
    comment: str | None = Field(default=None, sa_column=Column(Text))
    channel: str = Field(default="web", max_length=20)
    at: datetime = Field(default_factory=utcnow)


class UnitEvaluation(SQLModel, table=True):
    """A QR-code evaluation of a unit (扫码评议) on three aspects."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    responsibility: str = Field(max_length=8)
    efficiency: str = Field(max_length=8)
    conduct: str = Field(max_length=8)
    comment: str | None = Field(default=None, sa_column=Column(Text))
    client_hash: str = Field(max_length=64, index=True)  # keyed hash of the client address
    device_hash: str | None = Field(default=None, max_length=64)  # keyed hash of the device id
    case_id: int | None = Field(default=None, foreign_key="work_order.id")
    at: datetime = Field(default_factory=utcnow)
    # why the evaluation looked like vote-stuffing; flagged ones count in rankings only
    # once a supervisor accepted them (hub/lifecycle/evaluations.py)
    flag: str | None = Field(default=None, max_length=40, index=True)
    accepted_by: str | None = Field(default=None, max_length=60)
    accepted_at: datetime | None = None


class User(SQLModel, table=True):
    """A staff account; passwords are argon2 hashes."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=60, unique=True)
    display_name: str = Field(max_length=60)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=20)  # operator | dispatcher | unit | supervisor | admin
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    head: bool = False  # 单位负责人: receives the head's stage of staged warnings
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class CoTask(SQLModel, table=True):
    """A co-handling sub-task (协办): one unit helps the lead unit (主办, the case's
    unit) with part of a case and answers the lead, never the citizen
    (hub/lifecycle/cohandling.py)."""

    __tablename__ = "cohandling"
    __table_args__ = (Index("ix_cohandling_unit_state", "unit_id", "state", "deadline_at"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="work_order.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    task: str = Field(max_length=500)
    deadline_at: datetime
    state: str = Field(default="open", max_length=12)  # open | answered
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answered_at: datetime | None = None
    answered_by: str | None = Field(default=None, max_length=80)
    created_at: datetime = Field(default_factory=utcnow)


class Article(SQLModel, table=True):
    """A knowledge-base article (知识库): what operators answer callers with directly
    (hub/knowledge/); kept by its owning unit, valid for a time, reviewed by a date."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    category: str | None = Field(default=None, max_length=40)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    valid_from: date | None = None
    valid_to: date | None = None
    review_on: date | None = None
    version: int = 1
    updated_by: str = Field(max_length=80)
    updated_at: datetime = Field(default_factory=utcnow)


class ArticleRevision(SQLModel, table=True):
    """Every saved version of an article, for its history."""

    __tablename__ = "article_revision"
    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    version: int
    title: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    category: str | None = Field(default=None, max_length=40)
    valid_from: date | None = None
    valid_to: date | None = None
    review_on: date | None = None
    edited_by: str = Field(max_length=80)
    at: datetime = Field(default_factory=utcnow)


class ReplyTemplate(SQLModel, table=True):
    """A unit's reply template (答复模板) for a category and an ending, with
    placeholders filled on the case page (hub/replies/templates.py)."""

    __tablename__ = "reply_template"
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    name: str = Field(max_length=60)
    category: str | None = Field(default=None, max_length=40)
    resolution: str | None = Field(default=None, max_length=12)
    body: str = Field(max_length=4000)
    updated_by: str = Field(max_length=80)
    updated_at: datetime = Field(default_factory=utcnow)


class Reminder(SQLModel, table=True):
    """One staged warning (分级预警) sent about a case: to the unit's handlers, its
    head or the supervisors; read in each user's 我的提醒."""

    __table_args__ = (Index("ix_reminder_audience", "audience", "unit_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="work_order.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    audience: str = Field(max_length=12)  # handler | head | supervisor
    share: float
    deadline_at: datetime | None = None
    at: datetime = Field(default_factory=utcnow)


class SavedView(SQLModel, table=True):
    """A staff member's saved inbox filters (我的视图): a name and the query string."""

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_view_user_name"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    name: str = Field(max_length=40)
    query: str = Field(max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)


class WebSession(SQLModel, table=True):
    """A server-side login session; the cookie holds only a random token."""

    id: str = Field(primary_key=True, max_length=64)  # sha256 of the cookie token
    user_id: int = Field(foreign_key="user.id")
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class RoutingLabel(SQLModel, table=True):
    """A label from a dispatcher's correction or a unit's 退回, for retraining."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="work_order.id")
    text: str = Field(sa_column=Column(Text, nullable=False))
    category: str | None = Field(default=None, max_length=40)
    unit_code: str | None = Field(default=None, max_length=40)
    wrong_unit_code: str | None = Field(default=None, max_length=40)
    origin: str = Field(max_length=20)  # correction | return
    at: datetime = Field(default_factory=utcnow)


class Throttle(SQLModel, table=True):
    """A counter of attempts under one hashed key (a login from an address, a query
    code tried on a case, evaluations from a device) for a fixed window.

    One row per key, raised by a single atomic upsert (hub/security/throttle.py), so
    concurrent attempts in every process are counted exactly; no address, username
    or case number is stored in clear."""

    key: str = Field(primary_key=True, max_length=64)
    count: int = 0
    window_start: datetime
    expires_at: datetime = Field(index=True)


class Topic(SQLModel, table=True):
    """A matter many appeals of one county and category are about (hub/topics.py):
    each appeal's ``topic_id`` is set soon after its case is opened, so the weekly
    hot-issue report only aggregates. ``reps``: the appeals its newcomers are compared
    with (the first and a few others, bounded)."""

    __table_args__ = (Index("ix_topic_last_at", "last_at"),)
    id: int | None = Field(default=None, primary_key=True)
    original_appeal_id: int = Field(foreign_key="appeal.id", unique=True)
    county_code: str | None = Field(default=None, max_length=40)
    category: str | None = Field(default=None, max_length=40)
    size: int = 1
    first_at: datetime
    last_at: datetime
    reps: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class TopicBand(SQLModel, table=True):
    """LSH band keys of a topic's representatives (32 each), to find candidate topics
    for a new appeal with an indexed lookup."""

    __table_args__ = (Index("ix_topicband_key", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    key: int = Field(sa_column=Column(BigInteger, nullable=False))
    topic_id: int = Field(foreign_key="topic.id", index=True)


class TopicBacklog(SQLModel, table=True):
    """Appeals whose case is open but whose topic is not yet decided: the pipeline adds
    them, the topic job (hub/topics.py) takes them."""

    appeal_id: int = Field(primary_key=True, foreign_key="appeal.id")


class SearchBacklog(SQLModel, table=True):
    """Appeals whose text is not yet in the search index: the pipeline adds them, the
    indexing job (hub/search.py) takes them, so search never slows routing."""

    appeal_id: int = Field(primary_key=True, foreign_key="appeal.id")


class JobLease(SQLModel, table=True):
    """Who runs an interval job right now, and when it last started, across processes.

    The holder renews ``until`` while the job runs (hub/jobs.py); a holder that dies
    stops renewing and the next process takes the lease over once ``until`` passed.
    ``started_at`` + ``every_seconds`` make an interval job run once per interval
    however many processes' schedulers wake up for it."""

    name: str = Field(primary_key=True, max_length=80)
    holder: str | None = Field(default=None, max_length=120)
    until: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    every_seconds: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    takeovers: int = 0  # times the lease was taken from a holder that stopped renewing it


class JobRun(SQLModel, table=True):
    """A periodic job's run for one period: the unique row makes it run once; ``until``
    is renewed while it runs, so a run whose process died can be taken over."""

    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_run_period"),)
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=80)
    period: str = Field(max_length=40)
    holder: str = Field(max_length=120)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    until: datetime | None = None
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class RankingReport(SQLModel, table=True):
    """A stored, published ranking for one period."""

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=20, unique=True)
    generated_at: datetime = Field(default_factory=utcnow)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class MisconductFinding(SQLModel, table=True):
    """A misconduct report against a unit, verified by the discipline body (纪委监委).

    A verified finding in a period can put the unit first on the worst list.
    """

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="work_order.id")
    verified_at: datetime
    verified_by: str = Field(max_length=60)
    note: str | None = Field(default=None, sa_column=Column(Text))


class AppealBand(SQLModel, table=True):
    """MinHash band keys of an appeal's text, to find near-duplicates from any
    channel with an indexed lookup (see hub/dedupe.py)."""

    __table_args__ = (Index("ix_appealband_key_at", "key", "received_at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: int = Field(sa_column=Column(BigInteger, nullable=False))
    appeal_id: int = Field(foreign_key="appeal.id", index=True)
    received_at: datetime


class ContactView(SQLModel, table=True):
    """A staff member saw a citizen's unmasked contact details (page, API or export):
    who, which case, when. Admins read this log on /admin/contact-views."""

    __table_args__ = (Index("ix_contactview_case_at", "case_id", "at"),
                      Index("ix_contactview_at", "at"))
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    username: str = Field(max_length=60)
    role: str = Field(max_length=20)
    case_id: int = Field(foreign_key="work_order.id")
    via: str = Field(max_length=10)  # page | api | export


class PrivacyEvent(SQLModel, table=True):
    """An erasure or a retention run: who, why, how many appeals and which cases.
    Never what was erased (no name, phone or text)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=120)
    action: str = Field(max_length=20)  # erase | retention
    reason: str = Field(sa_column=Column(Text, nullable=False))
    appeals: int = 0
    cases: list[str] | None = Field(default=None, sa_column=Column(JSON))


class AppealCluster(SQLModel, table=True):
    """Appeals about one matter: an original and its near-duplicates (hub/dedupe.py).

    Each member's ``appeal.cluster_id`` points here, set when it is processed: the
    per-appeal topic a weekly report can aggregate without clustering again. Only the
    original and the few ``reps`` store band keys, so a large cluster costs no more
    per new appeal than a small one.
    """

    __tablename__ = "appeal_cluster"
    id: int | None = Field(default=None, primary_key=True)
    original_appeal_id: int = Field(foreign_key="appeal.id", unique=True)
    # the case that carries the matter; later members' cases are merged into it
    case_id: int | None = Field(default=None, foreign_key="work_order.id")
    county_code: str | None = Field(default=None, max_length=40)
    category: str | None = Field(default=None, max_length=40)
    size: int = 1
    first_at: datetime
    last_at: datetime
    # recent representatives besides the original (appeal ids, oldest first), bounded
    reps: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Surge(SQLModel, table=True):
    """热点突发: many callers about one matter in one place within a short window.

    Raised by the pipeline (hub/surge/); one case carries the matter and every caller
    is linked to it; operators see it on the call form with the prepared answer.
    """

    __table_args__ = (Index("ix_surge_state_raised", "state", "raised_at"),)
    id: int | None = Field(default=None, primary_key=True)
    cluster_id: int = Field(foreign_key="appeal_cluster.id", unique=True)
    case_id: int = Field(foreign_key="work_order.id", index=True)
    county_code: str | None = Field(default=None, max_length=40)
    category: str | None = Field(default=None, max_length=40)
    # words the callers share, never a caller's text: safe for the published report
    label: str = Field(max_length=100)
    title: str = Field(max_length=200)  # what operators see; a supervisor may edit it
    answer: str = Field(sa_column=Column(Text, nullable=False))  # the prepared answer
    answer_by: str | None = Field(default=None, max_length=60)
    answer_at: datetime | None = None
    # a knowledge-base article (知识库) to answer from, once the hub has one
    article_ref: str | None = Field(default=None, max_length=80)
    state: str = Field(default="active", max_length=10)  # active | ended
    raised_at: datetime
    callers_at_raise: int
    ended_at: datetime | None = None
    ended_by: str | None = Field(default=None, max_length=60)
    version: int = 1


class DispatchEntry(SQLModel, table=True):
    """One line of the dispatch catalogue (派单目录): a category, optionally narrowed to
    its second and third level and to a county, maps to the responsible unit from a
    day (and until a day, exclusive). A revision never edits a line: it ends it and
    adds the new one, so the catalogue as it stood on any day stays readable
    (hub/catalogue/)."""

    __table_args__ = (Index("ix_dispatch_entry_category", "category", "effective_from"),)
    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=40)  # 一级分类
    subcategory: str | None = Field(default=None, max_length=60)  # 二级分类
    item: str | None = Field(default=None, max_length=60)  # 三级分类
    county_code: str | None = Field(default=None, max_length=40)  # None: any area
    unit_code: str = Field(max_length=40)
    effective_from: date
    effective_to: date | None = None  # exclusive; None: until revised
    note: str | None = Field(default=None, max_length=200)
    created_by: str = Field(max_length=60)
    created_at: datetime = Field(default_factory=utcnow)
    ended_by: str | None = Field(default=None, max_length=60)
    ended_at: datetime | None = None
