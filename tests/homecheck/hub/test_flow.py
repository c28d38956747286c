"""Issue 13's flow end to end, over HTTP, against real `homecheck serve --db` processes on
127.0.0.1 and real databases (SQLite and PostgreSQL, conftest.py): invite -> consent -> run ->
submit -> stored -> receipt -> `homecheck verify`, and the refusals as a client sees them.

One serve per database is shared by the module's tests that leave the others' rows alone (each
counts its own invite's rows); the ones that kill or add servers start their own."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest
from sqlalchemy import func, select, update

from homecheck.hub import invites, receipts, store
from homecheck.hub import verify as verify_cli
from homecheck.hub.models import Invite, Submission, TestSession, now
from homecheck.hub.profile_store import store_profile
from tests.homecheck.hub.conftest import BACKENDS, PostgresServer, homecheck, report_body
from tests.support.serve import Served, start_serve, stop_serve

RUN_FAST = ("--only", "network", "--dns-names", "localhost", "--quiet")


@contextmanager
def serving(db_url: str, tmp_path: Path) -> Iterator[Served]:
    served = start_serve("--db", db_url, env=_data_env(tmp_path))
    try:
        yield served
    finally:
        stop_serve(served)


def _data_env(tmp_path: Path) -> dict[str, str]:
    # The signing key lives in the data folder; every process of a test shares the test's one.
    return {"XDG_DATA_HOME": str(tmp_path / "data")}


@dataclass(frozen=True)
class Shared:
    db_url: str
    served: Served


@pytest.fixture(scope="module")
def shared_sqlite(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    folder = tmp_path_factory.mktemp("flow-sqlite")
    db_url = _sqlite(folder, sqlite_template)
    with serving(db_url, folder) as served:
        yield Shared(db_url, served)


@pytest.fixture(scope="module")
def shared_postgresql(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    folder = tmp_path_factory.mktemp("flow-postgres")
    db_url = postgres.fresh_database()
    with serving(db_url, folder) as served:
        yield Shared(db_url, served)


@pytest.fixture(params=BACKENDS)
def shared(request: pytest.FixtureRequest) -> Shared:
    """The module's serve on each database."""
    return request.getfixturevalue(f"shared_{request.param}")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class NewInvite:
    invite_id: str
    secret: str  # as in the link
    link: str


def _new_invite(shared: Shared, *, uses: int = 3) -> NewInvite:
    """An invite made in-process (test_admin_cli.py and the whole flow run `homecheck admin
    invite` itself)."""
    opened = store.open_store(shared.db_url)
    try:
        with opened.sessions.begin() as session:
            made = invites.create_invite(
                session, store_profile(session, "voice"), candidate="Ann Lee", email=None,
                uses=uses, expires_in=timedelta(days=7),
            )  # fmt: skip
            invite_id = made.invite.id
    finally:
        opened.close()
    assert shared.served.web_url is not None
    link = invites.link(shared.served.web_url, made.secret)
    return NewInvite(invite_id, _secret(link), link)


def _invite_rows(db_url: str, what: Any, invite_id: str) -> int:
    opened = store.open_store(db_url)
    try:
        with opened.sessions() as session:
            query = select(func.count()).select_from(what).where(what.invite_id == invite_id)
            return int(session.scalar(query) or 0)
    finally:
        opened.close()


