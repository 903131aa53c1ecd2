"""A few catalogue lines for the demo, as a city's 2026 review might have written
them: street lamps and illegal building go to 城管, a county's water to its 水利局."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.catalogue.store import add_line
from hub.config import CityConfig
from hub.models import DispatchEntry

LINES = (
    ({"category": "城乡建设", "subcategory": "市政设施", "item": "路灯", "unit": "chengguan"},
     "路灯归城管维护"),
    ({"category": "城乡建设", "subcategory": "城市管理", "item": "违章建筑",
      "unit": "chengguan"}, "违建查处归城管执法"),
    ({"category": "城乡建设", "subcategory": "市政设施", "item": "排水", "unit": "shuiwu"},
     "排水归水务"),
)


def seed(session: Session, config: CityConfig, today: date) -> int:
    """The lines, in force since the start of the year (once: not if any line exists)."""
    if session.scalar(select(func.count(DispatchEntry.id))):
        return 0
    units = {u.code for u in config.units}
    start = date(today.year, 1, 1) if today.month > 1 else today - timedelta(days=30)
    made = 0
    for fields, note in LINES:
        if fields["unit"] in units and fields["category"] in config.routing.categories:
            add_line(session, config, "demo", fields, start, note)
            made += 1
    return made
