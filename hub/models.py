"""The hub's tables (SQLModel). Times are timezone-aware UTC on both databases.

The flow is one way: Source -> Appeal (the queue) -> Case (工单) -> CaseEvent,
Reply, Rating. Quarantined items keep their raw bytes so nothing is lost.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from hub.lifecycle.states import DEADLINE_SETTING_SQL, LATE_SQL, OPEN_WORK_SQL


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


class Appeal(SQLModel, table=True):
    """One item in the durable queue, whatever its channel (诉求/留言/来电)."""

    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_appeal_source_external"),
        Index("ix_appeal_state_id", "state", "id"),
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


class QuarantinedItem(SQLModel, table=True):
    """An item that could not be parsed: raw bytes and reason, replayable later."""

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    external_id: str | None = Field(default=None, max_length=128)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    replayed_at: datetime | None = None


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
        # a unit's 待办理 view: its open work by deadline
        Index("ix_work_order_unit_open_deadline", "unit_id", "deadline_at",
              sqlite_where=text(OPEN_WORK_SQL), postgresql_where=text(OPEN_WORK_SQL)),
        # cases changed since a moment (rankings: what may have been open then)
        Index("ix_work_order_updated_created", "updated_at", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=24, unique=True)
    appeal_id: int = Field(foreign_key="appeal.id", unique=True)
    state: str = Field(max_length=20, index=True)
    category: str | None = Field(default=None, max_length=40)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    county_code: str | None = Field(default=None, max_length=40)
    confidence: float | None = None
    suggestions: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    urgent: bool = False
    urgent_terms: list[str] | None = Field(default=None, sa_column=Column(JSON))
    hide_identity: bool = False
    difficulty: str = Field(default="normal", max_length=12)
    deadline_at: datetime | None = None
    due_state: str = Field(default="ok", max_length=12)  # ok | due_soon | overdue
    urge_count: int = 0
    last_urged_at: datetime | None = None
    escalated: bool = False
    query_code: str = Field(max_length=12)
    reopen_count: int = 0
    return_count: int = 0
    extension_requested: bool = False
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


class Rating(SQLModel, table=True):
    """A citizen's 满意/基本满意/不满意 for one round of handling."""

    __table_args__ = (UniqueConstraint("case_id", "round", name="uq_rating_case_round"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="work_order.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    round: int = 0
    grade: str = Field(max_length=8)
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
    client_hash: str = Field(max_length=64, index=True)
    case_id: int | None = Field(default=None, foreign_key="work_order.id")
    at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A staff account; passwords are argon2 hashes."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=60, unique=True)
    display_name: str = Field(max_length=60)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=20)  # operator | dispatcher | unit | supervisor | admin
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    active: bool = True
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


class LoginFailure(SQLModel, table=True):
    """A failed login, by hashed key (address or username): every process of the hub
    counts the same failures, so running more processes does not multiply guesses."""

    __table_args__ = (Index("ix_loginfailure_key_at", "key", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow)


class SearchBacklog(SQLModel, table=True):
    """Appeals whose text is not yet in the search index: the pipeline adds them, the
    indexing job (hub/search.py) takes them, so search never slows routing."""

    appeal_id: int = Field(primary_key=True, foreign_key="appeal.id")


class JobLease(SQLModel, table=True):
    """Who may run a scheduled job right now, across processes sharing a database."""

    name: str = Field(primary_key=True, max_length=80)
    holder: str | None = Field(default=None, max_length=120)
    until: datetime | None = None


class JobRun(SQLModel, table=True):
    """A periodic job's run for one period: the unique row makes it run once."""

    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_run_period"),)
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=80)
    period: str = Field(max_length=40)
    holder: str = Field(max_length=120)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
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
