"""Alembic's environment: run on the connection homecheck.hub.store.migrate hands over (there is
no alembic.ini; the scripts ship inside the package)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from homecheck.hub.models import Base

# pg_advisory_xact_lock key: several serve processes starting at once migrate one after another.
MIGRATION_LOCK = 0x686F6D65  # "home"

connection = context.config.attributes["connection"]
if connection.dialect.name == "postgresql":
    connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
)
with context.begin_transaction():
    context.run_migrations()
