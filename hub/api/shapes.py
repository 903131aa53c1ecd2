"""The JSON answers of the APIs, as pydantic models.

Handlers build every answer through these models (``answer(Model(...))``) and the
OpenAPI document's component schemas are generated from the same models
(hub/api/openapi.py), so an answer and its documentation cannot drift apart: a key a
handler adds without the model is refused (``extra="forbid"``), and a key added to
the model appears in the document.

A field with a default is one the answer may leave out (it is sent only when the
handler sets it); a field without a default is always sent, ``None`` as ``null``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

# datetime.isoformat(), as the API has always written times ("+00:00", not pydantic's "Z")
IsoDateTime = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str),
                        WithJsonSchema({"type": "string", "format": "date-time"})]


class Answer(BaseModel):
    """A response body: an undeclared key is an error, not a silent addition."""

    model_config = ConfigDict(extra="forbid")


def answer(body: Answer, status: int = 200,
           headers: dict[str, str] | None = None) -> web.Response:
    """The JSON response for ``body``: optional fields the handler did not set are
    left out, as the hand-built dicts did."""
    return web.json_response(body.model_dump(mode="json", by_alias=True, exclude_unset=True),
                             status=status, headers=headers)


# --- errors -------------------------------------------------------------------------

class ErrorDetail(Answer):
    """What went wrong: ``code`` for programs, ``message`` for people."""

    code: str
    message: str
    field: str | None = None
    existing_id: int | None = Field(None, description="409: the appeal stored under this id")
    url: str | None = None
    retry_after: int | None = Field(None, description="503: seconds until a retry may work")


class Error(Answer):
    """Every error answer of the JSON endpoints."""

    error: ErrorDetail


# --- intake (hub/api/appeals.py) -----------------------------------------------------

class Enqueued(Answer):
    """One appeal stored (201) or found stored before with the same content (200)."""

    id: int
    created: bool
    source: str
    url: str


class BatchItem(Answer):
    """One item of a batch: its id when stored, its error when not."""

    index: int
    id: int | None = None
    created: bool | None = None
    error: ErrorDetail | None = None


class BatchResult(Answer):
    """A batch's outcome, item by item in the order sent."""

    accepted: int
    rejected: int
    results: list[BatchItem]


class AppealCase(Answer):
    """The case an appeal became."""

    number: str
    state: str
    query_code: str
    deadline_at: IsoDateTime | None


class Appeal(Answer):
    """An appeal as the source that sent it may see it; ``case`` is null until the
    pipeline has made one."""

    id: int
    external_id: str
    state: str
    received_at: IsoDateTime
    title: str
    case: AppealCase | None


# --- citizens (hub/api/cases.py) -----------------------------------------------------

class CitizenReply(Answer):
    at: IsoDateTime
    body: str
    resolution: str | None = Field(description="办理结果: 已解决, 已解释说明, 列入计划, 无法解决")
    planned_on: date | None = Field(description="列入计划: the planned completion date")


class CitizenPause(Answer):
    """Why a case waits: a kind of reason in plain words, never the staff's note."""

    since: IsoDateTime
    reason: str


class CitizenStep(Answer):
    at: IsoDateTime
    text: str


class CitizenRating(Answer):
    """A rating the citizen gave (评价), shown back to them."""

    round: int = Field(description="0 for the first reply, 1 after one 重办, ...")
    grade: str
    solved: bool | None = Field(description="是否解决, when asked")
    at: IsoDateTime


class CitizenCase(Answer):
    """What a citizen sees with the case number and query code; personal data masked."""

    number: str
    state: str
    state_label: str
    title: str | None
    unit: str | None
    deadline_at: IsoDateTime | None
    replies: list[CitizenReply]
    can_rate: bool
    linked_to: str | None = Field(description="the case carrying this caller's matter")
    surge: str | None = Field(description="a note when the matter is a hot event")
    paused: CitizenPause | None = Field(
        description="the handling unit's clock is paused (挂起): since when and why")
    timeline: list[CitizenStep] = Field(
        description="the loop so far in plain Chinese, oldest first (no staff notes)")
    ratings: list[CitizenRating] = Field(
        description="this citizen's own ratings of the replies, oldest first")


