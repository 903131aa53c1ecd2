"""How well the router dispatches: the figures a 12345 centre watches, per model
version and per week (the admin page /admin/router and ``hub router stats --json``).

Read from the cases and their event log, for cases the classifier decided (a rule's
dispatch or a case opened without a model is not the router's to answer for; merged
duplicates follow another case and are left out):

- 自动派单率: the share the router sent to a unit without a dispatcher;
- 首派准确率: of those, the share still with the unit it was first sent to: never
  改派 elsewhere and never returned rightfully (a return ruled 错退 goes back to the
  same unit and keeps it right; a return still waiting for its ruling counts as not
  right until it is ruled);
- 退单率: the share of auto-dispatched cases a unit returned (whatever the ruling);
- 改派次数: assignments of those cases to a unit other than the first;
- 更正分类: cases whose category a person changed, by (predicted → corrected);
- drift: how far the week's category mix (as finally categorised) is from the mix
  the current model was trained on (total variation distance, 0 = the same).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from hub.models import Case, CaseEvent
from hub.ranking.period import Period, period_containing

MOVES = ("assign", "reassign")


@dataclass
class WeekFigures:
    """One model version in one week."""

    week: str
    model: str
    decided: int = 0
    auto: int = 0
    first_right: int = 0
    returned: int = 0
    moves: int = 0
    corrected: Counter[tuple[str, str]] = field(default_factory=Counter)
    mix: Counter[str] = field(default_factory=Counter)

    @property
    def auto_share(self) -> float | None:
        return self.auto / self.decided if self.decided else None

    @property
    def first_accuracy(self) -> float | None:
        return self.first_right / self.auto if self.auto else None

    @property
    def return_rate(self) -> float | None:
        return self.returned / self.auto if self.auto else None

    def as_dict(self, training_mix: dict[str, int]) -> dict[str, Any]:
        return {"week": self.week, "model": self.model, "decided": self.decided,
                "auto_routed": self.auto, "auto_routed_share": _round(self.auto_share),
                "first_dispatch_right": self.first_right,
                "first_dispatch_accuracy": _round(self.first_accuracy),
                "returned": self.returned, "return_rate": _round(self.return_rate),
                "reassignments": self.moves,
                "corrected": [{"from": a, "to": b, "cases": n}
                              for (a, b), n in sorted(self.corrected.items(),
                                                      key=lambda kv: (-kv[1], kv[0]))],
                "drift": drift(self.mix, training_mix)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def drift(mix: Counter[str] | dict[str, int], training: dict[str, int]) -> dict[str, Any]:
    """Total variation distance between two category mixes, and the category whose
    share moved most (None when either mix is empty)."""
    total, base = sum(mix.values()), sum(training.values())
    if not total or not base:
        return {"distance": None, "largest_shift": None}
    shifts = {c: mix.get(c, 0) / total - training.get(c, 0) / base
              for c in sorted(set(mix) | set(training))}
    largest = min(shifts, key=lambda c: (-round(abs(shifts[c]), 9), c))
    return {"distance": round(sum(abs(v) for v in shifts.values()) / 2, 4),
            "largest_shift": {"category": largest, "change": round(shifts[largest], 4)}}


def _router_assignment(event: Any) -> Any:
    """The router's own 交办 of a case, made in the transaction that opened it: how an
    automatic dispatch is told from a dispatcher's."""
    return and_(event.case_id == Case.id, event.action == "assign",
                event.at == Case.created_at)


def weeks_back(now: datetime, tz: ZoneInfo, count: int) -> list[Period]:
    """The week ``now`` falls in and the ``count - 1`` before it, newest first."""
    today = now.astimezone(tz).date()
    return [period_containing(today - timedelta(days=7 * i), "week", tz) for i in range(count)]


def week_figures(session: Session, period: Period) -> list[WeekFigures]:
    """Every model version's figures for cases opened in ``period`` (one grouped query)."""
    first = aliased(CaseEvent)
    later = aliased(CaseEvent)
    in_week = and_(Case.route_model.is_not(None), Case.created_at >= period.start,
                   Case.created_at < period.end, Case.merged_into_id.is_(None))
    opening = (select(first.unit_id).where(_router_assignment(first))
               .limit(1).correlate(Case).scalar_subquery())
    moves = (select(func.count(later.id)).where(
        later.case_id == Case.id, later.action.in_(MOVES), later.unit_id != opening)
        .correlate(Case).scalar_subquery())
    returned = exists().where(CaseEvent.case_id == Case.id, CaseEvent.action == "return")
    rows = session.execute(
        select(Case.route_model, Case.route_category, Case.category,
               Case.state == "returned", opening.label("first_unit"),
               moves.label("moves"), returned.label("returned"))
        .where(in_week)).all()
    out: dict[str, WeekFigures] = {}
    for model, predicted, category, waiting, first_unit, moved, was_returned in rows:
        fig = out.setdefault(model, WeekFigures(period.label, model))
        fig.decided += 1
        fig.mix[category or "未分类"] += 1
        if predicted and category and predicted != category:
            fig.corrected[(predicted, category)] += 1
        if first_unit is None:
            continue
        fig.auto += 1
        fig.moves += int(moved or 0)
        fig.returned += int(bool(was_returned))
        if not moved and not waiting:
            fig.first_right += 1
    return [out[m] for m in sorted(out)]


