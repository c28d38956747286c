"""Dashboard accounts: e-mail, role and an Argon2id password hash (argon2-cffi's defaults, RFC
9106's second recommended parameter set). The password itself is never stored or logged."""

from __future__ import annotations

import enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from homecheck.errors import UsageError
from homecheck.hub.models import User

MIN_PASSWORD_CHARS = 12
_HASHER = PasswordHasher()


class Role(enum.Enum):
    ADMIN = "admin"  # users, profiles, settings
    RECRUITER = "recruiter"  # invites, candidates


def create_user(session: Session, email: str, password: str, role: Role) -> User:
    email = email.strip()
    bad = not email.isprintable() or any(c.isspace() for c in email)
    if "@" not in email or len(email) > 320 or bad:
        raise UsageError(f"not an e-mail address: {email!r}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsageError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise UsageError(f"a user {email} already exists")
    user = User(email=email, password_hash=_HASHER.hash(password), role=role.value)
    session.add(user)
    return user


def check_password(user: User, password: str) -> bool:
    try:
        return _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise UsageError(f"a role is one of: {', '.join(r.value for r in Role)}") from None
