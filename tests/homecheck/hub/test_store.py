"""The migrations shipped in the package build exactly the models' tables, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from homecheck.hub import store
from homecheck.hub.models import Base


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", store.MIGRATIONS)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_migrations_apply_and_match_the_models(empty_db_url: str) -> None:
    opened = store.open_store(empty_db_url)
    try:
        tables = set(inspect(opened.engine).get_table_names())
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
        with opened.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            heads = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert differences == []  # a model changed without a migration, or the reverse
        assert heads == [(_head(),)]
        store.migrate(opened.engine)  # a second start: nothing to do, nothing breaks
    finally:
        opened.close()


def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    opened = store.open_store(f"sqlite:///{tmp_path}/hub.sqlite3")
    try:
        with opened.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        opened.close()


def test_the_default_database_is_a_file_in_the_user_data_folder() -> None:
    assert store.default_url() == f"sqlite:///{store.data_dir() / store.DB_FILE}"
