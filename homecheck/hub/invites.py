"""Invites: a link with a 32-byte random secret, of which the store keeps only the SHA-256.

Why SHA-256 and not Argon2 as for passwords: the secret is 256 bits from `secrets` (the OS's
CSPRNG), so there is no dictionary to try and a brute force is 2^255 guesses on average; a slow
hash only helps low-entropy secrets a person chose. A plain hash also lets the server find the
invite by an indexed lookup of the hash, without a per-row salt. A stolen database therefore
yields no usable link.

The link is ``BASE/i/SECRET`` (SECRET in base64url). The invite's public id (shown to recruiters,
named in receipts) is separate and random, never derived from the secret.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from homecheck.errors import UsageError
from homecheck.hub import receipts
from homecheck.hub.models import Invite, StoredProfile, now

SECRET_BYTES = 32
LINK_PATH = "/i/"
DEFAULT_USES = 3
MAX_USES = 1000
DEFAULT_EXPIRY = "7d"
_DURATION = re.compile(r"^(\d{1,4})([hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def secret_hash(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise UsageError(f"--expires {text!r}: give a number and h, d or w (for example 7d)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def link(base_url: str, secret: bytes) -> str:
    return f"{base_url.rstrip('/')}{LINK_PATH}{receipts.b64(secret)}"


def secret_from_link(text: str) -> bytes:
    """The secret in an invite link (or the bare secret). UsageError if it holds none."""
    path = urlsplit(text.strip()).path if "://" in text else text.strip()
    token = path.rsplit(LINK_PATH, 1)[-1] if LINK_PATH in path else path
    try:
        secret = receipts.unb64(token)
    except ValueError:
        secret = b""
    if len(secret) != SECRET_BYTES:
        raise UsageError("not a homecheck invite link (BASE/i/SECRET)")
    return secret


@dataclass(frozen=True)
class NewInvite:
    invite: Invite
    secret: bytes  # shown once, in the link; never stored


def create_invite(
    session: Session,
    profile: StoredProfile,
    *,
    candidate: str,
    email: str | None,
    uses: int,
    expires_in: timedelta,
    created_at: datetime | None = None,
) -> NewInvite:
    candidate = candidate.strip()
    if not candidate or len(candidate) > 200:
        raise UsageError("--candidate: give the candidate's name (at most 200 characters)")
    if not 1 <= uses <= MAX_USES:
        raise UsageError(f"--uses: between 1 and {MAX_USES}")
    created = created_at or now()
    secret = secrets.token_bytes(SECRET_BYTES)
    invite = Invite(
        id=f"inv-{secrets.token_hex(6)}",
        secret_sha256=secret_hash(secret),
        candidate_name=candidate,
        candidate_email=(email or "").strip() or None,
        profile_id=profile.id,
        uses_total=uses,
        uses_left=uses,
        expires_at=created + expires_in,
        created_at=created,
    )
    session.add(invite)
    session.flush()
    return NewInvite(invite, secret)


def find_by_secret(session: Session, secret: bytes) -> Invite | None:
    return session.scalar(select(Invite).where(Invite.secret_sha256 == secret_hash(secret)))
