"""The closed loop's time norms in deadlines.toml beyond the plain day counts:
office hours (工作时间, for 签收 limits in working hours), limits per category
(urgent categories shorter) and staged warnings (分级预警).

    [office_hours]
    periods = ["08:30-12:00", "14:00-17:30"]

    [categories."卫生计生"]
    sign_hours = 2      # 签收 within 2 working hours
    reply_days = 2      # 答复 within 2 working days (instead of reply_days.normal)

    [[warnings]]
    share = 0.5         # half the allowed time used
    to = "handler"      # 承办人 | head (单位负责人) | supervisor (督办员)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.config import _File

#: who a staged warning goes to, with the label pages show
AUDIENCES = {"handler": "承办人", "head": "单位负责人", "supervisor": "督办员"}
DEFAULT_OFFICE_HOURS = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))


@dataclass(frozen=True)
class CategoryNorm:
    sign_hours: float | None = None  # 签收 within this many office hours
    reply_days: int | None = None  # replaces reply_days.normal for the category


@dataclass(frozen=True)
class WarningStage:
    share: float  # of the allowed working time, 0 < share <= 1
    audience: str  # a key of AUDIENCES

    @property
    def label(self) -> str:
        return f"已用时限{round(self.share * 100)}%，提醒{AUDIENCES[self.audience]}"


@dataclass(frozen=True)
class NormSpec:
    office_hours: tuple[tuple[time, time], ...] = DEFAULT_OFFICE_HOURS
    categories: dict[str, CategoryNorm] = field(default_factory=dict)
    warnings: tuple[WarningStage, ...] = (
        WarningStage(0.5, "handler"), WarningStage(0.8, "head"), WarningStage(1.0, "supervisor"))


def load_norms(f: _File, categories: set[str]) -> NormSpec:
    """Read and check the three tables; ``categories`` are routing.toml's."""
    return NormSpec(office_hours=_office_hours(f), categories=_categories(f, categories),
                    warnings=_warnings(f))


def _office_hours(f: _File) -> tuple[tuple[time, time], ...]:
    table = f.data.get("office_hours", {})
    periods = table.get("periods") if isinstance(table, dict) else None
    if periods is None:
        return DEFAULT_OFFICE_HOURS
    if not isinstance(periods, list) or not periods:
        raise f.fail("periods", 'office_hours.periods must be a list like ["08:30-12:00"]')
    out: list[tuple[time, time]] = []
    for item in periods:
        match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", str(item))
        if not match:
            raise f.fail(item, f"office hours {item!r} must be written HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) >= (h2, m2):
            raise f.fail(item, f"office hours {item!r}: the start must come before the end")
        if out and time(h1, m1) < out[-1][1]:
            raise f.fail(item, "office hours must be in order and not overlap")
        out.append((time(h1, m1), time(h2, m2)))
    return tuple(out)


def _categories(f: _File, known: set[str]) -> dict[str, CategoryNorm]:
    table = f.data.get("categories", {})
    if not isinstance(table, dict):
        raise f.fail("categories", "[categories.<name>] must be tables")
    out: dict[str, CategoryNorm] = {}
    for name, norm in table.items():
        if name not in known:
            raise f.fail(name, f"unknown category {name!r} (routing.toml lists the categories)")
        if not isinstance(norm, dict) or set(norm) - {"sign_hours", "reply_days"}:
            raise f.fail(name, f"categories.{name} takes sign_hours and reply_days")
        hours, days = norm.get("sign_hours"), norm.get("reply_days")
        if hours is not None and (isinstance(hours, bool) or not isinstance(hours, int | float)
                                  or not 0 < hours <= 80):
            raise f.fail(name, f"categories.{name}.sign_hours must be a number from 0 to 80")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                                 or not 1 <= days <= 60):
            raise f.fail(name, f"categories.{name}.reply_days must be a whole number from 1 to 60")
        out[name] = CategoryNorm(float(hours) if hours is not None else None, days)
    return out


def _warnings(f: _File) -> tuple[WarningStage, ...]:
    stages: Any = f.data.get("warnings")
    if stages is None:
        return NormSpec.warnings
    if not isinstance(stages, list):
        raise f.fail("warnings", "warnings are [[warnings]] tables with share and to")
    out: list[WarningStage] = []
    for stage in stages:
        share, to = (stage.get("share"), stage.get("to")) if isinstance(stage, dict) else (0, "")
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            raise f.fail("share", "warnings.share must be a number above 0 and at most 1")
        if to not in AUDIENCES:
            raise f.fail(f"{to}", f"warnings.to must be one of {', '.join(AUDIENCES)}")
        if out and share <= out[-1].share:
            raise f.fail(f"{share}", "warnings must be listed by rising share")
        out.append(WarningStage(float(share), to))
    return tuple(out)