def _invite(db_url: str, web_url: str, *extra: str) -> str:
    done = homecheck(
        "admin", "invite", "--db", db_url, "--profile", "voice", "--candidate", "Ann Lee",
        "--base-url", web_url, *extra,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _request(
    url: str, method: str, path: str, *, secret: str | None = None,
    body: bytes | None = None, headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:  # fmt: skip
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    sent = dict(headers or {})
    if secret is not None:
        sent["Authorization"] = f"Bearer {secret}"
    try:
        # The server may answer (413) and close before the body is all sent.
        with suppress(BrokenPipeError, ConnectionResetError):
            conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _secret(link: str) -> str:
    return link.rsplit("/i/", 1)[1]


def _test_session(served: Served, secret: str) -> str:
    """A test under the invite, opened and closed as the client does; its hub session id."""
    status, body = _request(
        served.url, "POST", "/api/speed/session", secret=secret, body=b'{"seconds": 30}'
    )
    assert status == 201, body
    answer = json.loads(body)
    status, _ = _request(served.url, "DELETE", f"/api/speed/session/{answer['token']}")
    assert status == 204
    return str(answer["hub_session"])


def _submit(served: Served, secret: str, session: str, body: bytes) -> tuple[int, bytes]:
    assert served.web_url is not None
    return _request(
        served.web_url, "POST", "/api/submit", secret=secret, body=body,
        headers={"X-Homecheck-Session": session, "Content-Type": "application/json"},
    )  # fmt: skip


def _sqlite(tmp_path: Path, template: Path) -> str:
    path = tmp_path / "hub.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def test_whole_flow_invite_consent_run_submit_verify(
    shared_postgresql: Shared, tmp_path: Path
) -> None:
    """On PostgreSQL over loopback; test_lab_flow.py runs it on SQLite over a shaped lab link
    (the server's namespace cannot reach the host's PostgreSQL)."""
    db_url, served = shared_postgresql.db_url, shared_postgresql.served
    assert served.web_url is not None
    link = _invite(db_url, served.web_url)
    report = tmp_path / "report.json"
    done = homecheck("run", "--invite", link, "--yes", *RUN_FAST, "--json", str(report))
    assert "Sent to 127.0.0.1; receipt " in done.stderr, done.stderr
    assert "no IP address" in done.stderr or "not your IP address" in done.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    assert set(data["receipt"]) == {"payload", "signature"}
    opened = store.open_store(db_url)
    try:
        with opened.sessions() as session:
            invite_id = data["receipt"]["payload"]["invite"]
            rows = list(session.scalars(select(Submission).filter_by(invite_id=invite_id)))
            assert len(rows) == 1
            stored = rows[0]
            # The exact bytes the client sent are the report without its receipt.
            without = {k: v for k, v in data.items() if k != "receipt"}
            assert stored.body == receipts.canonical_json(without)
            assert stored.client_ip is None  # off unless the employer enables it
            # The server's own figures were recorded when the client closed its test.
            assert stored.observations["download_mbps"] > 0
            assert stored.observations["upload_mbps"] > 0
            assert stored.observations["rtt_ms"] > 0
            assert "tcpi_bytes_acked" in stored.observations["method"]
            assert data["receipt"]["payload"]["session"] == stored.session_id
    finally:
        opened.close()
    verified = homecheck("verify", str(report), "--server", served.web_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # One byte edited in the saved report: verify says no.
    edited = json.loads(report.read_text(encoding="utf-8"))
    edited["started_at"] = edited["started_at"][:-1] + "1"
    report.write_text(json.dumps(edited), encoding="utf-8")
    assert homecheck("verify", str(report), "--server", served.web_url).returncode == 1


def test_without_consent_nothing_is_sent(shared_sqlite: Shared, tmp_path: Path) -> None:
    invited = _new_invite(shared_sqlite)  # what matters is the client: one backend
    report = tmp_path / "report.json"
    # No terminal and no --yes: not asked, not sent; the local report is written.
    done = homecheck(
        "run", "--invite", invited.link, "--only", "system", "--quiet", "--json", str(report),
        stdin="",
    )  # fmt: skip
    assert "will not be sent" in done.stderr, done.stderr
    assert "Sent to" not in done.stderr
    assert "receipt" not in json.loads(report.read_text(encoding="utf-8"))
    assert _invite_rows(shared_sqlite.db_url, Submission, invited.invite_id) == 0
    assert _invite_rows(shared_sqlite.db_url, TestSession, invited.invite_id) == 0


def test_refusals_over_http(shared: Shared) -> None:
    db_url, served = shared.db_url, shared.served
    assert served.web_url is not None
    mine = _new_invite(shared, uses=5)
    first = mine.secret
    other = _new_invite(shared).secret
    unknown = receipts.b64(os.urandom(invites.SECRET_BYTES))

    def stored() -> int:
        return _invite_rows(db_url, Submission, mine.invite_id)

    # A bad invite, on session open and on submit.
    status, body = _request(
        served.url, "POST", "/api/speed/session", secret=unknown, body=b'{"seconds": 30}'
    )
    assert status == 403 and b"no such invite" in body
    status, _ = _request(served.web_url, "GET", "/api/invite", secret=unknown)
    assert status == 404

    session = _test_session(served, first)
    good = report_body(101)
    assert _submit(served, unknown, session, good)[0] == 404
    # 20 MB: 413, nothing read on.
    assert _submit(served, first, session, b"{" + b" " * 20_000_000 + b"}")[0] == 413
    # A session of another invite.
    theirs = _test_session(served, other)
    assert _submit(served, first, theirs, good)[0] == 403
    assert stored() == 0

    status, answer = _submit(served, first, session, good)
    assert status == 200, answer
    assert set(json.loads(answer)) == {"payload", "signature"}
    # The same bytes again (a retry after a lost answer): the same receipt, stored once.
    assert _submit(served, first, session, good) == (200, answer)
    # An edited copy (one byte) for that session, and the report replayed for a new test.
    edited = good.replace(b'"voice"', b'"Voice"', 1)
    assert _submit(served, first, session, edited)[0] == 409
    assert _submit(served, first, _test_session(served, first), good)[0] == 409
    # One byte that breaks the canonical encoding.
    assert _submit(served, first, _test_session(served, first), good + b" ")[0] == 400
    assert stored() == 1

    # Expired: on session open and on submit (a session opened before it expired).
    late = _test_session(served, first)
    opened = store.open_store(db_url)
    try:
        with opened.sessions.begin() as db:
            db.execute(
                update(Invite)
                .where(Invite.id == mine.invite_id)
                .values(expires_at=now() - timedelta(seconds=1))
            )
    finally:
        opened.close()
    status, body = _request(
        served.url, "POST", "/api/speed/session", secret=first, body=b'{"seconds": 30}'
    )
    assert status == 403 and b"expired" in body
    assert _submit(served, first, late, report_body(102))[0] == 410
    assert stored() == 1


def test_client_ip_is_stored_only_when_enabled(shared_sqlite: Shared) -> None:
    db_url, served = shared_sqlite.db_url, shared_sqlite.served  # ingest tests both backends
    assert served.web_url is not None
    invited = _new_invite(shared_sqlite, uses=2)
    secret = invited.secret
    assert _submit(served, secret, _test_session(served, secret), report_body(201))[0] == 200
    enabled = homecheck("admin", "settings", "--db", db_url, "--store-client-ip", "on")
    assert enabled.returncode == 0, enabled.stderr
    try:
        status, view = _request(served.web_url, "GET", "/api/invite", secret=secret)
        assert status == 200 and json.loads(view)["stores_client_ip"] is True
        assert _submit(served, secret, _test_session(served, secret), report_body(202))[0] == 200
    finally:  # the module's other tests share this database
        off = homecheck("admin", "settings", "--db", db_url, "--store-client-ip", "off")
        assert off.returncode == 0, off.stderr
    opened = store.open_store(db_url)
    try:
        with opened.sessions() as session:
            ips = list(
                session.scalars(
                    select(Submission.client_ip)
                    .where(Submission.invite_id == invited.invite_id)
                    .order_by(Submission.id)
                )
            )
    finally:
        opened.close()
    assert ips == [None, "127.0.0.1"]


def test_two_serve_processes_share_one_postgres(shared_postgresql: Shared, tmp_path: Path) -> None:
    db_url, one = shared_postgresql.db_url, shared_postgresql.served
    with serving(db_url, tmp_path) as two:
        invited = _new_invite(shared_postgresql, uses=2)
        secret = invited.secret
        # A test measured by one process, its report submitted to the other, and back.
        assert _submit(two, secret, _test_session(one, secret), report_body(301))[0] == 200
        assert _submit(one, secret, _test_session(two, secret), report_body(302))[0] == 200
    assert _invite_rows(db_url, Submission, invited.invite_id) == 2


def test_sigkill_mid_ingest_then_restart_loses_nothing(db_url: str, tmp_path: Path) -> None:
    """`homecheck serve` (every process of it) killed while submissions are in flight, a new serve
    started on the same database: every acknowledged submission is stored once and its receipt
    verifies against the new server; every one that got no answer, retried there, is stored once
    (one that landed before the kill answers its receipt again). Both backends: recovery is
    theirs (SQLite's WAL, PostgreSQL's commit)."""
    submissions = 16
    bodies = [report_body(index) for index in range(submissions)]
    with serving(db_url, tmp_path) as served:
        secret = _new_invite(Shared(db_url, served), uses=submissions).secret
        sessions = [_test_session(served, secret) for _ in range(submissions)]
        acknowledged: dict[int, bytes] = {}  # index -> the receipt the client got
        unanswered: list[int] = []  # sent in full, no answer: in flight at the kill
        started = threading.Barrier(submissions + 1)

        def send(index: int) -> None:
            parts = urlsplit(served.web_url or "")
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
            headers = {
                "Authorization": f"Bearer {secret}",
                "X-Homecheck-Session": sessions[index],
                "Content-Type": "application/json",
            }
            started.wait()
            try:
                conn.request("POST", "/api/submit", body=bodies[index], headers=headers)
            except OSError:
                return  # not sent in full: never reached ingest
            try:
                response = conn.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):
                unanswered.append(index)
                return
            finally:
                conn.close()
            assert response.status == 200, answer
            acknowledged[index] = answer

        threads = [threading.Thread(target=send, args=(i,)) for i in range(submissions)]
        for thread in threads:
            thread.start()
        started.wait()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 3 and time.monotonic() < deadline:
            time.sleep(0.002)
        # Kill the web plane (it ingests) and the server, without a chance to clean up.
        parent = psutil.Process(served.process.pid)
        for process in [*parent.children(recursive=True), parent]:
            process.send_signal(signal.SIGKILL)
        for thread in threads:
            thread.join(30)
    assert acknowledged, "no submission was acknowledged before the kill"
    assert unanswered, "no submission was in flight at the kill"
    print(f"at the kill: {len(acknowledged)} acknowledged, {len(unanswered)} in flight")

    with serving(db_url, tmp_path) as restarted:
        assert restarted.web_url is not None
        landed_before = set(_stored_sessions(db_url))
        assert {sessions[i] for i in acknowledged} <= landed_before
        # The retries of the unanswered: each accepted, with the stored receipt if it landed.
        retried = {}
        for index in unanswered:
            status, answer = _submit(restarted, secret, sessions[index], bodies[index])
            assert status == 200, answer
            retried[index] = answer
        # A retry of one that landed (and was acknowledged): its receipt again, not a refusal.
        first = next(iter(acknowledged))
        again = _submit(restarted, secret, sessions[first], bodies[first])
        assert again == (200, acknowledged[first])
        # Each acknowledged receipt verifies against the restarted server's published keys:
        # the command for one, the same code for all.
        keys = verify_cli._keys_from_server(restarted.web_url)
        for index, answer in {**acknowledged, **retried}.items():
            report = {**json.loads(bodies[index]), "receipt": json.loads(answer)}
            checked = receipts.verify(report, keys)
            assert checked.session == sessions[index]
            if index in acknowledged:
                saved = tmp_path / "acknowledged.json"
                saved.write_text(json.dumps(report), encoding="utf-8")
        done = homecheck("verify", str(saved), "--server", restarted.web_url)
        assert done.returncode == 0, done.stdout + done.stderr
    stored = _stored_sessions(db_url)
    sent = {sessions[i] for i in [*acknowledged, *unanswered]}
    assert sorted(stored) == sorted(sent)  # each exactly once, nothing else
    print(f"{len(landed_before)} stored before the retries, {len(stored)} after")


def _stored_sessions(db_url: str) -> list[str]:
    opened = store.open_store(db_url)
    try:
        with opened.sessions() as session:
            return list(session.scalars(select(Submission.session_id)))
    finally:
        opened.close()
