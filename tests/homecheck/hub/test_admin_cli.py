"""`homecheck admin` run as an employer runs it (a fresh process), against both databases."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text, update

from homecheck.cli import main
from homecheck.hub import ingest, invites, receipts, service
from homecheck.hub.accounts import check_password
from homecheck.hub.models import Submission, User, now
from homecheck.hub.store import engine_for
from tests.homecheck.hub.conftest import AGREEING, homecheck, report_body

PASSWORD = "correct horse battery staple"


def _ok(*args: str, stdin: str | None = None) -> str:
    done = homecheck("admin", *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def _every_text_in_the_database(db_url: str) -> str:
    """Every cell of every table as text (bytes decoded leniently, and as hex)."""
    engine = engine_for(db_url)
    cells: list[str] = []
    try:
        with engine.connect() as connection:
            for table in inspect(engine).get_table_names():
                for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                    for cell in row:
                        if isinstance(cell, bytes | memoryview):
                            raw = bytes(cell)
                            cells += [raw.decode("latin-1"), raw.hex()]
                        else:
                            cells.append(str(cell))
    finally:
        engine.dispose()
    return "\n".join(cells)


def test_create_user_invite_candidates_delete(db_url: str, tmp_path: Path) -> None:
    assert "created admin hr@example.com" in _ok(
        "create-user", "hr@example.com", "--password-stdin", "--db", db_url, stdin=PASSWORD + "\n"
    )
    link = _ok(
        "invite", "--db", db_url, "--profile", "voice", "--candidate", "Ann Lee",
        "--email", "ann@example.com", "--uses", "2", "--expires", "48h",
        "--base-url", "https://jobs.example.com/",
    ).strip()  # fmt: skip
    assert link.startswith("https://jobs.example.com/i/") and "\n" not in link
    secret = invites.secret_from_link(link)

    # One run, submitted as the web plane will (ingest), so the list has a verdict to show.
    hub = service.start(db_url, key_dir=tmp_path / "data")
    try:
        session_id = ingest.open_session(hub.store, secret)
        ingest.ingest(
            hub.store, hub.key, invite_secret=secret, session_id=session_id,
            body=report_body(), observations=AGREEING, client_address=None,
        )  # fmt: skip
        with hub.store.sessions() as session:
            user = session.scalars(select(User)).one()
            assert user.role == "admin" and user.password_hash.startswith("$argon2id$")
            assert check_password(user, PASSWORD) and not check_password(user, PASSWORD + "x")
    finally:
        hub.close()

    # The invite's secret is nowhere in the database, in any encoding.
    everything = _every_text_in_the_database(db_url)
    assert secret.hex() not in everything
    assert receipts.b64(secret) not in everything
    assert secret.decode("latin-1") not in everything
    assert PASSWORD not in everything
    assert invites.secret_hash(secret) in everything  # the scan does see the invite row

    (row,) = json.loads(_ok("candidates", "--db", db_url, "--json"))
    assert row["candidate"] == "Ann Lee" and row["email"] == "ann@example.com"
    assert row["profile"] == "voice@1" and row["runs"] == 1 and row["uses_left"] == 1
    assert row["latest"]["verdict"] in {"pass", "warn", "fail", "not_measured"}
    assert set(row["latest"]["areas"]) == {"system", "network", "audio"}
    assert row["latest"]["corroborated"] is True
    table = _ok("candidates", "--db", db_url)
    assert "Ann Lee" in table and "agrees" in table

    assert "deleted 1 invite(s)" in _ok("delete", "Ann Lee", "--db", db_url)
    assert json.loads(_ok("candidates", "--db", db_url, "--json")) == []
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            for table_name in ("invites", "test_sessions", "submissions"):
                left = connection.execute(text(f"SELECT count(*) FROM {table_name}")).scalar()
                assert left == 0, table_name
    finally:
        engine.dispose()


def test_usage_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process (the same code as the command; a fresh process per case is slow)."""
    db_url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    cases = [
        (("create-user", "not-an-address", "--password-stdin", "--db", db_url), "e-mail"),
        (("create-user", "a@example.com", "--password-stdin", "--db", db_url), "at least 12"),
        (("invite", "--db", db_url, "--profile", "none.toml", "--candidate", "X"), "no such"),
        (("invite", "--db", db_url, "--profile", "voice", "--candidate", "X", "--expires", "soon"),
         "--expires"),
        (("invite", "--db", db_url, "--profile", "voice", "--candidate", "X", "--uses", "0"),
         "--uses"),
        (("invite", "--db", db_url, "--profile", "voice", "--candidate", " "), "--candidate"),
        (("delete", "Nobody", "--db", db_url), "no candidate"),
        (("prune", "--days", "0", "--db", db_url), "--days"),
        (("candidates", "--db", "mysql://x/y"), "only sqlite"),
        (("candidates", "--db", "postgresql://postgres@127.0.0.1:1/none"), "cannot open"),
    ]  # fmt: skip
    for args, words in cases:
        monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
        with pytest.raises(SystemExit) as exited:
            main(["admin", *args])
        err = capsys.readouterr().err
        assert exited.value.code == 2, (args, err)
        assert err.startswith("homecheck: error: ") and words in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err


def test_retention_deletes_old_reports(db_url: str, tmp_path: Path) -> None:
    hub = service.start(db_url, key_dir=tmp_path / "data")
    try:
        link = _ok("invite", "--db", db_url, "--profile", "voice", "--candidate", "Old Run")
        secret = invites.secret_from_link(link)
        for run in range(2):
            ingest.ingest(
                hub.store, hub.key, invite_secret=secret,
                session_id=ingest.open_session(hub.store, secret), body=report_body(run),
                observations=AGREEING, client_address=None,
            )  # fmt: skip
        with hub.store.sessions.begin() as session:
            first = session.scalars(select(Submission.id).order_by(Submission.id)).first()
            session.execute(
                update(Submission)
                .where(Submission.id == first)
                .values(created_at=now() - timedelta(days=31))
            )
    finally:
        hub.close()
    assert "retention_days = 30" in _ok("settings", "--db", db_url, "--retention-days", "30")
    assert "deleted 1 report(s) older than 30 days" in _ok("prune", "--db", db_url)
    (row,) = json.loads(_ok("candidates", "--db", db_url, "--json"))
    assert row["runs"] == 1
