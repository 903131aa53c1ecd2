"""Routing: category -> responsible unit, county from the text, rules first.

A rule (e.g. misconduct by officials -> 纪委监委, identity hidden) beats the
classifier; the classifier's category maps to a municipal department, and a county
named in the text (or one of its towns) sends the case to that county's own
department when there is one. Below the confidence threshold the case goes to a
dispatcher with the top three suggestions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from classifiers.decision import RouteDecision
from classifiers.lexicon import tree_rows
from classifiers.model import CategoryClassifier
from classifiers.text import add_words
from classifiers.train import SEED_LEXICON as SEED_TAXONOMY
from hub.catalogue.lookup import Catalogue, FinerCategories
from hub.config import CityConfig, RoutingSpec
from hub.whistleblower import accused_units

if TYPE_CHECKING:
    from hub.core import Hub

log = logging.getLogger(__name__)


class Gazetteer:
    """County/district detection from names, aliases and town (街道/镇) names."""

    def __init__(self, config: CityConfig) -> None:
        self.names: list[tuple[str, str]] = []
        for county in config.counties:
            for name in (county.name, *county.aliases):
                self.names.append((name, county.code))
            for town in county.towns:
                self.names.append((town, county.code))
        self.names.sort(key=lambda pair: -len(pair[0]))

    def county_of(self, text: str) -> str | None:
        """The county mentioned most; ties go to the one mentioned first."""
        counts: dict[str, int] = {}
        first: dict[str, int] = {}
        for name, code in self.names:
            at = text.find(name)
            if at >= 0:
                counts[code] = counts.get(code, 0) + text.count(name)
                first[code] = min(first.get(code, at), at)
        if not counts:
            return None
        return max(counts, key=lambda c: (counts[c], -first[c]))


@dataclass(frozen=True)
class Urgency:
    urgent: bool
    terms: tuple[str, ...]


def detect_urgency(text: str, spec: RoutingSpec) -> Urgency:
    cleaned = text
    for phrase in spec.urgency_negations:
        cleaned = cleaned.replace(phrase, "")
    hits = tuple(t for t in spec.urgency_terms if t in cleaned)
    return Urgency(bool(hits), hits)


class Router:
    def __init__(self, config: CityConfig, model: CategoryClassifier | None,
                 unit_codes: set[str]) -> None:
        self.config = config
        self.spec = config.routing
        self.model = model
        self.unit_codes = unit_codes
        self.gazetteer = Gazetteer(config)
        self.threshold = float(model.meta.get("threshold", self.spec.triage_threshold)) \
            if model else self.spec.triage_threshold
        # a category much harder than the rest has a higher threshold of its own
        # (classifiers/promise.py)
        self.thresholds: dict[str, float] = dict(model.meta.get("thresholds") or {}) \
            if model else {}
        self.version = model.version if model else None
        # finer categories from the tree the model was trained with (else the seed's),
        # and the dispatch catalogue once the pipeline loads it (use_catalogue)
        tree = (model.meta.get("taxonomy") if model else None) or tree_rows(SEED_TAXONOMY)
        self.finer = FinerCategories([tuple(r) for r in tree])  # type: ignore[misc]
        self.catalogue: Catalogue | None = None
        self.catalogue_signature: object = None
        self.tz = ZoneInfo(config.deadlines.timezone)
        add_words([n for n, _ in self.gazetteer.names] + [u.name for u in config.units])
        self.model_path: Path | None = None
        self.model_mtime: float | None = None

    def is_stale(self) -> bool:
        """True once a retrain (in any process) replaced the model file."""
        if self.model_path is None or not self.model_path.exists():
            return False
        return self.model_path.stat().st_mtime != self.model_mtime

    def unit_for(self, department: str, county: str | None) -> str:
        local = f"{county}-{department}" if county else None
        return local if local and local in self.unit_codes else department

    def use_catalogue(self, catalogue: Catalogue, signature: object) -> None:
        """Dispatch by this catalogue from now on (hub/catalogue/)."""
        self.catalogue, self.catalogue_signature = catalogue, signature

    def route_many(self, texts: list[str], day: date | None = None) -> list[RouteDecision]:
        """Decisions for ``texts``; ``day`` (the city's today by default) picks the
        catalogue lines in force."""
        day = day or datetime.now(self.tz).date()
        tops = self.model.top(texts, k=3) if self.model and texts else [[] for _ in texts]
        return [self._decide(text, top, day) for text, top in zip(texts, tops, strict=True)]

    def route(self, text: str, day: date | None = None) -> RouteDecision:
        return self.route_many([text], day)[0]

    def _dispatch(self, text: str, category: str, county: str | None, day: date
                  ) -> dict[str, object]:
        """The unit for a predicted category: the catalogue's most specific line in
        force (an any-area line still goes to the named county's own department, as
        [categories] does), else config's [categories]; with the finer category."""
        sub, item = self.finer.guess(text, category)
        found = self.catalogue.unit_for(category, sub, item, county, day) \
            if self.catalogue is not None else None
        if found is not None and found.unit in self.unit_codes:
            unit = found.unit if found.for_county else self.unit_for(found.unit, county)
            return {"unit": unit, "sub": sub, "item": item, "via": f"目录{found.level}"}
        dept = self.spec.categories.get(category)
        return {"unit": self.unit_for(dept, county) if dept else None, "sub": sub,
                "item": item}

    def _decide(self, text: str, top: list[tuple[str, float]], day: date) -> RouteDecision:
        county = self.gazetteer.county_of(text)
        urgency = detect_urgency(text, self.spec)
        for rule in self.spec.rules:
            if any(term in text for term in rule.terms):
                unit = self.unit_for(rule.unit, county) if rule.county_level else rule.unit
                accused = tuple(accused_units(self.config, text)) if rule.hide_identity else ()
                return RouteDecision(
                    category=rule.category, unit_code=unit, county_code=county, confidence=1.0,
                    # a report naming the rule's own unit waits for a person
                    needs_triage=unit in accused, suggestions=[
                        {"category": rule.category, "unit": unit, "p": 1.0, "rule": rule.name}],
                    urgent=urgency.urgent, urgent_terms=urgency.terms,
                    hide_identity=rule.hide_identity, rule=rule.name, accused=accused)
        suggestions = []
        for category, p in top:
            where = self._dispatch(text, category, county, day)
            suggestions.append({"category": category, "unit": where.pop("unit"),
                                "p": round(p, 4), **{k: v for k, v in where.items() if v}})
        if not suggestions:
            return RouteDecision(None, None, county, 0.0, True, [], urgency.urgent,
                                 urgency.terms)
        best = suggestions[0]
        limit = self.thresholds.get(best["category"], self.threshold)
        confident = best["p"] >= limit and best["unit"] is not None
        return RouteDecision(
            category=best["category"], unit_code=best["unit"], county_code=county,
            confidence=float(best["p"]), needs_triage=not confident, suggestions=suggestions,
            urgent=urgency.urgent, urgent_terms=urgency.terms, model=self.version)


def train_seed_model(path: Path) -> CategoryClassifier:
    """A small model from the repo's own seed corpus, so a fresh clone routes sensibly."""
    from classifiers.train import SEED_CORPUS, Columns, Extras, build_training_set, labelled

    texts, labels = labelled(SEED_CORPUS, Columns())
    data = build_training_set(texts, labels, Extras(), Columns())
    model = CategoryClassifier().fit(data)
    model.meta.update(seed=True, threshold=0.3,
                      source={"file": str(SEED_CORPUS), "extras": False})
    model.save(path)
    return model


def load_router(hub: Hub) -> Router:
    """Load the trained model once; train the seed model if there is none yet."""
    path = hub.settings.resolved_model_path
    model: CategoryClassifier | None
    try:
        model = CategoryClassifier.load(path) if path.exists() else train_seed_model(path)
    except Exception:
        log.exception("cannot load the routing model %s; every case goes to triage", path)
        model = None
    router = Router(hub.config, model, set(hub.unit_ids))
    router.model_path = path
    router.model_mtime = path.stat().st_mtime if path.exists() else None
    try:  # the dispatch catalogue as it stands (the pipeline reloads it when it changes)
        from hub.catalogue import store

        with hub.sessions() as s:
            store.refresh(router, s)
    except Exception:  # the database is unreachable: the pipeline loads it once it is
        log.warning("dispatch catalogue not loaded yet; routing by config until it is")
    return router
