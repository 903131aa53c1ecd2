"""Build a period's ranking report and store it.

The payload holds only unit-level numbers, hot-issue labels made of words many
appeals share, and case numbers: no names, phones or appeal text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.config import CityConfig
from hub.db import insert_ignoring_conflicts
from hub.lifecycle.calendar import WorkCalendar
from hub.models import MisconductFinding, RankingReport, Unit
from hub.ranking.hot import hot_issues
from hub.ranking.metrics import collect
from hub.ranking.period import Period
from hub.ranking.score import UnitInfo, city_rates, score_units

DEFINITIONS = {
    "办结率": "本期交办的工单中，本期结束前已答复的比例",
    "按时办结率": "本期交办的工单中，在期限内（工作日，含批准的延期）答复的比例",
    "满意率": "(满意 + 基本满意) / 本期评价数",
    "答复用时": "从交办/改派/重办到答复的工作日数（中位数、90分位）",
    "错退": "退回后又被派回同一单位的工单",
    "收缩": "各项比率按城市平均值收缩：(成功数 + k×全市比率)/(样本数 + k)，k 见配置",
    "综合得分": "各项收缩后比率按配置权重加权，0–100",
}


def build_report(session: Session, config: CityConfig, period: Period,
                 calendar: WorkCalendar, previous: dict[str, Any] | None = None,
                 with_hot_issues: bool = True) -> dict[str, Any]:
    spec = config.ranking
    units = [UnitInfo(u.id, u.code, u.name, u.kind) for u in
             session.scalars(select(Unit).where(Unit.kind != "city", Unit.active)
                             .order_by(Unit.code))]
    figures = collect(session, period, config.deadlines, calendar)
    entries = score_units(figures, units, spec, config.deadlines.reply_days["normal"])
    flagged = _misconduct(session, period) if spec.misconduct_rank_first else {}
    ranked = [e for e in entries if e["rank"] is not None]
    prev_entries = {e["unit"]: e for e in (previous or {}).get("entries", [])}
    bottom = {e["unit"] for e in ranked[-3:]} if len(ranked) >= 3 else set()
    for entry in entries:
        before = prev_entries.get(entry["unit"], {})
        entry["previous_rank"] = before.get("rank")
        entry["movement"] = (before["rank"] - entry["rank"]
                             if before.get("rank") and entry["rank"] else None)
        streak = before.get("bottom3_streak", 0) + 1 if entry["unit"] in bottom else 0
        entry["bottom3_streak"] = streak
        entry["misconduct"] = flagged.get(entry["unit"], 0)
        entry["escalation"] = _escalation(streak, entry["misconduct"], spec)
    best = ranked[:spec.list_size]
    worst_order = sorted(ranked, key=lambda e: (e["score"], e["unit"]))
    if flagged:
        # a verified misconduct finding puts the unit first on the worst list outright
        worst_order = ([e for e in entries if e["misconduct"]]
                       + [e for e in worst_order if not e["misconduct"]])
    worst = worst_order[:spec.list_size]
    return {
        "period": period.label, "kind": period.kind,
        "from": period.first.isoformat(), "to": period.last.isoformat(),
        "city": config.city_name, "definitions": DEFINITIONS,
        "weights": spec.weights, "prior_strength": spec.prior_strength,
        "min_cases": spec.min_cases,
        "city_rates": city_rates(entries),
        "entries": entries,
        "best": [e["unit"] for e in best], "worst": [e["unit"] for e in worst],
        "too_few": [e["unit"] for e in entries if e["rank"] is None
                    and e["figures"]["assigned"] > 0],
        "hot_issues": hot_issues(session, period, config) if with_hot_issues else [],
    }


def _misconduct(session: Session, period: Period) -> dict[str, int]:
    rows = session.execute(
        select(Unit.code, MisconductFinding.id).join(Unit, Unit.id == MisconductFinding.unit_id)
        .where(MisconductFinding.verified_at >= period.start,
               MisconductFinding.verified_at < period.end))
    out: dict[str, int] = {}
    for code, _ in rows:
        out[code] = out.get(code, 0) + 1
    return out


def _escalation(streak: int, misconduct: int, spec: Any) -> str | None:
    if misconduct:
        return "查实违纪：列最难办事榜首位"
    if streak >= spec.bottom3_interview:
        return f"连续{streak}期后三名：约谈"
    if streak >= spec.bottom3_notice:
        return f"连续{streak}期后三名：通报"
    return None


def stored(session: Session, label: str) -> dict[str, Any] | None:
    row = session.scalar(select(RankingReport).where(RankingReport.period == label))
    return row.payload if row else None


def store(session: Session, payload: dict[str, Any], now: datetime) -> None:
    """Keep the first report made for a period: a closed period is not rewritten."""
    insert_ignoring_conflicts(session, RankingReport.__table__,
                              [{"period": payload["period"], "generated_at": now,
                                "payload": payload}], ["period"],
                              [RankingReport.__table__.c.id])
