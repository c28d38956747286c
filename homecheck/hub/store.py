"""The hub's database: which one, how to connect, its migrations, and its settings.

`--db URL` takes `sqlite:///PATH` or `postgresql://USER@HOST/NAME` (driven by psycopg 3); the
default is a SQLite file in the user's data folder (platformdirs). SQLite runs in WAL mode, so the
dashboard reads while a submission is written, with a busy timeout instead of "database is locked".
`open_store` applies the Alembic migrations shipped in this package (`upgrade head`) before it
returns; on PostgreSQL under an advisory lock, so several serve processes starting together
migrate once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from homecheck.errors import UsageError
from homecheck.hub.models import Setting

MIGRATIONS = "homecheck.hub:migrations"
DB_FILE = "hub.sqlite3"
SQLITE_BUSY_MS = 10_000


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir("homecheck", appauthor=False))


def default_url() -> str:
    return f"sqlite:///{data_dir() / DB_FILE}"


class SettingName(enum.Enum):
    RETENTION_DAYS = "retention_days"  # reports older than this are deleted by `admin prune`
    STORE_CLIENT_IP = "store_client_ip"  # "on": keep the submitting address with each report
    WEBHOOK_URL = "webhook_url"  # "": no webhook (homecheck/hub/webhooks.py)
    WEBHOOK_SECRET = "webhook_secret"  # the HMAC key its deliveries are signed with


DEFAULTS = {
    SettingName.RETENTION_DAYS: "365",
    SettingName.STORE_CLIENT_IP: "off",
    SettingName.WEBHOOK_URL: "",
    SettingName.WEBHOOK_SECRET: "",
}


@dataclass(frozen=True)
class Store:
    engine: Engine
    sessions: sessionmaker[Session]

    def close(self) -> None:
        self.engine.dispose()


def engine_for(url: str | None) -> Engine:
    text = url or default_url()
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise UsageError(
            f"--db {text!r}: not a database URL (sqlite:///PATH or postgresql://...)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        return create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True)
    raise UsageError(f"--db {text!r}: only sqlite:/// and postgresql:// are supported")


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE of a candidate's rows
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def open_store(url: str | None) -> Store:
    """Connect and migrate. A database that cannot be reached is one line (UsageError)."""
    engine = engine_for(url)
    try:
        migrate(engine)
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise UsageError(f"--db: cannot open the database ({reason})") from None
    return Store(engine, sessionmaker(engine, expire_on_commit=False))


def migrate(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def get_setting(session: Session, name: SettingName) -> str:
    row = session.get(Setting, name.value)
    return DEFAULTS[name] if row is None else row.value


def set_setting(session: Session, name: SettingName, value: str) -> None:
    """An upsert: two admins saving at once both succeed (the last write wins), where a read
    then an insert let the second fail on the primary key."""
    row = {"name": name.value, "value": value}
    if session.get_bind().dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(
            sqlite_insert(Setting)
            .values(row)
            .on_conflict_do_update(index_elements=[Setting.name], set_={"value": value})
        )
    else:
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        session.execute(
            postgresql_insert(Setting)
            .values(row)
            .on_conflict_do_update(index_elements=[Setting.name], set_={"value": value})
        )
    known = session.get(Setting, name.value, populate_existing=True)  # the session's copy too
    assert known is not None


def all_settings(session: Session) -> dict[str, str]:
    stored = {row.name: row.value for row in session.scalars(select(Setting))}
    return {name.value: stored.get(name.value, DEFAULTS[name]) for name in SettingName}


T = TypeVar("T")
WRITE_ATTEMPTS = 5  # each lost race means another writer committed: 5 suffice for 5 at once


def write(store: Store, work: Callable[[Session], T]) -> T:
    """`work` in one transaction, run again (up to WRITE_ATTEMPTS) when it lost a race with
    another writer: a unique key taken meanwhile (the next version of a profile, a built-in
    profile stored by two first invites at once, the same e-mail), or SQLite refusing to upgrade
    a read snapshot another commit made stale ("database is locked"). Each run decides again from
    what is stored: the next free version, or "already exists"."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with store.sessions.begin() as session:
                return work(session)
        except (IntegrityError, OperationalError):
            if attempt == WRITE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")
