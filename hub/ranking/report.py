"""Build a period's ranking report and store it.

The payload holds unit-level numbers, hot-issue labels made of words many appeals
share (personal data masked and names excluded first) and case numbers: no names,
phones or appeal text. It is plain data in a fixed order, so the same database
gives the same bytes however often, and in whatever process, it is built.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.config import CityConfig, RankingSpec
from hub.db import insert_ignoring_conflicts
from hub.lifecycle.calendar import WorkCalendar
from hub.models import MisconductFinding, RankingReport, Unit
from hub.ranking.hot import hot_issues
from hub.ranking.method import definitions, indicator_labels, method
from hub.ranking.metrics import UnitFigures, collect
from hub.ranking.period import Period, period_title
from hub.ranking.score import INDICATORS, UnitInfo, figures_dict, lists, score_tier, tier_rates

FORMAT = 2  # payloads stored before it (one flat table, cohort definitions) are legacy
BOTTOM3_MIN_RANKED = 7  # "bottom three" means something only in a larger tier


def build_report(session: Session, config: CityConfig, period: Period,
                 calendar: WorkCalendar, previous: dict[str, Any] | None = None,
                 with_hot_issues: bool = True) -> dict[str, Any]:
    spec = config.ranking
    normal = config.deadlines.reply_days["normal"]
    units = [UnitInfo(u.id, u.code, u.name, u.kind, u.county_code) for u in
             session.scalars(select(Unit).where(Unit.kind != "city", Unit.active)
                             .order_by(Unit.code))]
    collected = collect(session, period, calendar)
    misconduct = _misconduct(session, period)
    prev_tiers = {t["code"]: t for t in (previous or {}).get("tiers", [])}
    tiers = []
    for tier in spec.tiers:
        members = []
        for unit in (u for u in units if u.kind in tier.kinds):
            figures = UnitFigures()
            figures.add(collected.units.get(unit.id, UnitFigures()))
            if tier.include_children:
                for child in units:
                    if child.kind == "county_department" and child.county == unit.county:
                        figures.add(collected.units.get(child.id, UnitFigures()))
            members.append((unit, figures))
        table = score_tier(tier, members, spec, normal)
        _follow_up(table, prev_tiers.get(tier.code), misconduct, spec)
        forced = misconduct if spec.misconduct_rank_first else {}
        table["best"], table["worst"] = lists(table, tier.list_size, forced)
        by_code = {e["unit"]: e for e in table["entries"]}
        table["worst_reasons"] = {code: _reasons(by_code[code], table) for code in table["worst"]}
        tiers.append(table)
    city = UnitFigures()
    for figures in collected.units.values():
        city.add(figures)
    totals = figures_dict(city) | {"received": collected.received,
                                   "direct_answered": collected.direct_answered}
    entries = [e for t in tiers for e in t["entries"]]
    return {
        "format": FORMAT, "period": period.label, "kind": period.kind,
        "title": period_title(period),
        "from": period.first.isoformat(), "to": period.last.isoformat(),
        "city": config.city_name,
        "city_totals": totals,
        "city_rates": {n: None if v is None else round(v, 4)
                       for n, v in tier_rates(city, list(collected.units.values()),
                                              normal).items()},
        "previous": _previous_summary(previous),
        "labels": indicator_labels(),
        "tiers": tiers,
        "entries": entries,
        "best": [c for t in tiers for c in t["best"]],
        "worst": [c for t in tiers for c in t["worst"]],
        "too_few": [e["unit"] for e in entries if e["status"] == "too_few"],
        "no_cases": [e["unit"] for e in entries if e["status"] == "no_cases"],
        "prior_strength": spec.prior_strength,
        "definitions": definitions(config), "method": method(config),
        "hot_issues": hot_issues(session, period, config) if with_hot_issues else [],
    }


def _previous_summary(previous: dict[str, Any] | None) -> dict[str, Any] | None:
    if not previous or previous.get("format") != FORMAT:
        return None
    return {"period": previous["period"], "title": previous["title"],
            "city_totals": previous["city_totals"], "city_rates": previous["city_rates"]}


def _follow_up(table: dict[str, Any], before: dict[str, Any] | None,
               misconduct: dict[str, int], spec: RankingSpec) -> None:
    """Movement against the previous period, bottom-three streaks and what follows."""
    prev = {e["unit"]: e for e in (before or {}).get("entries", [])}
    ranked = [e for e in table["entries"] if e["rank"] is not None]
    bottom = ({e["unit"] for e in ranked[-3:]} if len(ranked) >= BOTTOM3_MIN_RANKED
              else set())
    for entry in table["entries"]:
        old = prev.get(entry["unit"], {})
        entry["previous_rank"] = old.get("rank")
        entry["movement"] = (old["rank"] - entry["rank"]
                             if old.get("rank") and entry["rank"] else None)
        streak = old.get("bottom3_streak", 0) + 1 if entry["unit"] in bottom else 0
        entry["bottom3_streak"] = streak
        entry["misconduct"] = misconduct.get(entry["unit"], 0)
        entry["escalation"] = _escalation(streak, entry["misconduct"], spec)


def _reasons(entry: dict[str, Any], table: dict[str, Any]) -> list[str]:
    """Why a unit is on the 最难办事榜, in plain words, worst first."""
    out = []
    if entry["misconduct"]:
        out.append(f"经纪检监察机关查实违纪问题{entry['misconduct']}起")
    gaps = []
    f = entry["figures"]
    for name, ind in INDICATORS.items():
        mine, theirs = entry["rates"].get(name), table["rates"].get(name)
        if mine is None or theirs is None or name not in table["weights_used"]:
            continue
        gap = (theirs - mine) if ind.higher_is_better else (mine - theirs)
        if gap > 0.005:
            num, den = _counts(name, f)
            side = "低于" if ind.higher_is_better else "高于"
            gaps.append((-gap, name, f"{ind.label}{_pct(mine)}（{num}/{den}），"
                                     f"{side}本层级的{_pct(theirs)}"))
    out += [text for _, _, text in sorted(gaps)[:3]]
    if f["late_open"]:
        out.append(f"期末仍有{f['late_open']}件超期未答复")
    if entry["bottom3_streak"] >= 2:
        out.append(f"连续{entry['bottom3_streak']}期处于本层级后三名")
    if not out and entry["score"] is not None:
        out.append(f"综合得分{entry['score']:.1f}分，为本层级最低之列")
    return out


def _counts(name: str, f: dict[str, Any]) -> tuple[int, int]:
    return {"sign": (f["sign_on_time"], f["sign_due"]), "on_time": (f["due_on_time"], f["due"]),
            "completion": (f["due_closed"], f["due"]), "satisfaction": (f["satisfied"], f["rated"]),
            "resolution": (f["resolved"], f["resolution_asked"]),
            "returns": (f["wrongful_returns"], f["assigned"]),
            "redo": (f["reopened"], f["replied"])}[name]


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _misconduct(session: Session, period: Period) -> dict[str, int]:
    rows = session.execute(
        select(Unit.code, func.count()).select_from(MisconductFinding)
        .join(Unit, Unit.id == MisconductFinding.unit_id)
        .where(MisconductFinding.verified_at >= period.start,
               MisconductFinding.verified_at < period.end).group_by(Unit.code))
    return {code: n for code, n in rows}


def _escalation(streak: int, misconduct: int, spec: RankingSpec) -> str | None:
    if misconduct:
        return "查实违纪：列最难办事榜首位" if spec.misconduct_rank_first else "查实违纪"
    if streak >= spec.bottom3_interview:
        return f"连续{streak}期后三名：约谈"
    if streak >= spec.bottom3_notice:
        return f"连续{streak}期后三名：通报"
    return None


def stored(session: Session, label: str) -> dict[str, Any] | None:
    row = session.scalar(select(RankingReport).where(RankingReport.period == label))
    return row.payload if row else None


def is_current(payload: dict[str, Any] | None) -> bool:
    """A payload this version can render (earlier ones are kept and served as JSON)."""
    return bool(payload) and payload.get("format") == FORMAT  # type: ignore[union-attr]


def store(session: Session, payload: dict[str, Any], now: datetime) -> None:
    """Keep the first report made for a period: a closed period is not rewritten."""
    insert_ignoring_conflicts(session, RankingReport.__table__,
                              [{"period": payload["period"], "generated_at": now,
                                "payload": payload}], ["period"],
                              [RankingReport.__table__.c.id])
