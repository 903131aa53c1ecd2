"""The router's answer about one appeal: the type the router produces and the case
service consumes (data flows classifier -> case, so it lives with the classifier)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RouteDecision:
    """What the router says about one appeal (see classifiers.router)."""

    category: str | None
    unit_code: str | None
    county_code: str | None
    confidence: float
    needs_triage: bool
    suggestions: list[dict[str, Any]]
    urgent: bool = False
    urgent_terms: tuple[str, ...] = ()
    hide_identity: bool = False
    rule: str | None = None
    accused: tuple[str, ...] = ()  # units a misconduct report names (hub/whistleblower.py)
    model: str | None = None  # the classifier version that decided (None: a rule, no model)