class RatingAnswer(Answer):
    """The case's state after the citizen's rating."""

    number: str
    state: str
    state_label: str


class EvaluationAnswer(Answer):
    """A unit evaluation (扫码评议); a low grade opens a case with a query code."""

    evaluation_id: int
    case_number: str | None
    query_code: str | None
    flagged: bool


# --- staff (hub/web/staff_api.py) ----------------------------------------------------

class LoginAnswer(Answer):
    """The session's CSRF token, to send in X-CSRF-Token on writes."""

    csrf_token: str


class CaseRow(Answer):
    """One line of the inbox."""

    id: int
    number: str
    title: str
    state: str
    state_label: str
    channel: str
    unit_name: str | None
    county: str | None
    category: str | None
    deadline_at: IsoDateTime | None
    days_left: int | None
    due_state: str
    urgent: bool
    confidence: float | None
    received_at: IsoDateTime
    warned: int | None = Field(None, description="% of the allowed time the last staged "
                               "warning (分级预警) marked; null before the first")


class CasePage(Answer):
    """A page of the inbox; ``total`` is counted up to a cap."""

    total: int
    page: int
    more: bool
    cases: list[CaseRow]


class CaseLogEntry(Answer):
    """One event of a case's log, labels in Chinese."""

    at: IsoDateTime
    actor: str
    action: str
    from_: str = Field(alias="from")
    to: str
    unit: str | None
    note: str


class CaseReply(Answer):
    at: IsoDateTime
    author: str
    body: str | None
    unit: str | None
    resolution: str | None
    planned_on: date | None
    resolution_note: str | None
    flags: list[str] = Field(description="答复质检 flags the unit sent it despite")
    override: str | None = Field(description="the unit's reason for sending it anyway")


class CaseRating(Answer):
    at: IsoDateTime
    grade: str
    round: int
    channel: str
    comment: str | None


class CaseDetail(Answer):
    """One case in full, personal data masked unless the role may see it."""

    id: int
    number: str
    state: str
    state_label: str
    version: int
    category: str | None
    county: str | None
    unit: str | None
    confidence: float | None
    suggestions: list[dict[str, Any]]
    urgent: bool
    urgent_terms: list[str]
    deadline_at: IsoDateTime | None
    due_state: str
    days_left: int | None
    title: str | None
    body: str | None
    contact_name: str | None
    contact_phone: str | None
    channel: str
    received_at: IsoDateTime
    events: list[CaseLogEntry]
    replies: list[CaseReply]
    ratings: list[CaseRating]


class ActionAnswer(Answer):
    """The case after an action: its new state and the version to send next."""

    id: int
    number: str
    state: str
    version: int


# --- ledger (hub/api/ledger.py) ------------------------------------------------------

class LedgerItem(Answer):
    """An appeal as the parent platform reads it, contact details included."""

    id: int
    source: str
    case: str | None
    title: str
    body: str
    received_at: IsoDateTime
    contact_name: str | None
    contact_phone: str | None
    location: str | None
    votes: int


class Ledger(Answer):
    """A page of the ledger in id order; ask again with ``after`` = the last id."""

    items: list[LedgerItem]
    more: bool


# --- operations (hub/api/ops.py, hub/health.py) --------------------------------------

class Liveness(Answer):
    status: Literal["ok"]
    instance: str


class ReadinessCheck(Answer):
    """One readiness check; the fields after ``reason`` are what that check measured."""

    ok: bool
    critical: bool
    reason: str | None = None
    code: str | None = Field(None, description="the outage's code when the database failed")
    note: str | None = None
    dialect: str | None = None
    current: list[str] | None = Field(None, description="migrations: the database's revisions")
    head: str | None = Field(None, description="migrations: this code's revision")
    depth: int | None = Field(None, description="queue: appeals waiting")
    oldest_age_seconds: int | None = None
    last_tick_seconds_ago: float | None = None


class Readiness(Answer):
    """Readiness check by check; ``failed`` names the checks that failed."""

    status: Literal["ready", "degraded", "not_ready"]
    failed: list[str]
    checks: dict[str, ReadinessCheck]
