"""Several serve processes share one PostgreSQL (or one SQLite file): submissions for the same invite, made by
separate OS processes at the same moment, are all stored; a retry landing on two processes at
once is stored once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from homecheck.hub import ingest, receipts, service
from homecheck.hub.models import Invite, Submission
from tests.homecheck.hub.conftest import AGREEING, ROOT, PostgresServer, count, invite


def _race(db_url: str, key_dirs: list[Path], jobs: list[tuple[bytes, str, int]]) -> list[dict]:
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.homecheck.hub.ingest_worker",
                db_url,
                str(key_dir),
                receipts.b64(secret),
                session_id,
                str(run),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for key_dir, (secret, session_id, run) in zip(key_dirs, jobs, strict=True)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready", worker.stderr
    for worker in workers:  # as close together as two processes can be told
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    answers = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert "Traceback" not in err, err
        answers.append(json.loads(out.strip().splitlines()[-1]))
    return answers


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    return postgres.fresh_database()


def test_two_processes_submit_for_the_same_invite(db_url: str, tmp_path: Path) -> None:
    """On PostgreSQL as several serve machines share it; on SQLite as two processes of one
    machine share its file (the write lock waits its busy timeout instead of failing)."""
    hub = service.start(db_url, key_dir=tmp_path / "a")
    try:
        invited = invite(hub, uses=2)
        sessions = [ingest.open_session(hub.store, invited.secret) for _ in range(2)]
        # The tests ran on this process's measurement plane; the reports land on two others.
        for session_id in sessions:
            ingest.record_observations(hub.store, session_id, AGREEING)
        answers = _race(
            db_url, [tmp_path / "a", tmp_path / "b"],
            [(invited.secret, sessions[0], 0), (invited.secret, sessions[1], 1)],
        )  # fmt: skip
        assert all("payload" in a for a in answers), answers
        assert all(a["payload"]["observations"] == AGREEING.to_json() for a in answers)
        with hub.store.sessions() as session:
            assert [s.corroborated for s in session.scalars(select(Submission))] == [True, True]
        assert {a["payload"]["session"] for a in answers} == set(sessions)
        assert count(hub, Submission) == 2
        with hub.store.sessions() as session:
            assert session.get_one(Invite, invited.invite_id).uses_left == 0
        # Each process signed with its own key; both are published for `verify --server`.
        published = receipts.keys_from_json(service.published_keys(hub.store))
        assert {a["payload"]["key_id"] for a in answers} <= set(published)
    finally:
        hub.close()


def test_a_retry_on_two_processes_at_once_is_stored_once(pg_url: str, tmp_path: Path) -> None:
    hub = service.start(pg_url, key_dir=tmp_path / "a")
    try:
        invited = invite(hub, uses=3)
        session_id = ingest.open_session(hub.store, invited.secret)
        answers = _race(
            pg_url, [tmp_path / "a", tmp_path / "a"],
            [(invited.secret, session_id, 0), (invited.secret, session_id, 0)],
        )  # fmt: skip
        assert answers[0] == answers[1] and "payload" in answers[0], answers
        assert count(hub, Submission) == 1
        with hub.store.sessions() as session:
            assert session.get_one(Invite, invited.invite_id).uses_left == 2
    finally:
        hub.close()


def test_the_last_use_goes_to_one_process_only(pg_url: str, tmp_path: Path) -> None:
    hub = service.start(pg_url, key_dir=tmp_path / "a")
    try:
        invited = invite(hub, uses=1)
        sessions = [ingest.open_session(hub.store, invited.secret) for _ in range(2)]
        answers = _race(
            pg_url, [tmp_path / "a", tmp_path / "b"],
            [(invited.secret, sessions[0], 0), (invited.secret, sessions[1], 1)],
        )  # fmt: skip
        assert sorted("payload" in a for a in answers) == [False, True], answers
        assert {"refused": "USED_UP"} in answers
        assert count(hub, Submission) == 1
    finally:
        hub.close()
