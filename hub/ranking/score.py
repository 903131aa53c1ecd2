"""The composite score and the lists.

Every rate is shrunk toward the city-wide rate with a Beta prior worth
``prior_strength`` cases (or ratings): shrunk = (successes + k * city) / (n + k).
A unit with 2 of 2 satisfied ratings thus scores near the city mean, not 100%,
so no unit tops or bottoms a list on luck. Units with fewer than ``min_cases``
assigned cases are listed as too few to rank.

score = Σ weight × rate over completion, on_time, satisfaction and reply_speed,
where reply_speed = max(0, 1 − median reply days / normal reply days), shrunk the
same way with the unit's replies as its weight. Scores are 0..100.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.config import RankingSpec
from hub.ranking.metrics import UnitFigures


@dataclass(frozen=True)
class UnitInfo:
    id: int
    code: str
    name: str
    kind: str


def _rate(successes: float, n: float) -> float | None:
    return successes / n if n else None


def _shrink(successes: float, n: float, city: float, k: float) -> float:
    return (successes + k * city) / (n + k) if n + k else city


def score_units(figures: dict[int, UnitFigures], units: list[UnitInfo], spec: RankingSpec,
                normal_days: int) -> list[dict[str, Any]]:
    """One entry per unit with figures, rates, the score and its parts; unranked ones last."""
    totals = {"completed": 0, "assigned": 0, "on_time": 0, "satisfied": 0, "rated": 0,
              "speed": 0.0, "replies": 0}
    speeds: dict[int, float] = {}
    for uid, f in figures.items():
        totals["completed"] += f.completed
        totals["on_time"] += f.on_time
        totals["assigned"] += f.assigned
        totals["satisfied"] += f.satisfied
        totals["rated"] += f.rated
        if f.reply_days:
            speeds[uid] = max(0.0, 1 - (f.reply_median() or 0) / max(normal_days, 1))
            totals["speed"] += speeds[uid] * len(f.reply_days)
            totals["replies"] += len(f.reply_days)
    city = {
        "completion": _rate(totals["completed"], totals["assigned"]) or 0.0,
        "on_time": _rate(totals["on_time"], totals["assigned"]) or 0.0,
        "satisfaction": _rate(totals["satisfied"], totals["rated"]) or 0.0,
        "reply_speed": _rate(totals["speed"], totals["replies"]) or 0.0,
    }
    k = spec.prior_strength
    weights = spec.weights
    entries = []
    for unit in units:
        f = figures.get(unit.id, UnitFigures())
        raw = {
            "completion": _rate(f.completed, f.assigned),
            "on_time": _rate(f.on_time, f.assigned),
            "satisfaction": _rate(f.satisfied, f.rated),
            "reply_speed": speeds.get(unit.id),
        }
        shrunk = {
            "completion": _shrink(f.completed, f.assigned, city["completion"], k),
            "on_time": _shrink(f.on_time, f.assigned, city["on_time"], k),
            "satisfaction": _shrink(f.satisfied, f.rated, city["satisfaction"], k),
            "reply_speed": _shrink((speeds.get(unit.id) or 0) * len(f.reply_days),
                                   len(f.reply_days), city["reply_speed"], k),
        }
        total_weight = sum(weights.get(name, 0) for name in shrunk) or 1
        score = 100 * sum(weights.get(name, 0) * value for name, value in shrunk.items()) \
            / total_weight
        evaluation = {aspect: _rate(g["满意"] + g["基本满意"], sum(g.values()))
                      for aspect, g in f.evaluations.items()}
        entries.append({
            "unit": unit.code, "name": unit.name, "kind": unit.kind,
            "ranked": f.assigned >= spec.min_cases,
            "score": round(score, 2),
            "rates": {name: None if v is None else round(v, 4) for name, v in raw.items()},
            "shrunk": {name: round(v, 4) for name, v in shrunk.items()},
            "figures": {
                "assigned": f.assigned, "signed": f.signed, "replied": f.replied,
                "closed": f.closed, "returned": f.returned,
                "wrongful_returns": f.wrongful_returns, "reopened": f.reopened,
                "overdue": f.overdue, "completed": f.completed, "on_time": f.on_time,
                "reply_days_median": f.reply_median(), "reply_days_p90": f.reply_p90(),
                "ratings": dict(f.ratings), "rated": f.rated,
                "evaluations": {a: dict(g) for a, g in f.evaluations.items()},
                "evaluation_rates": {a: None if v is None else round(v, 4)
                                     for a, v in evaluation.items()},
            },
        })
    ranked = sorted((e for e in entries if e["ranked"]), key=lambda e: (-e["score"], e["unit"]))
    for position, entry in enumerate(ranked, 1):
        entry["rank"] = position
    unranked = sorted((e for e in entries if not e["ranked"]), key=lambda e: e["unit"])
    for entry in unranked:
        entry["rank"] = None
    return ranked + unranked


def city_rates(entries: list[dict[str, Any]]) -> dict[str, float | None]:
    assigned = sum(e["figures"]["assigned"] for e in entries)
    rated = sum(e["figures"]["rated"] for e in entries)
    return {
        "completion": _rate(sum(e["figures"]["completed"] for e in entries), assigned),
        "on_time": _rate(sum(e["figures"]["on_time"] for e in entries), assigned),
        "satisfaction": _rate(sum(e["figures"]["ratings"]["满意"]
                                  + e["figures"]["ratings"]["基本满意"] for e in entries), rated),
    }
