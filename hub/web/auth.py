"""Staff accounts and login sessions.

Passwords are argon2id hashes. The session cookie carries a random token; the
database keeps only its SHA-256, so a leaked table cannot be replayed. Every
session has its own CSRF token, checked on every state-changing request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from hub.db import transaction
from hub.models import LoginFailure, Unit, User, WebSession, utcnow

ROLES = {
    "operator": "话务员", "dispatcher": "派单员", "unit": "承办单位",
    "supervisor": "督办员", "admin": "管理员",
}
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# verifying against this when the user does not exist keeps timing the same
_DUMMY_HASH = _hasher.hash("not-a-real-password")


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

    @property
    def role_label(self) -> str:
        return ROLES[self.role]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(session: Session, username: str, password: str, role: str,
             display_name: str | None = None, unit_code: str | None = None) -> User:
    """Create a staff account; unit staff must belong to a unit."""
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"the password needs at least {MIN_PASSWORD} characters")
    unit_id = None
    if role == "unit" or unit_code:
        if not unit_code:
            raise AuthError("unit staff need --unit CODE")
        unit_id = session.scalar(select(Unit.id).where(Unit.code == unit_code))
        if unit_id is None:
            raise AuthError(f"no unit with code {unit_code!r}")
    if session.scalar(select(User.id).where(User.username == username)):
        raise AuthError(f"user {username!r} already exists")
    user = User(username=username, display_name=display_name or username,
                password_hash=_hasher.hash(password), role=role, unit_id=unit_id)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username, User.active))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def start_session(session: Session, user: User, hours: float,
                  now: datetime | None = None) -> str:
    """Store a new session and return the cookie token (shown to nobody else)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(WebSession(id=_digest(token), user_id=user.id, csrf_token=secrets.token_urlsafe(24),
                           created_at=now, expires_at=now + timedelta(hours=hours)))
    session.execute(delete(WebSession).where(WebSession.user_id == user.id,
                                             WebSession.expires_at < now))
    return token


def load_staff(session: Session, token: str, now: datetime | None = None) -> Staff | None:
    """The staff member behind a cookie token, or None if unknown, expired or disabled."""
    if not token:
        return None
    now = now or utcnow()
    row = session.execute(
        select(WebSession, User, Unit.name).join(User, User.id == WebSession.user_id)
        .outerjoin(Unit, Unit.id == User.unit_id).where(WebSession.id == _digest(token))).first()
    if row is None:
        return None
    web_session, user, unit_name = row
    if web_session.expires_at <= now or not user.active:
        return None
    return Staff(user_id=user.id, username=user.username, display_name=user.display_name,
                 role=user.role, unit_id=user.unit_id, unit_name=unit_name,
                 csrf_token=web_session.csrf_token)


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id == _digest(token)))


class LoginLimiter:
    """At most ``attempts`` failed logins per window, per address and per username.

    Failures are rows in the database (keys hashed: no addresses or usernames kept),
    so all processes of the hub share one count. Methods block: run them in the pool.
    """

    def __init__(self, sessions: sessionmaker[Session], attempts: int = 5,
                 window_s: float = 300.0) -> None:
        self.sessions = sessions
        self.attempts, self.window = attempts, timedelta(seconds=window_s)

    @staticmethod
    def _hashed(keys: tuple[str, ...]) -> list[str]:
        return [hashlib.sha256(k.encode()).hexdigest() for k in keys]

    def blocked(self, *keys: str, now: datetime | None = None) -> bool:
        since = (now or utcnow()) - self.window
        with self.sessions() as s:
            counts = s.execute(select(func.count()).select_from(LoginFailure)
                               .where(LoginFailure.key.in_(self._hashed(keys)),
                                      LoginFailure.at > since)
                               .group_by(LoginFailure.key)).scalars()
            return any(c >= self.attempts for c in counts)

    def failed(self, *keys: str, now: datetime | None = None) -> None:
        now = now or utcnow()
        hashed = self._hashed(keys)
        with transaction(self.sessions) as s:
            s.execute(delete(LoginFailure).where(LoginFailure.key.in_(hashed),
                                                 LoginFailure.at <= now - self.window))
            s.add_all(LoginFailure(key=k, at=now) for k in hashed)

    def succeeded(self, *keys: str) -> None:
        with transaction(self.sessions) as s:
            s.execute(delete(LoginFailure).where(LoginFailure.key.in_(self._hashed(keys))))
