"""Working days (工作日) as officially set: public holidays off, make-up days (调休) on.

chinesecalendar carries the State Council's arrangements for the years it knows;
for a later year the city lists its days in config/deadlines.toml, and until then
weekends are the only days off (and a warning says so once).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

from hub.config import DeadlineSpec

log = logging.getLogger(__name__)
UTC = ZoneInfo("UTC")


class WorkCalendar:
    def __init__(self, spec: DeadlineSpec) -> None:
        self.tz = ZoneInfo(spec.timezone)
        self.extra_holidays = {date.fromisoformat(d) for d in spec.extra_holidays}
        self.extra_workdays = {date.fromisoformat(d) for d in spec.extra_workdays}
        self.office_hours = spec.norms.office_hours
        self.warning_stages = spec.norms.warnings
        self._warned: set[int] = set()
        self.is_workday = lru_cache(maxsize=8192)(self._is_workday)  # type: ignore[method-assign]

    def _is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self._warned:
                self._warned.add(day.year)
                log.warning("no official calendar for %d: counting weekends only; "
                            "list holidays in config/deadlines.toml", day.year)
            return day.weekday() < 5

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def add_workdays(self, start: datetime, days: int) -> datetime:
        """The end (23:59:59 local) of the ``days``-th working day after ``start``'s day."""
        day = self.local_date(start)
        left = days
        while left > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        end = datetime.combine(day, time(23, 59, 59), tzinfo=self.tz)
        return end.astimezone(UTC)

    def workdays_between(self, start: datetime, end: datetime) -> float:
        """Elapsed working time in days: only the parts of working days count."""
        if end <= start:
            return 0.0
        a, b = start.astimezone(self.tz), end.astimezone(self.tz)
        total = 0.0
        day = a.date()
        while day <= b.date():
            if self.is_workday(day):
                lo = max(a, datetime.combine(day, time(0), tzinfo=self.tz))
                hi = min(b, datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz))
                total += max(0.0, (hi - lo).total_seconds()) / 86400
            day += timedelta(days=1)
        return total

    def add_working_time(self, start: datetime, days: float) -> datetime:
        """The end (23:59:59 local) of the working day in which ``days`` of working
        time counted from ``start`` run out: a paused case's clock resumes with the
        working time it had left (``workdays_between`` measured it), and its deadline
        is again the end of a working day, like every other deadline."""
        moment = self.moment_after(start, days)
        day = self.local_date(moment)
        # time that runs out exactly at midnight ran out on the working day before
        if (moment.astimezone(self.tz).time() == time(0) and moment > start
                and self.is_workday(day - timedelta(days=1))):
            day -= timedelta(days=1)
        end = datetime.combine(day, time(23, 59, 59), tzinfo=self.tz)
        return end.astimezone(UTC)

    def moment_after(self, start: datetime, days: float) -> datetime:
        """The exact moment ``days`` of working time (whole working days count 24 h,
        as in ``workdays_between``) after ``start``: when a share of a case's allowed
        time is used up (staged warnings, hub/lifecycle/warnings.py)."""
        moment = start.astimezone(self.tz)
        day, left = moment.date(), max(0.0, days)
        while True:
            if self.is_workday(day):
                begin = max(moment, datetime.combine(day, time(0), tzinfo=self.tz))
                rest = (datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)
                        - begin).total_seconds() / 86400
                if left <= rest:
                    return (begin + timedelta(days=left)).astimezone(UTC)
                left -= rest
            day += timedelta(days=1)

    def add_office_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` of office time (the configured 工作时间 of working
        days) after ``start``: a 签收 limit in working hours (per category)."""
        moment = start.astimezone(self.tz)
        day, left = moment.date(), timedelta(hours=max(0.0, hours))
        while True:
            if self.is_workday(day):
                for begin, end in self.office_hours:
                    lo = max(moment, datetime.combine(day, begin, tzinfo=self.tz))
                    hi = datetime.combine(day, end, tzinfo=self.tz)
                    if hi <= lo:
                        continue
                    if left <= hi - lo:
                        return (lo + left).astimezone(UTC)
                    left -= hi - lo
            day += timedelta(days=1)

    def workdays_left(self, now: datetime, deadline: datetime) -> int:
        """Whole working days from today until the deadline's day (negative when late)."""
        today, due = self.local_date(now), self.local_date(deadline)
        if due == today:
            return 0
        step = 1 if due > today else -1
        count, day = 0, today
        while day != due:
            day += timedelta(days=step)
            if self.is_workday(day):
                count += step
        if now > deadline and count == 0:
            return -1
        return count
