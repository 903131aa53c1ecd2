"""Scores, ranks and lists within one tier (区县, 市直部门, 公共企事业单位 ...).

Each indicator is a rate ``numerator / denominator`` (see INDICATORS). Before
weighting, a unit's rate is shrunk toward its tier's rate with a Beta prior worth
``prior_strength`` cases: shrunk = (numerator + k * tier rate) / (denominator + k),
so a unit with 2 of 2 on time scores near its tier, not at 100 %. Rates where
lower is better (回退率, 重办率) enter the score as 1 - rate. An indicator no unit of
the tier has data for this period drops out; the others keep their proportions.

score = 100 * Σ weight × shrunk rate / Σ weight, over the indicators present.
Units with no work at all are 无交办; units below the tier's ``min_cases`` are
样本过少; neither gets a score or a rank.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.config import RankingSpec, TierSpec
from hub.ranking.metrics import UnitFigures


@dataclass(frozen=True)
class Indicator:
    name: str
    label: str
    numerator: Callable[[UnitFigures], float]
    denominator: Callable[[UnitFigures], float]
    higher_is_better: bool = True


INDICATORS: dict[str, Indicator] = {i.name: i for i in (
    Indicator("sign", "签收及时率", lambda f: f.sign_on_time, lambda f: f.sign_due),
    Indicator("on_time", "按期答复率", lambda f: f.due_on_time, lambda f: f.due),
    Indicator("completion", "办结率", lambda f: f.due_closed, lambda f: f.due),
    Indicator("satisfaction", "满意率", lambda f: f.satisfied, lambda f: f.rated),
    Indicator("resolution", "解决率", lambda f: f.resolved, lambda f: f.resolution_asked),
    Indicator("returns", "回退率", lambda f: f.wrongful_returns, lambda f: f.assigned, False),
    Indicator("redo", "重办率", lambda f: f.reopened, lambda f: f.replied, False),
)}
SPEED_LABEL = "答复速度"


@dataclass(frozen=True)
class UnitInfo:
    id: int
    code: str
    name: str
    kind: str
    county: str | None = None


def rate(numerator: float, denominator: float) -> float | None:
    return min(1.0, numerator / denominator) if denominator else None


def speed(f: UnitFigures, normal_days: int) -> float | None:
    """答复速度: 1 at once, 0 at (or beyond) the normal reply time, from the median."""
    median = f.reply_median()
    return None if median is None else max(0.0, 1 - median / max(normal_days, 1))


def tier_rates(total: UnitFigures, members: list[UnitFigures],
               normal_days: int) -> dict[str, float | None]:
    out = {name: rate(ind.numerator(total), ind.denominator(total))
           for name, ind in INDICATORS.items()}
    replies = sum(len(f.reply_days) for f in members)
    out["reply_speed"] = (sum((speed(f, normal_days) or 0) * len(f.reply_days)
                              for f in members) / replies) if replies else None
    return out


def _shrink(successes: float, n: float, prior: float, k: float) -> float:
    return min(1.0, (successes + k * prior) / (n + k)) if n + k else prior


def figures_dict(f: UnitFigures) -> dict[str, Any]:
    return {
        "assigned": f.assigned, "signed": f.signed, "replied": f.replied, "closed": f.closed,
        "returned": f.returned, "wrongful_returns": f.wrongful_returns,
        "rightful_returns": f.rightful_returns, "reopened": f.reopened,
        "sign_due": f.sign_due, "sign_on_time": f.sign_on_time,
        "due": f.due, "due_carried": f.due_carried, "due_replied": f.due_replied,
        "due_on_time": f.due_on_time, "due_closed": f.due_closed, "late_open": f.late_open,
        "resolved": f.resolved, "resolution_asked": f.resolution_asked,
        "callback_unreached": f.callback_unreached,
        "cohandle_due": f.cohandle_due, "cohandle_on_time": f.cohandle_on_time,
        "replies_flagged": f.replies_flagged,
        "reply_days_median": f.reply_median(), "reply_days_p90": f.reply_p90(),
        "replies_timed": len(f.reply_days),
        "ratings": dict(f.ratings), "rated": f.rated, "satisfied": f.satisfied,
        "evaluations": {a: dict(g) for a, g in f.evaluations.items()},
    }


def unit_rates(f: UnitFigures, normal_days: int) -> dict[str, float | None]:
    out: dict[str, float | None] = {
        name: rate(ind.numerator(f), ind.denominator(f)) for name, ind in INDICATORS.items()}
    out["reply_speed"] = speed(f, normal_days)
    return {k: None if v is None else round(v, 4) for k, v in out.items()}


def score_tier(tier: TierSpec, members: list[tuple[UnitInfo, UnitFigures]],
               spec: RankingSpec, normal_days: int) -> dict[str, Any]:
    """The tier's table: every member with figures, rates, shrunk rates and score."""
    total = UnitFigures()
    for _, f in members:
        total.add(f)
    prior = tier_rates(total, [f for _, f in members], normal_days)
    present = {name: w for name, w in tier.weights.items() if w > 0 and prior.get(name) is not None}
    k = spec.prior_strength
    entries = []
    for unit, f in members:
        shrunk: dict[str, float] = {}
        for name in present:
            p = prior[name] or 0.0
            if name == "reply_speed":
                shrunk[name] = _shrink((speed(f, normal_days) or 0) * len(f.reply_days),
                                       len(f.reply_days), p, k)
                continue
            ind = INDICATORS[name]
            value = _shrink(ind.numerator(f), ind.denominator(f), p, k)
            shrunk[name] = value if ind.higher_is_better else 1 - value
        status = "no_cases" if f.idle else "too_few" if f.sample < tier.min_cases else "ranked"
        weight = sum(present.values())
        score = (round(100 * sum(present[n] * shrunk[n] for n in present) / weight, 2)
                 if status == "ranked" and weight else None)
        entries.append({
            "unit": unit.code, "name": unit.name, "kind": unit.kind, "tier": tier.code,
            "status": status, "score": score, "rank": None,
            "rates": unit_rates(f, normal_days),
            "shrunk": {n: round(v, 4) for n, v in shrunk.items()},
            "figures": figures_dict(f),
        })
    ranked = sorted((e for e in entries if e["status"] == "ranked"),
                    key=lambda e: (-e["score"], e["unit"]))
    for position, entry in enumerate(ranked, 1):
        entry["rank"] = position
    order = {"ranked": 0, "too_few": 1, "no_cases": 2}
    rest = sorted((e for e in entries if e["status"] != "ranked"),
                  key=lambda e: (order[e["status"]], e["unit"]))
    return {
        "code": tier.code, "title": tier.title, "weights": dict(tier.weights),
        "weights_used": present, "min_cases": tier.min_cases, "chart": tier.chart,
        "include_children": tier.include_children,
        "rates": {n: None if v is None else round(v, 4) for n, v in prior.items()},
        "totals": figures_dict(total), "entries": ranked + rest,
    }


def lists(tier: dict[str, Any], list_size: int,
          misconduct: dict[str, int]) -> tuple[list[str], list[str]]:
    """红榜 and 最难办事榜: disjoint, each at most half the ranked units (or list_size).
    A verified misconduct finding puts its unit first on the worst list outright."""
    ranked = [e for e in tier["entries"] if e["status"] == "ranked"]
    size = min(list_size, len(ranked) // 2)
    worst = sorted(e["unit"] for e in tier["entries"] if misconduct.get(e["unit"]))
    for entry in sorted(ranked, key=lambda e: (e["score"], e["unit"])):
        if len(worst) >= size:
            break
        if entry["unit"] not in worst:
            worst.append(entry["unit"])
    best = [e["unit"] for e in ranked if e["unit"] not in worst][:size]
    return best, worst
