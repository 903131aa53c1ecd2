"""What one appeal item may contain, as data: the validator and the OpenAPI
document are both built from FIELDS, so the document always matches the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.models import utcnow
from hub.security.jsonbody import find_unstorable
from hub.security.text import unstorable

CITY_TZ = ZoneInfo("Asia/Shanghai")
MAX_BATCH = 500
# received_at is plausible from the platform's first day (config: [city] since) up to
# this far ahead of our clock (a channel's clock may run a little fast)
DEFAULT_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str  # string | integer | datetime | object
    required: bool = False
    max_length: int | None = None
    description: str = ""


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("external_id", "string", True, 128,
              "the channel's own id; the same item again is a no-op, the same id with "
              "different content is refused (409)"),
    FieldSpec("body", "string", True, 20000, "the appeal text (留言详情/来电内容)"),
    FieldSpec("title", "string", False, 200, "subject; derived from the body when absent"),
    FieldSpec("received_at", "datetime", False, None,
              "ISO 8601; without an offset it is read as Asia/Shanghai time; a time before "
              "the platform existed or in the future is refused (implausible_datetime)"),
    FieldSpec("contact_name", "string", False, 50, "personal data: masked for most roles"),
    FieldSpec("contact_phone", "string", False, 30, "personal data: masked for most roles"),
    FieldSpec("location", "string", False, 200, "address or place as the citizen gave it"),
    FieldSpec("votes", "integer", False, None, "supporting votes on a public board"),
    FieldSpec("extra", "object", False, None, "channel-specific data kept in the raw payload"),
)
_BY_NAME = {f.name: f for f in FIELDS}


class ItemError(ValueError):
    """One item is invalid: a machine-readable code, the field and a message."""

    def __init__(self, code: str, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.code, self.field, self.message = code, field_name, message

    def as_dict(self) -> dict[str, Any]:
        out = {"code": self.code, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class AppealIn:
    """A validated appeal, ready for the queue."""

    external_id: str
    body: str
    title: str
    received_at: datetime
    contact_name: str | None = None
    contact_phone: str | None = None
    location: str | None = None
    votes: int = 0
    raw: dict[str, Any] = field(default_factory=dict)

    def row(self, source_id: int) -> dict[str, Any]:
        return {
            "source_id": source_id, "external_id": self.external_id, "title": self.title,
            "body": self.body, "received_at": self.received_at, "created_at": utcnow(),
            "contact_name": self.contact_name, "contact_phone": self.contact_phone,
            "location": self.location, "votes": self.votes, "raw": self.raw,
            "state": "queued", "attempts": 0,
        }


_LOOSE = re.compile(
    r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?$")


def parse_datetime(value: str) -> datetime:
    """ISO 8601, or 'YYYY/M/D H:MM:SS' as boards print it; naive means city time."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        match = _LOOSE.match(text)
        if not match:
            raise
        parsed = datetime(*(int(g) for g in match.groups() if g is not None))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CITY_TZ)
    try:
        return parsed.astimezone(ZoneInfo("UTC"))
    except OverflowError:  # 0001-01-01 in city time is before year 1 in UTC
        raise ValueError(f"{text!r} is outside the range of representable times") from None


def derive_title(body: str) -> str:
    first = body.strip().splitlines()[0] if body.strip() else ""
    return first[:30] + ("…" if len(first) > 30 else "")


def validate_item(item: Any, earliest: datetime = DEFAULT_EARLIEST,
                  now: datetime | None = None) -> AppealIn:
    """Check one JSON item against FIELDS; raise ItemError naming the first fault.

    Every string in the item (``extra`` included) must be storable text, so one item
    can never fail the transaction it shares with others; ``received_at`` must lie
    between ``earliest`` (the platform's first day) and now, since deadlines,
    case numbers and rankings read it."""
    if not isinstance(item, dict):
        raise ItemError("not_an_object", "each appeal must be a JSON object")
    for key in item:
        if key not in _BY_NAME:
            shown = key if not unstorable(key) else ascii(key)
            raise ItemError("unknown_field", f"unknown field {shown!r}", shown)
    bad = find_unstorable(item)
    if bad:
        where, code, reason = bad
        raise ItemError(code, f"{where} {reason}", where)
    values: dict[str, Any] = {}
    for spec in FIELDS:
        value = item.get(spec.name)
        if value is None:
            if spec.required:
                raise ItemError("missing_field", f"{spec.name} is required", spec.name)
            continue
        values[spec.name] = _check(spec, value)
    body = values["body"].strip()
    if not body:
        raise ItemError("empty_field", "body must not be blank", "body")
    now = now or utcnow()
    received = values.get("received_at")
    if received is not None and not earliest <= received <= now + FUTURE_SLACK:
        raise ItemError("implausible_datetime",
                        f"received_at {received.isoformat()} is "
                        + ("in the future" if received > now else
                           f"before the platform existed ({earliest.date().isoformat()})"),
                        "received_at")
    return AppealIn(
        external_id=values["external_id"].strip(),
        body=body,
        title=(values.get("title") or "").strip() or derive_title(body),
        received_at=received or now,
        contact_name=values.get("contact_name"),
        contact_phone=values.get("contact_phone"),
        location=values.get("location"),
        votes=values.get("votes", 0),
        raw=item,
    )


def _check(spec: FieldSpec, value: Any) -> Any:
    if spec.type in ("string", "datetime"):
        if not isinstance(value, str):
            raise ItemError("wrong_type", f"{spec.name} must be a string", spec.name)
        if spec.max_length and len(value) > spec.max_length:
            raise ItemError("too_long",
                            f"{spec.name} is {len(value)} characters; at most {spec.max_length}",
                            spec.name)
        if spec.type == "datetime":
            try:
                return parse_datetime(value)
            except (ValueError, OverflowError):
                raise ItemError("bad_datetime", f"{spec.name} is not an ISO 8601 time",
                                spec.name) from None
        if spec.required and not value.strip():
            raise ItemError("empty_field", f"{spec.name} must not be blank", spec.name)
        return value
    if spec.type == "integer":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
            raise ItemError("wrong_type", f"{spec.name} must be a whole number >= 0", spec.name)
        return value
    if not isinstance(value, dict):
        raise ItemError("wrong_type", f"{spec.name} must be an object", spec.name)
    return value


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one appeal item, for the OpenAPI document."""
    props: dict[str, Any] = {}
    for spec in FIELDS:
        prop: dict[str, Any] = {"description": spec.description}
        if spec.type == "datetime":
            prop.update(type="string", format="date-time")
        else:
            prop["type"] = spec.type
        if spec.max_length:
            prop["maxLength"] = spec.max_length
        if spec.required and spec.type == "string":
            prop["minLength"] = 1
        props[spec.name] = prop
    return {"type": "object", "additionalProperties": False,
            "required": [f.name for f in FIELDS if f.required], "properties": props}
