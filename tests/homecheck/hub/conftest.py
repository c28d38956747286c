"""The hub's tests run against real databases the suite starts: a SQLite file per test, and one
PostgreSQL server per session (labs/postgres.py: Debian's binaries, initdb + pg_ctl in a temporary
folder, torn down at the end) with a fresh database per test. With CI=true a missing PostgreSQL
fails the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from homecheck.hub import invites, receipts, service, store
from homecheck.hub.corroboration import ServerObservations
from homecheck.hub.profile_store import store_profile
from homecheck.hub.service import Hub
from labs.postgres import TempPostgres
from reports import json_report
from tests.support import canned

ROOT = Path(__file__).resolve().parents[3]
BACKENDS = ("sqlite", "postgresql")
PostgresServer = TempPostgres  # the name the hub's tests know it by


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "hub.sqlite3"
    store.open_store(f"sqlite:///{path}").close()
    return path


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.fresh_database(migrated=False)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each kind, already migrated (a copy of a template the session
    migrated once; test_store.py checks the migrations themselves on empty ones)."""
    if request.param == "sqlite":
        path = tmp_path / "hub.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.fresh_database()


def homecheck(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command, in a fresh interpreter (as an employer runs it)."""
    return subprocess.run(
        [sys.executable, "-m", "homecheck", *args],
        cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})}, check=False,
    )  # fmt: skip


@pytest.fixture
def hub(db_url: str, tmp_path: Path) -> Iterator[Hub]:
    """A started hub (migrated store, signing key in its own data folder)."""
    started = service.start(db_url, key_dir=tmp_path / "data")
    try:
        yield started
    finally:
        started.close()


def report_body(run: int = 0, *, download_mbps: float | None = None) -> bytes:
    """A canned full report (tests/support/canned.py) as a client submits it: canonical JSON.
    `run` makes each body distinct, as two real runs are (they start at different times)."""
    data = json_report.to_dict(canned.full_report())
    data["started_at"] = f"2025-03-14T09:{run // 60:02d}:{run % 60:02d}+00:00"
    if download_mbps is not None:
        for probe in data["probes"]:
            for m in probe["measurements"]:
                if m["metric"] == "network.download_mbps":
                    m["value"] = download_mbps
    return receipts.canonical_json(data)


# What the server would have counted for the canned report's network test: its figures.
AGREEING = ServerObservations(
    download_mbps=41.0,
    upload_mbps=4.0,
    loss_up_pct=1.2,
    rtt_ms=26.0,
    transfers=(("download", 51_250_000, 10.0), ("upload", 5_000_000, 10.0)),
)


@dataclass(frozen=True)
class Invited:
    invite_id: str
    secret: bytes


def invite(hub: Hub, *, candidate: str = "Ann Lee", uses: int = 3, days: float = 7) -> Invited:
    with hub.store.sessions.begin() as session:
        profile = store_profile(session, "voice")
        new = invites.create_invite(
            session, profile, candidate=candidate, email=None, uses=uses,
            expires_in=timedelta(days=days),
        )  # fmt: skip
    return Invited(new.invite.id, new.secret)


def count(hub: Hub, table: type[Any]) -> int:
    with hub.store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)
