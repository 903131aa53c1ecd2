"""Unit evaluations (扫码评议): anyone scanning a unit's QR code rates it on three
aspects; every 基本满意 or 不满意 becomes a case for that unit to verify and answer
within the configured working days, answered through a query code.

Vote-stuffing defences. A client is its real address (hub/security/clients.py) and
its signed device cookie (hub/security/devices.py); the User-Agent plays no part,
so changing it buys nothing. Counters are atomic rows (hub/security/throttle.py):

- refused (429): a device past ``PER_DEVICE_UNIT`` evaluations of one unit a day or
  ``PER_DEVICE`` in all; an address past ``PER_ADDRESS`` a day (stops flooding);
- kept but flagged: no valid device cookie, an address past ``ADDRESS_UNIT_SOFT`` for
  one unit a day (a service hall's shared network can be genuine), a unit past
  ``UNIT_BURST`` in ten minutes or ``UNIT_DAILY_CAP`` a day. Flagged evaluations
  count in rankings only once a supervisor accepts them (/supervise/evaluations);
  a flagged low grade opens its case for the dispatchers (triage), not the unit.

Addresses and devices are stored only as keyed hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from classifiers.decision import RouteDecision
from hub.lifecycle.service import GRADES, CaseError, CaseService, new_query_code
from hub.models import Appeal, CaseEvent, Unit, UnitEvaluation, utcnow
from hub.security import throttle
from hub.security.throttle import Limit, key_of

ASPECTS = {"responsibility": "责任担当", "efficiency": "服务效能", "conduct": "作风形象"}
SOURCE_NAME = "qr-evaluation"
DAY = timedelta(days=1)
PER_DEVICE_UNIT = Limit("eval:device-unit", 3, DAY)
PER_DEVICE = Limit("eval:device", 20, DAY)
PER_ADDRESS = Limit("eval:address", 300, DAY)
ADDRESS_UNIT_SOFT = Limit("eval:address-unit", 5, DAY)
UNIT_BURST = Limit("eval:unit-burst", 30, timedelta(minutes=10))
UNIT_DAILY_CAP = Limit("eval:unit-day", 200, DAY)
FLAG_LABELS = {
    "no_device": "无有效设备标识（未经评议页面或拒绝 Cookie）",
    "address_burst": "同一网络地址当日多次评议该单位",
    "unit_burst": "该单位十分钟内评议数异常",
    "unit_daily_cap": "该单位当日评议数超过上限",
}


class TooMany(CaseError):
    status, code = 429, "too_many"


@dataclass(frozen=True)
class EvaluationClient:
    """Who is evaluating: the real client address and the device id from a cookie the
    hub signed (None when missing or forged)."""

    address: str
    device: str | None


@dataclass(frozen=True)
class EvaluationResult:
    evaluation_id: int
    case_number: str | None
    query_code: str | None
    flag: str | None = None


def _keyed(secret: str, kind: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{kind}|{value}".encode("utf-8", "surrogatepass"),
                    hashlib.sha256).hexdigest()


def _limits(session: Session, secret: str, unit: str, client: EvaluationClient, day: str,
            now: datetime) -> str | None:
    """Count this evaluation; raise TooMany past a hard limit, return a flag for a
    suspicious one. Keys are taken in one fixed order (no deadlocks)."""
    def count(rule: Limit, *parts: str) -> throttle.Hit:
        return throttle.hit(session, key_of(secret, rule, *parts, day), rule, now)

    if not count(PER_ADDRESS, client.address).allowed:
        raise TooMany("该网络今天的评议次数已达上限")
    if client.device is not None:
        if not count(PER_DEVICE_UNIT, client.device, unit).allowed:
            raise TooMany("您今天对该单位的评议次数已达上限")
        if not count(PER_DEVICE, client.device).allowed:
            raise TooMany("今天的评议次数已达上限")
    flags = []
    if client.device is None:
        flags.append("no_device")
    if not count(ADDRESS_UNIT_SOFT, client.address, unit).allowed:
        flags.append("address_burst")
    if not throttle.hit(session, key_of(secret, UNIT_BURST, unit), UNIT_BURST, now).allowed:
        flags.append("unit_burst")
    if not count(UNIT_DAILY_CAP, unit).allowed:
        flags.append("unit_daily_cap")
    return flags[0] if flags else None


def evaluate_unit(session: Session, svc: CaseService, source_id: int, unit_code: str,
                  grades: dict[str, str], comment: str | None, client: EvaluationClient,
                  secret: str, now: datetime | None = None) -> EvaluationResult:
    now = now or utcnow()
    unit = session.scalar(select(Unit).where(Unit.code == unit_code, Unit.active,
                                             Unit.kind != "city"))
    if unit is None:
        raise CaseError("没有这个单位")
    for key, label in ASPECTS.items():
        if grades.get(key) not in GRADES:
            raise CaseError(f"请为“{label}”选择 满意 / 基本满意 / 不满意")
    comment = (comment or "").strip()[:2000] or None
    day = f"{now.astimezone(svc.calendar.tz):%Y-%m-%d}"
    flag = _limits(session, secret, unit.code, client, day, now)
    evaluation = UnitEvaluation(
        unit_id=unit.id, comment=comment, at=now, flag=flag,
        client_hash=_keyed(secret, "address", client.address),
        device_hash=_keyed(secret, "device", client.device) if client.device else None,
        **{k: grades[k] for k in ASPECTS})
    session.add(evaluation)
    session.flush()
    if all(grades[k] == "满意" for k in ASPECTS):
        return EvaluationResult(evaluation.id, None, None, flag)
    code = new_query_code()
    summary = "，".join(f"{label}{grades[k]}" for k, label in ASPECTS.items())
    appeal = Appeal(source_id=source_id, external_id=f"qr-{uuid.uuid4().hex}",
                    received_at=now, title=f"扫码评议：{unit.name}",
                    body=f"{summary}。{comment or '（未填写意见）'}",
                    raw={"query_code": code, "evaluation_id": evaluation.id}, state="done")
    session.add(appeal)
    session.flush()
    decision = RouteDecision(category="扫码评议", unit_code=unit.code,
                             county_code=unit.county_code, confidence=1.0,
                             needs_triage=flag is not None,
                             suggestions=[{"category": "扫码评议", "unit": unit.code, "p": 1.0}],
                             rule="qr-evaluation")
    case = svc.open_case(session, appeal, decision, actor="qr-evaluation", now=now,
                         deadline_kind="evaluation")
    if flag:
        session.add(CaseEvent(case_id=case.id, at=now, actor="qr-evaluation", action="triage",
                              from_state=case.state, to_state=case.state,
                              note=f"可疑评议：{FLAG_LABELS[flag]}；请核实后交办"))
    evaluation.case_id = case.id
    return EvaluationResult(evaluation.id, case.number, code, flag)


def counted() -> Any:
    """The evaluations rankings count: not flagged, or accepted by a supervisor."""
    return or_(UnitEvaluation.flag.is_(None), UnitEvaluation.accepted_at.is_not(None))


def pending(session: Session, limit: int = 500) -> list[dict[str, Any]]:
    """Flagged evaluations waiting for a supervisor, newest first."""
    rows = session.execute(
        select(UnitEvaluation, Unit.name).join(Unit, Unit.id == UnitEvaluation.unit_id)
        .where(UnitEvaluation.flag.is_not(None), UnitEvaluation.accepted_at.is_(None))
        .order_by(UnitEvaluation.id.desc()).limit(limit))
    return [{"id": e.id, "unit": name, "at": e.at, "flag": FLAG_LABELS.get(e.flag, e.flag),
             "grades": [getattr(e, k) for k in ASPECTS], "comment": e.comment,
             "has_case": e.case_id is not None}
            for e, name in rows]


def accept(session: Session, ids: list[int], actor: str, now: datetime | None = None) -> int:
    """A supervisor vouches for flagged evaluations: they count in rankings from now."""
    if not ids:
        return 0
    result = session.execute(
        update(UnitEvaluation).where(UnitEvaluation.id.in_(ids),
                                     UnitEvaluation.flag.is_not(None),
                                     UnitEvaluation.accepted_at.is_(None))
        .values(accepted_by=actor[:60], accepted_at=now or utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
