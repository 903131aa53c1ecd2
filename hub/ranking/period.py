"""Reporting periods in the city's time zone: 2026-W47, 2026-11, 2026-Q4, 2026."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

UTC = ZoneInfo("UTC")


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    label: str
    kind: str  # week | month | quarter | year
    first: date
    last: date  # inclusive
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """Exclusive end: midnight after the last day."""
        return datetime.combine(self.last + timedelta(days=1), time(0),
                                tzinfo=self.tz).astimezone(UTC)

    def previous(self) -> Period:
        return period_containing(self.first - timedelta(days=1), self.kind, self.tz)


def parse_period(label: str, tz: ZoneInfo) -> Period:
    label = label.strip()
    if m := re.fullmatch(r"(\d{4})-W(\d{2})", label):
        year, week = int(m[1]), int(m[2])
        try:
            first = date.fromisocalendar(year, week, 1)
        except ValueError:
            raise PeriodError(f"{label}: {year} has no ISO week {week}") from None
        return Period(label, "week", first, first + timedelta(days=6), tz)
    if m := re.fullmatch(r"(\d{4})-(\d{2})", label):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"{label}: no month {month}")
        first = date(year, month, 1)
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        return Period(label, "month", first, nxt - timedelta(days=1), tz)
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", label):
        year, q = int(m[1]), int(m[2])
        first = date(year, 3 * q - 2, 1)
        nxt = date(year + (q == 4), (3 * q) % 12 + 1, 1)
        return Period(label, "quarter", first, nxt - timedelta(days=1), tz)
    if re.fullmatch(r"\d{4}", label):
        year = int(label)
        return Period(label, "year", date(year, 1, 1), date(year, 12, 31), tz)
    raise PeriodError(f"{label!r} is not a period: use 2026-W47, 2026-11, 2026-Q4 or 2026")


def period_containing(day: date, kind: str, tz: ZoneInfo) -> Period:
    if kind == "week":
        iso = day.isocalendar()
        return parse_period(f"{iso.year}-W{iso.week:02d}", tz)
    if kind == "month":
        return parse_period(f"{day.year}-{day.month:02d}", tz)
    if kind == "quarter":
        return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}", tz)
    return parse_period(str(day.year), tz)


def last_full_week(now: datetime, tz: ZoneInfo) -> Period:
    """The week before the one ``now`` falls in (what Monday's job reports)."""
    today = now.astimezone(tz).date()
    return period_containing(today - timedelta(days=7), "week", tz)


QUARTERS = ("一", "二", "三", "四")


def period_title(period: Period) -> str:
    """The period as bulletins print it: 2026年第47周（11月16日—11月22日）."""
    first, last = period.first, period.last
    if period.kind == "week":
        iso = first.isocalendar()
        return (f"{iso.year}年第{iso.week}周（{first.month}月{first.day}日—"
                f"{last.month}月{last.day}日）")
    if period.kind == "month":
        return f"{first.year}年{first.month}月"
    if period.kind == "quarter":
        return f"{first.year}年第{QUARTERS[(first.month - 1) // 3]}季度"
    return f"{first.year}年"
