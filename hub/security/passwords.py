"""Staff passwords: refused when guessable, hashed in a pool of their own.

Strength is zxcvbn's estimate (a kept port of Dropbox's estimator: dictionaries,
keyboard patterns, dates, l33t), which refuses 'Passw0rd!2024' that a length rule
accepts; a password may never contain the username. argon2 costs ~50 ms of CPU and
64 MiB per check, so checks run in a small pool separate from the database pool,
with a bounded queue: a burst of logins waits for (or is refused by) that pool and
never holds a database connection or slows intake.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

T = TypeVar("T")
MIN_LENGTH = 10
MIN_SCORE = 3  # zxcvbn 0-4; 3 = "safely unguessable" (about 10^8 guesses or more)


class WeakPassword(ValueError):
    """The password is too easy to guess; the message says why, in Chinese."""


def check_strength(password: str, username: str, *context: str) -> None:
    """Raise WeakPassword unless ``password`` is long, not built on the username and
    not guessable by zxcvbn."""
    from zxcvbn import zxcvbn

    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"密码至少需要 {MIN_LENGTH} 个字符")
    if len(password) > 200:
        raise WeakPassword("密码不能超过 200 个字符")
    name = username.strip().lower()
    if name and name in password.lower():
        raise WeakPassword("密码不能包含用户名")
    result = zxcvbn(password[:100], user_inputs=[username, *[c for c in context if c]])
    if result["score"] < MIN_SCORE:
        hint = (result.get("feedback") or {}).get("warning") or ""
        raise WeakPassword("密码太容易被猜到，请使用更长、不含常见单词或规律的密码"
                           + (f"（{hint}）" if hint else ""))


class Busy(RuntimeError):
    """Too many password checks are waiting; the caller should retry shortly."""


class PasswordVerifier:
    """argon2 hashing and checking in ``workers`` threads with at most ``max_waiting``
    calls queued. ``verified`` counts checks done, for tests and metrics."""

    def __init__(self, workers: int | None = None, max_waiting: int = 32) -> None:
        self.workers = workers or max(1, (os.cpu_count() or 2) // 2)
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="hub-auth")
        self.hasher = PasswordHasher()
        self.max_waiting = max_waiting
        self._waiting = 0
        self._lock = threading.Lock()
        self.verified = 0
        # checking against this when the user does not exist keeps timing the same
        self.dummy_hash = self.hasher.hash("not-a-real-password")

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self._waiting >= self.max_waiting + self.workers:
                raise Busy("too many password checks waiting")
            self._waiting += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.pool, functools.partial(fn, *args))
        finally:
            with self._lock:
                self._waiting -= 1

    def _verify(self, password_hash: str | None, password: str) -> bool:
        with self._lock:
            self.verified += 1
        try:
            return bool(self.hasher.verify(password_hash or self.dummy_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; a missing user (None) costs the same time."""
        return await self._run(self._verify, password_hash, password) and bool(password_hash)

    async def hash(self, password: str) -> str:
        return await self._run(self.hasher.hash, password)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