def stats(session: Session, now: datetime, tz: ZoneInfo, weeks: int,
          training_mix: dict[str, int]) -> dict[str, Any]:
    """The figures for the last ``weeks`` weeks, per week and model, and the
    categories most often corrected over all of them."""
    rows: list[WeekFigures] = []
    for period in weeks_back(now, tz, weeks):
        rows += week_figures(session, period)
    corrected: Counter[tuple[str, str]] = Counter()
    by_model: dict[str, WeekFigures] = defaultdict(lambda: WeekFigures("", ""))
    for fig in rows:
        corrected += fig.corrected
        total = by_model[fig.model]
        total.model = fig.model
        for name in ("decided", "auto", "first_right", "returned", "moves"):
            setattr(total, name, getattr(total, name) + getattr(fig, name))
        total.corrected += fig.corrected
        total.mix += fig.mix
    return {
        "weeks": [fig.as_dict(training_mix) for fig in rows],
        "models": [{k: v for k, v in by_model[m].as_dict(training_mix).items() if k != "week"}
                   for m in sorted(by_model)],
        "most_corrected": [{"from": a, "to": b, "cases": n}
                           for (a, b), n in sorted(corrected.items(),
                                                   key=lambda kv: (-kv[1], kv[0]))[:10]],
        "training_mix": training_mix,
    }


def router_report(hub: Any, now: datetime, weeks: int = 8, model: Any = None
                  ) -> dict[str, Any]:
    """Everything the admin page and ``hub router stats`` show: the running model
    (``model``, else the model file), the promise its training made, the last
    retrain's comparison and the figures."""
    from classifiers.model import CategoryClassifier
    from classifiers.retrain import last_summary

    path = hub.settings.resolved_model_path
    meta: dict[str, Any] = {}
    version = None
    if model is not None:
        meta, version = model.meta, model.version
    elif path.exists():
        try:
            model = CategoryClassifier.load(path)
            meta, version = model.meta, model.version
        except (OSError, ValueError) as exc:
            meta = {"error": str(exc)}
    mix = dict(meta.get("class_counts") or {
        c: m.get("support", 0) for c, m in ((meta.get("cv") or {}).get("per_class") or {}).items()})
    tz = ZoneInfo(hub.config.deadlines.timezone)
    with hub.sessions() as s:
        figures = stats(s, now, tz, weeks, mix)
    return {"model": {"version": version, "seed": bool(meta.get("seed")),
                      "trained_at": meta.get("trained_at"),
                      "threshold": meta.get("threshold"),
                      "per_category_thresholds": meta.get("thresholds") or {},
                      "promise": meta.get("promise")},
            "last_retrain": last_summary(path), **figures}


def confirmed(session: Session, limit: int = 5000) -> list[tuple[str, str]]:
    """(text, category) of the newest closed cases that confirm the router: sent
    automatically, never 改派 nor returned, category unchanged, closed as 办结 (not by
    a supervisor's 审核办结). Learning from corrections alone trains on mistakes only
    (benchmarks/router_learning.py measures what these add)."""
    from hub.models import Appeal

    first = aliased(CaseEvent)
    other = aliased(CaseEvent)
    auto = exists().where(_router_assignment(first))
    disturbed = exists().where(other.case_id == Case.id, or_(
        other.action.in_(("reassign", "return", "conclude")),
        and_(other.action == "assign", other.at != Case.created_at)))
    rows = session.execute(
        select(Appeal.title, Appeal.body, Case.category)
        .join(Appeal, Appeal.id == Case.appeal_id)
        .where(Case.state == "closed", Case.route_model.is_not(None),
               Case.category == Case.route_category, auto, ~disturbed)
        .order_by(Case.id.desc()).limit(limit)).all()
    return [(f"{title}\n{body}", category) for title, body, category in rows]
