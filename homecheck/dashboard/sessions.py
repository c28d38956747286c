"""Signing in, on the store's side (no HTTP): web sessions and the sign-in lock-out.

Sessions: the cookie carries 32 random bytes; the store keeps their SHA-256 (a copy of the
database signs nobody in), the account, a CSRF token for the session's forms, and its expiry: at
most SESSION_LIFETIME after sign-in and SESSION_IDLE after the last page (OWASP Session
Management Cheat Sheet: absolute and idle timeouts). Sign-out deletes the row.

Lock-out (OWASP Authentication Cheat Sheet, "account lockout" without letting an attacker lock
the real user out): failures are counted per (account, client address) and per address, in the
database so that every serve process sees them. MAX_FAILURES_PER_ACCOUNT failures in
FAILURE_WINDOW lock that address out of that account until they age out; MAX_FAILURES_PER_ADDRESS
across all accounts lock the address out entirely. The real user at another address still signs
in. While locked, attempts are refused without a password check and are not counted, so the
table stays small under a flood.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from homecheck.hub import accounts
from homecheck.hub.accounts import Role
from homecheck.hub.models import SignInFailure, User, WebSession, now

SESSION_LIFETIME = timedelta(hours=12)
SESSION_IDLE = timedelta(hours=2)
# A page view moves the idle expiry on at most this often: most views write nothing.
TOUCH_EVERY = timedelta(minutes=1)
TOKEN_BYTES = 32

FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


@dataclass(frozen=True)
class SignedIn:
    """The account behind a request's session (`request.state.user` in the dashboard)."""

    session_id: int
    user_id: int
    email: str
    role: Role
    csrf_token: str
    flash: str | None  # a message for this page, shown once

    def may(self, role: Role) -> bool:
        return self.role is Role.ADMIN or role is self.role


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(session: Session, user: User, at: datetime | None = None) -> str:
    """A new web session for `user`; returns the cookie's token (stored only as its hash)."""
    started = at or now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        WebSession(
            token_sha256=token_hash(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(TOKEN_BYTES),
            created_at=started,
            expires_at=started + min(SESSION_IDLE, SESSION_LIFETIME),
            last_seen_at=started,
        )
    )
    return token


def resume(session: Session, token: str) -> SignedIn | None:
    """The session this cookie names, if it is current (its flash message is taken); expired
    sessions are deleted. Commits."""
    at = now()
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_sha256 == token_hash(token))
    ).first()
    if row is None:
        return None
    web, user = row
    if web.expires_at <= at:
        session.delete(web)
        session.commit()
        return None
    flash = web.flash
    if flash is not None:
        web.flash = None
    if at - web.last_seen_at >= TOUCH_EVERY:
        web.last_seen_at = at
        web.expires_at = min(web.created_at + SESSION_LIFETIME, at + SESSION_IDLE)
    session.commit()
    return SignedIn(web.id, user.id, user.email, Role(user.role), web.csrf_token, flash)


def end(session: Session, session_id: int) -> None:
    session.execute(delete(WebSession).where(WebSession.id == session_id))


def set_flash(session: Session, session_id: int, message: str) -> None:
    web = session.get(WebSession, session_id)
    if web is not None:
        web.flash = message


def purge_expired(session: Session, at: datetime | None = None) -> int:
    result = session.execute(delete(WebSession).where(WebSession.expires_at <= (at or now())))
    return int(result.rowcount)  # type: ignore[attr-defined]


class Outcome:
    """What a sign-in attempt came to (`check_sign_in`)."""


@dataclass(frozen=True)
class Accepted(Outcome):
    user: User


@dataclass(frozen=True)
class Refused(Outcome):
    locked: bool  # too many failures: this address may not sign in to this account for now
    counted: bool  # False: refused as locked, without a password check, and not recorded


def normal_email(email: str) -> str:
    return email.strip().lower()[:320]


def locked_out(session: Session, email: str, address: str, at: datetime | None = None) -> bool:
    since = (at or now()) - FAILURE_WINDOW
    recent = select(func.count()).select_from(SignInFailure).where(SignInFailure.at > since)
    from_address = session.scalar(recent.where(SignInFailure.client_address == address)) or 0
    if from_address >= MAX_FAILURES_PER_ADDRESS:
        return True
    for_account = (
        session.scalar(
            recent.where(
                SignInFailure.client_address == address,
                SignInFailure.email == normal_email(email),
            )
        )
        or 0
    )
    return for_account >= MAX_FAILURES_PER_ACCOUNT


def check_sign_in(session: Session, email: str, password: str, address: str) -> Outcome:
    """Check an e-mail and password from `address` under the lock-out; a failure is recorded
    (the caller commits). Runs Argon2: call it in a worker thread, never on the event loop."""
    at = now()
    if locked_out(session, email, address, at):
        return Refused(locked=True, counted=False)
    user = session.scalar(select(User).where(func.lower(User.email) == normal_email(email)))
    # An unknown e-mail costs the same Argon2 check as a known one: timing tells nothing.
    good = accounts.check_password(user if user is not None else _decoy(), password)
    if user is not None and good:
        return Accepted(user)
    session.execute(delete(SignInFailure).where(SignInFailure.at <= at - FAILURE_WINDOW))
    session.add(SignInFailure(email=normal_email(email), client_address=address, at=at))
    session.flush()
    return Refused(locked=locked_out(session, email, address, at), counted=True)


@cache
def _decoy() -> User:
    return User(email="", password_hash=PasswordHasher().hash(secrets.token_hex(16)), role="")
