"""Query codes (查询验证码) that cannot be guessed by trying.

A code is six characters from 32 (about 10^9 values). Each check is throttled twice,
in the database so every process counts it:

- per client address, every look-up and rating (``PER_CLIENT``), so one address
  cannot sweep many case numbers;
- per case number, wrong codes (``PER_NUMBER``): after that many failures the
  number's code checks are locked until the window ends, from every address, so
  spreading guesses over addresses does not help either.

The failure is reserved before the code is compared (atomic, hub/security/throttle)
and given back when the code was right, so simultaneous guesses cannot slip past.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from hub.db import transaction
from hub.lifecycle.service import CaseError, NotFound
from hub.security import throttle
from hub.security.throttle import Limit, key_of

T = TypeVar("T")
PER_CLIENT = Limit("code:client", 30, timedelta(minutes=10))
PER_NUMBER = Limit("code:number", 5, timedelta(hours=1))
NUMBER_RE = re.compile(r"[0-9]{8,20}")


class CodeLocked(CaseError):
    """Too many checks: the answer is 429 with Retry-After."""

    status, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def valid_number(number: str) -> bool:
    return bool(NUMBER_RE.fullmatch(number.strip()))


def checked(sessions: sessionmaker[Session], secret: str, number: str, client: str,
            work: Callable[[], T]) -> T:
    """Run ``work`` (which compares the code and raises NotFound when it is wrong)
    behind the per-client and per-number limits."""
    number = number.strip()
    number_key = key_of(secret, PER_NUMBER, number)
    with transaction(sessions) as s:
        by_client = throttle.hit(s, key_of(secret, PER_CLIENT, client), PER_CLIENT)
        by_number = throttle.hit(s, number_key, PER_NUMBER) if by_client.allowed else None
    if not by_client.allowed:
        raise CodeLocked("查询过于频繁，请稍后再试", by_client.retry_after)
    assert by_number is not None
    if not by_number.allowed:
        raise CodeLocked("该工单的查询验证码错误次数过多，已暂时锁定，请稍后再试",
                         by_number.retry_after)
    try:
        result = work()
    except NotFound:
        raise  # the reserved failure stays counted
    except BaseException:
        _give_back(sessions, number_key)  # the code was right; something else failed
        raise
    _give_back(sessions, number_key)
    return result


def _give_back(sessions: sessionmaker[Session], key: str) -> None:
    with transaction(sessions) as s:
        throttle.undo(s, key)
