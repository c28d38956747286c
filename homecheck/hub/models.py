"""The hub's tables (SQLAlchemy 2 declarative models). The migrations in `migrations/versions`
create exactly these; a test compares the two.

Times are UTC. SQLite keeps no time zone, so `UtcDateTime` writes naive UTC and reads it back as
aware UTC on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # Argon2id, PHC string
    role: Mapped[str] = mapped_column(String(20))  # accounts.Role
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class StoredProfile(Base):
    """One version of a profile: the TOML exactly as given, validated by homecheck.profiles."""

    __tablename__ = "profiles"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        # The same content is one version (migration 0004 says why).
        Index("uq_profiles_name_sha256", "name", "sha256", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    toml: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Invite(Base):
    """An invite: only the SHA-256 of its secret is kept (invites.py says why that suffices)."""

    __tablename__ = "invites"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # public, shown to recruiters
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    candidate_name: Mapped[str] = mapped_column(String(200), index=True)
    candidate_email: Mapped[str | None] = mapped_column(String(320))
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id"))
    uses_total: Mapped[int] = mapped_column(Integer)
    uses_left: Mapped[int] = mapped_column(Integer)
    # The latest run, copied here by homecheck.hub.latest_run in the submission's transaction
    # (migration 0002): the dashboard lists 100,000 invites with one indexed query, no join.
    runs_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    latest_submission_id: Mapped[int | None] = mapped_column(Integer)
    latest_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    latest_overall: Mapped[str | None] = mapped_column(String(20))  # Verdict value
    latest_areas: Mapped[dict[str, str] | None] = mapped_column(JSON)  # area -> Verdict value
    latest_corroborated: Mapped[bool | None] = mapped_column(Boolean)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # 0003: refused from then on
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class TestSession(Base):
    """A network test the server ran for an invite; a submission names it."""

    __tablename__ = "test_sessions"
    __test__ = False  # not a pytest class, whatever its name

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    invite_id: Mapped[str] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    # What the measurement plane counted of this test (corroboration.ServerObservations), kept
    # here so that the submission may land on another serve process than the test ran on.
    observations: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Submission(Base):
    """One run of a candidate: the exact bytes, what the server saw, and the verdicts."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invite_id: Mapped[str] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("test_sessions.id", ondelete="CASCADE"), unique=True
    )
    body: Mapped[bytes] = mapped_column(LargeBinary)
    report_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    overall: Mapped[str] = mapped_column(String(20))  # homecheck.model.Verdict value
    areas: Mapped[dict[str, str]] = mapped_column(JSON)  # area -> Verdict value
    corroborated: Mapped[bool | None] = mapped_column(Boolean)  # None: nothing to compare
    disagreements: Mapped[list[str]] = mapped_column(JSON)
    observations: Mapped[dict[str, Any]] = mapped_column(JSON)
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON)
    client_ip: Mapped[str | None] = mapped_column(String(45))  # only with store_client_ip on
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)


class SigningKeyRow(Base):
    """Public keys only: every key any serve process signed with, so old receipts verify."""

    __tablename__ = "signing_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))  # base64url of the 32 raw bytes
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Setting(Base):
    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --- The dashboard's tables (issue 14, migration 0002; the invites' latest-run columns are on
# Invite above) ---------------------------------------------------------------------------------

# The list's page is a deferred join (dashboard/listing.py): the ids of a page are read from one
# of these indexes alone (each holds the filter, the order and the id), then 50 rows by id. So a
# late page or a search walks an index, not the table. The default order (newest invite first)
# with the search's columns:
Index(
    "ix_invites_listing",
    Invite.created_at,
    Invite.id,
    Invite.candidate_name,
    Invite.candidate_email,
)
Index("ix_invites_overall_created", Invite.latest_overall, Invite.created_at, Invite.id)
Index("ix_invites_profile_created", Invite.profile_id, Invite.created_at, Invite.id)
Index("ix_invites_latest_at", Invite.latest_at, Invite.id)


class WebSession(Base):
    """A signed-in dashboard browser. The cookie holds a random token; only its SHA-256 is here,
    so a copy of the database signs nobody in (as with invite secrets, invites.py)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))  # this session's forms carry it
    flash: Mapped[str | None] = mapped_column(Text)  # one message for the next page shown
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class SignInFailure(Base):
    """A failed sign-in: the lock-out counts these per (account, address) and per address."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_email_address", "email", "client_address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    client_address: Mapped[str] = mapped_column(String(45), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)


class AuditEntry(Base):
    """Who did what: sign-ins (and failures), sign-outs, exports, deletions. The e-mail is kept
    as text so that the entry outlives the account."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)
    user_email: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(40), index=True)  # dashboard.web.Audit value
    detail: Mapped[str] = mapped_column(Text)
    client_address: Mapped[str | None] = mapped_column(String(45))


# Migration 0003 (invites and webhooks): the webhook's outbox and its delivery log.


class WebhookOutbox(Base):
    """One submission to POST to the employer's webhook. Written by ingest in the submission's own
    transaction; a serve process claims a due row (`claimed_until`) before it sends it, so one
    process delivers it even when several share the database (homecheck/hub/webhooks.py)."""

    __tablename__ = "webhook_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the JSON sent, fixed when written
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    gave_up_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class WebhookDelivery(Base):
    """One attempt to deliver an outbox row: when, the answer (status or error), the next try."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_outbox.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None: no more tries
