"""Unit evaluations (扫码评议): anyone scanning a unit's QR code rates it on three
aspects; every 基本满意 or 不满意 becomes a case for that unit to verify and answer
within the configured working days, answered through a query code.

Abuse limits count per client fingerprint (a keyed hash of address and browser,
never stored in clear): a few evaluations per unit per day, a cap per day overall.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.lifecycle.service import GRADES, CaseError, CaseService, RouteDecision, new_query_code
from hub.models import Appeal, Unit, UnitEvaluation, utcnow

ASPECTS = {"responsibility": "责任担当", "efficiency": "服务效能", "conduct": "作风形象"}
PER_UNIT_PER_DAY = 3
PER_CLIENT_PER_DAY = 20
SOURCE_NAME = "qr-evaluation"


class TooMany(CaseError):
    status, code = 429, "too_many"


@dataclass(frozen=True)
class EvaluationResult:
    evaluation_id: int
    case_number: str | None
    query_code: str | None


def client_fingerprint(secret: str, address: str, user_agent: str) -> str:
    return hmac.new(secret.encode(), f"{address}|{user_agent}".encode(),
                    hashlib.sha256).hexdigest()


def evaluate_unit(session: Session, svc: CaseService, source_id: int, unit_code: str,
                  grades: dict[str, str], comment: str | None, client: str,
                  now: datetime | None = None) -> EvaluationResult:
    now = now or utcnow()
    unit = session.scalar(select(Unit).where(Unit.code == unit_code, Unit.active))
    if unit is None:
        raise CaseError(f"no unit {unit_code!r}")
    for key, label in ASPECTS.items():
        if grades.get(key) not in GRADES:
            raise CaseError(f"请为“{label}”选择 满意 / 基本满意 / 不满意")
    comment = (comment or "").strip()[:2000] or None
    since = now - timedelta(days=1)
    recent = select(func.count()).select_from(UnitEvaluation).where(
        UnitEvaluation.client_hash == client, UnitEvaluation.at >= since)
    if (session.scalar(recent.where(UnitEvaluation.unit_id == unit.id)) or 0) >= PER_UNIT_PER_DAY:
        raise TooMany("您今天对该单位的评议次数已达上限")
    if (session.scalar(recent) or 0) >= PER_CLIENT_PER_DAY:
        raise TooMany("今天的评议次数已达上限")
    evaluation = UnitEvaluation(unit_id=unit.id, comment=comment, client_hash=client, at=now,
                                **{k: grades[k] for k in ASPECTS})
    session.add(evaluation)
    session.flush()
    if all(grades[k] == "满意" for k in ASPECTS):
        return EvaluationResult(evaluation.id, None, None)
    code = new_query_code()
    summary = "，".join(f"{label}{grades[k]}" for k, label in ASPECTS.items())
    appeal = Appeal(source_id=source_id, external_id=f"qr-{uuid.uuid4().hex}",
                    received_at=now, title=f"扫码评议：{unit.name}",
                    body=f"{summary}。{comment or '（未填写意见）'}",
                    raw={"query_code": code, "evaluation_id": evaluation.id}, state="done")
    session.add(appeal)
    session.flush()
    decision = RouteDecision(category="扫码评议", unit_code=unit.code,
                             county_code=unit.county_code, confidence=1.0, needs_triage=False,
                             suggestions=[], rule="qr-evaluation")
    case = svc.open_case(session, appeal, decision, actor="qr-evaluation", now=now,
                         deadline_kind="evaluation")
    evaluation.case_id = case.id
    return EvaluationResult(evaluation.id, case.number, code)

