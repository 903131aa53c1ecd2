"""The lists the staff pages' filters and forms choose from (units, counties,
categories, channels, states, views, sorts), from the city's configuration."""

from __future__ import annotations

from typing import Any

from hub.core import Hub
from hub.lifecycle.states import STATE_LABELS
from hub.web.inbox_queries import SORTS, VIEWS


def choices(hub: Hub) -> dict[str, Any]:
    """Template context shared by the inbox, case and user pages."""
    config = hub.config
    units = [u for u in config.units if u.kind != "city"]
    return {
        "units": units, "unit_names": {u.code: u.name for u in config.units},
        "counties": config.counties,
        "county_names": {c.code: c.name for c in config.counties},
        "categories": sorted(config.routing.categories),
        "sources": config.sources, "state_labels": STATE_LABELS,
        "views": VIEWS, "sorts": SORTS,
    }
