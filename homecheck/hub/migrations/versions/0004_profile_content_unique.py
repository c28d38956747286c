"""A profile's content is stored once per name: a unique index on (name, sha256).

Two writers storing the same profile at once (two recruiters' first invites on a built-in, as
tests/homecheck/hub/test_profile_store.py does) each looked for it, found none, and one stored it
again as the next version: each statement reads what is committed at its own start, on SQLite and
on PostgreSQL alike. With the index the second insert fails and store.write runs it again, which
then finds the first. Rows stored twice before this revision are merged into their first (the
invites that pinned a later copy are moved to it).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, name, sha256 FROM profiles ORDER BY id")).all()
    first: dict[tuple[str, str], int] = {}
    for profile_id, name, digest in rows:
        keep = first.setdefault((name, digest), profile_id)
        if keep != profile_id:
            connection.execute(
                sa.text("UPDATE invites SET profile_id = :keep WHERE profile_id = :copy"),
                {"keep": keep, "copy": profile_id},
            )
            connection.execute(
                sa.text("DELETE FROM profiles WHERE id = :copy"), {"copy": profile_id}
            )
    op.create_index("uq_profiles_name_sha256", "profiles", ["name", "sha256"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_profiles_name_sha256", table_name="profiles")
