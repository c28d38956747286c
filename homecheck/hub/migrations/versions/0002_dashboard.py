"""The dashboard (issue 14): web sessions, sign-in failures, the audit log, and the invites'
latest-run columns with the list's indexes (homecheck/hub/models.py), filled from the runs
already stored.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The latest run of each invite, from the submissions (the highest id is the latest stored).
_BACKFILL = """
UPDATE invites SET
  runs_count = (SELECT count(*) FROM submissions s WHERE s.invite_id = invites.id),
  latest_submission_id = (SELECT max(s.id) FROM submissions s WHERE s.invite_id = invites.id)
"""
_BACKFILL_LATEST = """
UPDATE invites SET
  latest_at = (SELECT s.created_at FROM submissions s WHERE s.id = invites.latest_submission_id),
  latest_overall = (SELECT s.overall FROM submissions s WHERE s.id = invites.latest_submission_id),
  latest_areas = (SELECT s.areas FROM submissions s WHERE s.id = invites.latest_submission_id),
  latest_corroborated =
    (SELECT s.corroborated FROM submissions s WHERE s.id = invites.latest_submission_id)
WHERE latest_submission_id IS NOT NULL
"""


_LATEST_COLUMNS = (
    "latest_corroborated",
    "latest_areas",
    "latest_overall",
    "latest_at",
    "latest_submission_id",
    "runs_count",
)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_email", sa.String(length=320), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("client_address", sa.String(length=45), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("client_address", sa.String(length=45), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_failures_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sign_in_failures_client_address"), ["client_address"], unique=False
        )
        batch_op.create_index(
            "ix_sign_in_failures_email_address", ["email", "client_address"], unique=False
        )

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("flash", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)

    # Plain ALTER TABLE, not batch mode: on SQLite a batch copies the table and drops the old
    # one, and with foreign keys on that drop would cascade to every stored run.
    op.add_column(
        "invites", sa.Column("runs_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("invites", sa.Column("latest_submission_id", sa.Integer(), nullable=True))
    op.add_column("invites", sa.Column("latest_at", sa.DateTime(), nullable=True))
    op.add_column("invites", sa.Column("latest_overall", sa.String(length=20), nullable=True))
    op.add_column("invites", sa.Column("latest_areas", sa.JSON(), nullable=True))
    op.add_column("invites", sa.Column("latest_corroborated", sa.Boolean(), nullable=True))
    # The list's deferred join reads a page's ids from one of these alone (models.py).
    op.create_index(
        "ix_invites_listing",
        "invites",
        ["created_at", "id", "candidate_name", "candidate_email"],
        unique=False,
    )
    op.create_index(
        "ix_invites_overall_created",
        "invites",
        ["latest_overall", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_invites_profile_created", "invites", ["profile_id", "created_at", "id"], unique=False
    )
    op.create_index("ix_invites_latest_at", "invites", ["latest_at", "id"], unique=False)
    op.execute(_BACKFILL)
    op.execute(_BACKFILL_LATEST)


def downgrade() -> None:
    for index in (
        "ix_invites_latest_at",
        "ix_invites_profile_created",
        "ix_invites_overall_created",
        "ix_invites_listing",
    ):
        op.drop_index(index, table_name="invites")
    for column in _LATEST_COLUMNS:
        # SQLite 3.35+ drops a column in place; a batch copy would cascade (see upgrade).
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE invites DROP COLUMN {column}")
        else:
            op.drop_column("invites", column)

    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_web_sessions_expires_at"))
    op.drop_table("web_sessions")

    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_failures_email_address")
        batch_op.drop_index(batch_op.f("ix_sign_in_failures_client_address"))
        batch_op.drop_index(batch_op.f("ix_sign_in_failures_at"))
    op.drop_table("sign_in_failures")

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))
    op.drop_table("audit_log")
