"""Staff accounts and login sessions.

Passwords are argon2id hashes, checked in the hub's own password pool
(hub/security/passwords.py) and refused at creation when guessable. The session
cookie carries a random token; the database keeps only its SHA-256, so a leaked
table cannot be replayed. Every session has its own CSRF token, checked on every
state-changing request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from hub.db import transaction
from hub.models import Unit, User, WebSession, utcnow
from hub.security import throttle
from hub.security.passwords import WeakPassword, check_strength
from hub.security.text import as_bytes, clean_line, unstorable
from hub.security.throttle import Limit, key_of

ROLES = {
    "operator": "话务员", "dispatcher": "派单员", "unit": "承办单位",
    "supervisor": "督办员", "admin": "管理员",
}
_hasher = PasswordHasher()
USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


class AuthError(ValueError):
    """A user could not be created or could not log in."""


@dataclass(frozen=True)
class Staff:
    """The logged-in user as the views see it."""

    user_id: int
    username: str
    display_name: str
    role: str
    unit_id: int | None
    unit_name: str | None
    csrf_token: str
    unit_discipline: bool = False  # a discipline body (纪委监委): sees whistleblowers
    head: bool = False  # 单位负责人: also hears the head's stage of staged warnings

    @property
    def role_label(self) -> str:
        return ROLES[self.role]


def _digest(token: str) -> str:
    return hashlib.sha256(as_bytes(token)).hexdigest()


def add_user(session: Session, username: str, password: str, role: str,
             display_name: str | None = None, unit_code: str | None = None,
             head: bool = False) -> User:
    """Create a staff account; unit staff must belong to a unit; the password must
    not be guessable (hub/security/passwords.py)."""
    if role not in ROLES:
        raise AuthError("角色须为：" + "、".join(f"{k}（{v}）" for k, v in ROLES.items()))
    if not username or len(username) > 60 or not set(username) <= USERNAME_CHARS:
        raise AuthError("用户名只能由小写字母、数字和 . _ - 组成，最多 60 个字符")
    if unstorable(password):
        raise AuthError("密码含有无法保存的字符")
    display_name = clean_line(display_name or "", 60) or None
    try:
        check_strength(password, username, display_name or "")
    except WeakPassword as exc:
        raise AuthError(str(exc)) from None
    unit_id = None
    if role == "unit" or unit_code:
        if not unit_code:
            raise AuthError("承办单位的账号须指定所属单位（--unit CODE）")
        unit_id = session.scalar(select(Unit.id).where(Unit.code == unit_code))
        if unit_id is None:
            raise AuthError(f"没有编码为 {unit_code!r} 的单位")
    if session.scalar(select(User.id).where(User.username == username)):
        raise AuthError(f"用户名 {username!r} 已存在")
    user = User(username=username, display_name=display_name or username,
                password_hash=_hasher.hash(password), role=role, unit_id=unit_id,
                head=head and role == "unit")
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[dict[str, Any]]:
    """Every staff account with its unit's name, oldest first (the admin's user list)."""
    return [{"username": u.username, "display_name": u.display_name, "role": u.role,
             "unit": name, "active": u.active, "head": u.head}
            for u, name in session.execute(select(User, Unit.name)
                                           .outerjoin(Unit, Unit.id == User.unit_id)
                                           .order_by(User.id))]


def password_hash_of(session: Session, username: str) -> tuple[int, str] | None:
    """(user id, argon2 hash) of an active account; verifying happens elsewhere, in the
    password pool, after the database connection is back in its pool."""
    if unstorable(username):
        return None
    row = session.execute(select(User.id, User.password_hash)
                          .where(User.username == username, User.active)).first()
    return (row[0], row[1]) if row else None


def start_session(session: Session, user: User | int, hours: float,
                  now: datetime | None = None) -> str:
    """Store a new session and return the cookie token (shown to nobody else)."""
    now = now or utcnow()
    user_id = user if isinstance(user, int) else user.id
    token = secrets.token_urlsafe(32)
    session.add(WebSession(id=_digest(token), user_id=user_id, csrf_token=secrets.token_urlsafe(24),
                           created_at=now, expires_at=now + timedelta(hours=hours)))
    session.execute(delete(WebSession).where(WebSession.user_id == user_id,
                                             WebSession.expires_at < now))
    return token


def load_staff(session: Session, token: str, now: datetime | None = None) -> Staff | None:
    """The staff member behind a cookie token, or None if unknown, expired or disabled."""
    if not token:
        return None
    now = now or utcnow()
    row = session.execute(
        select(WebSession, User, Unit.name, Unit.discipline)
        .join(User, User.id == WebSession.user_id)
        .outerjoin(Unit, Unit.id == User.unit_id).where(WebSession.id == _digest(token))).first()
    if row is None:
        return None
    web_session, user, unit_name, discipline = row
    if web_session.expires_at <= now or not user.active:
        return None
    return Staff(user_id=user.id, username=user.username, display_name=user.display_name,
                 role=user.role, unit_id=user.unit_id, unit_name=unit_name,
                 csrf_token=web_session.csrf_token, unit_discipline=bool(discipline),
                 head=bool(user.head))


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id == _digest(token)))


class LoginLimiter:
    """Failed logins limited per (username, client address) and per client address.

    Never one lock per username: an attacker guessing from elsewhere cannot lock the
    real user out. An attempt is reserved *before* the password is checked (one
    atomic upsert per key, hub/security/throttle.py), so simultaneous guesses cannot
    all slip under the limit; a correct password gives its reservation back. The
    counters live in the database, shared by every process, under keyed hashes.
    """

    def __init__(self, sessions: sessionmaker[Session], secret: str,
                 per_user_address: int = 5, per_address: int = 20,
                 window_s: float = 300.0) -> None:
        self.sessions = sessions
        self.secret = secret
        window = timedelta(seconds=window_s)
        self.user_rule = Limit("login:user@address", per_user_address, window)
        self.address_rule = Limit("login:address", per_address, window)

    def keys(self, username: str, address: str) -> tuple[str, str]:
        return (key_of(self.secret, self.user_rule, username.strip().lower(), address),
                key_of(self.secret, self.address_rule, address))

    def reserve(self, username: str, address: str, now: datetime | None = None) -> int:
        """Reserve one attempt; 0 when allowed, else the seconds to wait (Retry-After)."""
        user_key, address_key = self.keys(username, address)
        with transaction(self.sessions) as s:  # keys always in this order: no deadlocks
            by_user = throttle.hit(s, user_key, self.user_rule, now)
            by_address = throttle.hit(s, address_key, self.address_rule, now)
        refused = [h.retry_after for h in (by_user, by_address) if not h.allowed]
        return max(refused) if refused else 0

    def give_back(self, username: str, address: str) -> None:
        """The attempt was not a guess (the check could not run): uncount it."""
        with transaction(self.sessions) as s:
            for key in self.keys(username, address):
                throttle.undo(s, key)

    def succeeded(self, session: Session, username: str, address: str) -> None:
        """A correct password clears this user's failures from this address and gives
        the address its attempt back (an office behind one address logs in freely)."""
        user_key, address_key = self.keys(username, address)
        throttle.reset(session, user_key)
        throttle.undo(session, address_key)
