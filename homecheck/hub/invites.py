"""Invites: a link with a 32-byte random secret, of which the store keeps only the SHA-256.

Why SHA-256 and not Argon2 as for passwords: the secret is 256 bits from `secrets` (the OS's
CSPRNG), so there is no dictionary to try and a brute force is 2^255 guesses on average; a slow
hash only helps low-entropy secrets a person chose. A plain hash also lets the server find the
invite by an indexed lookup of the hash, without a per-row salt. A stolen database therefore
yields no usable link.

The link is ``BASE/i/SECRET`` (SECRET in base64url). The invite's public id (shown to recruiters,
named in receipts) is separate and random, never derived from the secret.

A recruiter may revoke an invite (refused from then on, as an expired one: homecheck/hub/ingest.py)
or extend it, and create many at once from a CSV file of names and e-mails (`parse_candidates_csv`:
every bad line is named, and nothing is created while one is bad).
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import re
import secrets
import unicodedata
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
    if not candidate or len(candidate) > MAX_NAME_CHARS:
        raise UsageError("--candidate: give the candidate's name (at most 200 characters)")
    if len(email or "") > MAX_EMAIL_CHARS:
        raise UsageError(f"--email: at most {MAX_EMAIL_CHARS} characters")
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


MAX_NAME_CHARS = 200
MAX_EMAIL_CHARS = 320
MAX_CSV_ROWS = 1000  # one upload; a recruiter's week is ~500 candidates
MAX_CSV_BYTES = 256 * 1024


def _has_control(text: str) -> bool:
    # NUL and other control characters: PostgreSQL refuses NUL in text, and no name needs them.
    return any(unicodedata.category(c) == "Cc" for c in text)


def email_problem(email: str) -> str | None:
    """Why `email` is not an e-mail address, or None (empty is allowed: the e-mail is optional)."""
    email = email.strip()
    if not email:
        return None
    if len(email) > MAX_EMAIL_CHARS:
        return f"an e-mail address has at most {MAX_EMAIL_CHARS} characters"
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain.strip(".") or _has_control(email):
        return f"not an e-mail address: {email[:60]!r}"
    if any(c.isspace() for c in email):
        return f"an e-mail address has no spaces: {email[:60]!r}"
    return None


class InviteState(enum.Enum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"
    USED_UP = "used up"


def state(invite: Invite, at: datetime | None = None) -> InviteState:
    if invite.revoked_at is not None:
        return InviteState.REVOKED
    if invite.expires_at <= (at or now()):
        return InviteState.EXPIRED
    if invite.uses_left <= 0:
        return InviteState.USED_UP
    return InviteState.ACTIVE


def _get(session: Session, invite_id: str) -> Invite:
    invite = session.get(Invite, invite_id)
    if invite is None:
        raise UsageError(f"no invite {invite_id[:60]!r}")
    return invite


def revoke(session: Session, invite_id: str, *, at: datetime | None = None) -> Invite:
    """From now on the link is refused (its runs so far are kept). Revoking twice keeps the first
    time."""
    invite = _get(session, invite_id)
    if invite.revoked_at is None:
        invite.revoked_at = at or now()
    return invite


def extend(
    session: Session, invite_id: str, by: timedelta, *, at: datetime | None = None
) -> Invite:
    """Push the expiry `by` later, counted from now if it has already expired. A revoked invite
    stays revoked: send a new one."""
    invite = _get(session, invite_id)
    if invite.revoked_at is not None:
        raise UsageError("this invite was revoked; create a new one instead")
    invite.expires_at = max(invite.expires_at, at or now()) + by
    return invite


@dataclass(frozen=True)
class CsvCandidate:
    line: int
    name: str
    email: str | None


class CsvError(UsageError):
    """A CSV of candidates with bad lines: `problems` has one message per bad line."""

    def __init__(self, problems: list[str]) -> None:
        more = [f"... and {len(problems) - 20} more"] if len(problems) > 20 else []
        shown = problems[:20] + more
        super().__init__("; ".join(shown))
        self.problems = shown


_HEADER_NAMES = {"name", "candidate", "candidate name"}
_HEADER_EMAILS = {"email", "e-mail", "e-mail address", "email address", "mail"}


def parse_candidates_csv(data: bytes) -> list[CsvCandidate]:
    """The candidates in a CSV file, one per line: name, then e-mail (may be empty); a first line
    "name,email" is a header. CsvError naming each bad line if any line is bad."""
    if len(data) > MAX_CSV_BYTES:
        raise CsvError([f"the file is over {MAX_CSV_BYTES // 1024} KiB"])
    try:
        text = data.decode("utf-8-sig")  # Excel writes a byte-order mark
    except UnicodeDecodeError:
        raise CsvError(["the file is not UTF-8 text (save it as CSV UTF-8)"]) from None
    if "\x00" in text:
        raise CsvError(["the file is not a text CSV file"])
    problems: list[str] = []
    found: list[CsvCandidate] = []
    seen_emails: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            line = reader.line_num
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if not found and not problems and _is_header(cells):
                continue
            if len(cells) > 2 and any(cells[2:]):
                problems.append(f"line {line}: {len(cells)} columns; give a name and an e-mail")
                continue
            name, email = cells[0], (cells[1] if len(cells) > 1 else "")
            if not name:
                problems.append(f"line {line}: no name")
            elif len(name) > MAX_NAME_CHARS:
                problems.append(f"line {line}: a name has at most {MAX_NAME_CHARS} characters")
            elif (problem := email_problem(email)) is not None:
                problems.append(f"line {line}: {problem}")
            elif email and email.lower() in seen_emails:
                problems.append(
                    f"line {line}: {email[:60]} is already on line {seen_emails[email.lower()]}"
                )
            else:
                if email:
                    seen_emails[email.lower()] = line
                found.append(CsvCandidate(line, name, email or None))
            if len(found) + len(problems) > MAX_CSV_ROWS:
                raise CsvError([f"more than {MAX_CSV_ROWS} candidates in one file"])
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: not CSV ({exc})")
    if problems:
        raise CsvError(problems)
    if not found:
        raise CsvError(["no candidates in the file (one per line: name, e-mail)"])
    return found


def _is_header(cells: list[str]) -> bool:
    lowered = [c.lower() for c in cells]
    return lowered[0] in _HEADER_NAMES and (len(lowered) < 2 or lowered[1] in _HEADER_EMAILS)


def create_invites(
    session: Session,
    profile: StoredProfile,
    candidates: list[CsvCandidate],
    *,
    uses: int,
    expires_in: timedelta,
) -> list[NewInvite]:
    """One invite per candidate, in the caller's transaction: all of them or (on an error) none."""
    at = now()
    return [
        create_invite(
            session,
            profile,
            candidate=c.name,
            email=c.email,
            uses=uses,
            expires_in=expires_in,
            created_at=at,
        )
        for c in candidates
    ]
