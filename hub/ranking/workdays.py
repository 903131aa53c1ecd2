"""Working days between many pairs of moments at once (NumPy), for reply times.

The same measure as ``WorkCalendar.workdays_between`` (only the parts of working
days count, public holidays and make-up days as officially set), computed for a
week's tens of thousands of replies without a Python loop over each one's days:
a cumulative working-seconds curve over the days concerned, read at both ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

import numpy as np

from hub.lifecycle.calendar import WorkCalendar


def workdays_between_many(calendar: WorkCalendar, starts: Sequence[datetime],
                          ends: Sequence[datetime]) -> np.ndarray:
    if not starts:
        return np.zeros(0)
    first = min(calendar.local_date(m) for m in starts)
    last = max(calendar.local_date(m) for m in ends)
    last = max(last, first)
    days = [first + timedelta(days=i) for i in range((last - first).days + 2)]
    # local midnights as UTC epoch seconds: day lengths follow the zone's clock changes
    bounds = np.array([datetime.combine(d, time(0), tzinfo=calendar.tz).timestamp()
                       for d in days])
    work = np.array([calendar.is_workday(d) for d in days[:-1]], dtype=np.float64)
    cumulative = np.concatenate([[0.0], np.cumsum(np.diff(bounds) * work)])

    def worked(moments: np.ndarray) -> np.ndarray:
        idx = np.clip(np.searchsorted(bounds, moments, side="right") - 1, 0, len(work) - 1)
        return cumulative[idx] + work[idx] * (moments - bounds[idx])

    a = np.array([m.timestamp() for m in starts])
    b = np.array([m.timestamp() for m in ends])
    return np.where(b > a, np.maximum(worked(b) - worked(a), 0.0), 0.0) / 86400
