"""The webhook: a signed POST per stored submission, retried with backoff, each attempt logged,
each delivery made by one serve process. Against a real HTTP receiver on 127.0.0.1 and real
databases; the backoff's clock is passed in (`at=`), so no test waits for it."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from homecheck.hub import ingest, settings, store, webhooks
from homecheck.hub.models import WebhookDelivery, WebhookOutbox, now
from homecheck.hub.service import Hub
from tests.homecheck.hub.conftest import AGREEING, count, invite, report_body
from tests.support.receiver import Receiver, receiving
from tests.support.serve import start_serve, stop_serve

SECRET = "whsec_test-secret-0123456789"
SUBMISSIONS = 6  # for two senders at once


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as started:
        yield started


def _set_webhook(hub: Hub, url: str) -> None:
    with hub.store.sessions.begin() as session:
        settings.set_webhook(session, url, SECRET)


def _submit(hub: Hub, run: int, *, client_address: str | None = None) -> None:
    invited = invite(hub, candidate=f"Candidate {run}")
    ingest.ingest(
        hub.store, hub.key, invite_secret=invited.secret,
        session_id=ingest.open_session(hub.store, invited.secret), body=report_body(run),
        observations=AGREEING, client_address=client_address,
    )  # fmt: skip


def test_a_receiver_failing_twice_gets_three_signed_attempts_and_one_delivery(
    hub: Hub, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    _set_webhook(hub, receiver.url)
    _submit(hub, 1)
    assert count(hub, WebhookOutbox) == 1  # written with the submission
    t0 = now()
    t1 = t0 + timedelta(seconds=31)
    t2 = t1 + timedelta(seconds=61)
    assert webhooks.deliver_due(hub.store, at=t0) == 1
    assert webhooks.deliver_due(hub.store, at=t0 + timedelta(seconds=29)) == 0  # backing off
    assert webhooks.deliver_due(hub.store, at=t1) == 1
    assert webhooks.deliver_due(hub.store, at=t1 + timedelta(seconds=59)) == 0
    assert webhooks.deliver_due(hub.store, at=t2) == 1
    assert webhooks.deliver_due(hub.store, at=t2 + timedelta(days=2)) == 0  # delivered: done

    with hub.store.sessions() as session:
        log = webhooks.delivery_log(session)
        (row,) = session.scalars(select(WebhookOutbox))
    assert [(d.attempt, d.status_code) for d in reversed(log)] == [(1, 500), (2, 500), (3, 204)]
    assert [d.attempted_at for d in reversed(log)] == [t0, t1, t2]
    assert [d.next_attempt_at for d in reversed(log)] == [
        t0 + timedelta(seconds=30), t1 + timedelta(seconds=60), None,
    ]  # fmt: skip
    assert log[-1].error == "HTTP 500 Internal Server Error" and log[0].error is None
    assert row.delivered_at == t2 and row.attempts == 3 and row.claimed_until is None

    assert len(receiver.requests) == 3 and len(receiver.accepted()) == 1
    for (headers, body), sent_at in zip(receiver.requests, (t0, t1, t2), strict=True):
        signature = headers[webhooks.SIGNATURE_HEADER]
        assert webhooks.verify(SECRET, signature, body, now_s=sent_at.timestamp())
        assert not webhooks.verify(SECRET, signature, body + b" ", now_s=sent_at.timestamp())
        assert not webhooks.verify("whsec_another-secret-00000", signature, body,
                                   now_s=sent_at.timestamp())  # fmt: skip
        # A request replayed ten minutes later is refused by its timestamp.
        assert not webhooks.verify(SECRET, signature, body, now_s=sent_at.timestamp() + 600)
        assert headers["Content-Type"] == "application/json"
    payload = json.loads(receiver.accepted()[0])
    assert payload["candidate"] == {"name": "Candidate 1", "email": None}
    assert payload["verdict"] in {"pass", "warn", "fail"} and payload["areas"]
    assert payload["corroborated"] is True and payload["disagreements"] == []
    assert set(payload["receipt"]) == {"payload", "signature"}
    assert payload["receipt"]["payload"]["invite"] == payload["invite"]
    assert "client_ip" not in payload and "report" not in payload  # nothing else of the run
    assert receiver.requests[0][0][webhooks.SUBMISSION_HEADER] == str(payload["submission"])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database difference here
def test_the_address_is_sent_only_when_kept_and_no_webhook_queues_nothing(hub: Hub) -> None:
    _submit(hub, 1, client_address="192.0.2.7")
    assert count(hub, WebhookOutbox) == 0  # no webhook set
    with hub.store.sessions.begin() as session:
        settings.set_webhook(session, "https://ats.example.com/hook", "")
        settings.set_store_client_ip(session, True)
        assert settings.read(session).webhook_secret.startswith(settings.SECRET_PREFIX)
    _submit(hub, 2, client_address="192.0.2.7")
    with hub.store.sessions() as session:
        (row,) = session.scalars(select(WebhookOutbox))
    assert json.loads(row.body)["client_ip"] == "192.0.2.7"
    # A refused submission (a replay) queues nothing: the outbox row shares its transaction.
    invited = invite(hub)
    with pytest.raises(ingest.Refusal):
        ingest.ingest(
            hub.store, hub.key, invite_secret=invited.secret,
            session_id=ingest.open_session(hub.store, invited.secret), body=report_body(2),
            observations=AGREEING, client_address=None,
        )  # fmt: skip
    assert count(hub, WebhookOutbox) == 1


def test_two_processes_deliver_each_submission_once(
    hub: Hub, db_url: str, receiver: Receiver
) -> None:
    receiver.delay_s = 0.02  # the two senders overlap
    _set_webhook(hub, receiver.url)
    for run in range(SUBMISSIONS):
        _submit(hub, run)
    other = store.open_store(db_url)  # a second serve process's own engine
    made: list[int] = []
    try:
        at = now()
        senders = [
            threading.Thread(target=lambda s=s: made.append(webhooks.deliver_due(s, at=at)))
            for s in (hub.store, other)
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(60)
    finally:
        other.close()
    ids = [json.loads(body)["submission"] for _, body in receiver.requests]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == SUBMISSIONS
    assert sum(made) == SUBMISSIONS
    assert count(hub, WebhookDelivery) == SUBMISSIONS


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database difference here
def test_backoff_doubles_up_to_its_cap_and_gives_up(hub: Hub, receiver: Receiver) -> None:
    backoff = webhooks.Backoff(first_s=30, cap_s=100, max_attempts=3)
    assert [backoff.delay(n).total_seconds() for n in (1, 2, 3, 4, 60)] == [30, 60, 100, 100, 100]
    assert webhooks.BACKOFF.delay(15) == timedelta(hours=6)
    receiver.fail_first = 99
    _set_webhook(hub, receiver.url)
    _submit(hub, 1)
    at = now()
    for _ in range(3):
        assert webhooks.deliver_due(hub.store, at=at, backoff=backoff) == 1
        at += timedelta(seconds=101)
    assert webhooks.deliver_due(hub.store, at=at + timedelta(days=9), backoff=backoff) == 0
    with hub.store.sessions() as session:
        (row,) = session.scalars(select(WebhookOutbox))
        log = webhooks.delivery_log(session)
    assert row.gave_up_at is not None and row.delivered_at is None
    assert log[0].next_attempt_at is None and len(log) == 3


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database difference here
def test_an_unreachable_url_is_logged_as_an_error(hub: Hub) -> None:
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    _set_webhook(hub, f"http://127.0.0.1:{port}/")
    _submit(hub, 1)
    assert webhooks.deliver_due(hub.store) == 1
    with hub.store.sessions() as session:
        (line,) = webhooks.delivery_log(session)
    assert (line.status_code, line.error) == (None, "connection refused")
    assert line.next_attempt_at is not None


def test_serve_delivers_in_the_background(
    tmp_path: Path, sqlite_template: Path, receiver: Receiver
) -> None:
    """The web plane's worker thread: a submission over HTTP reaches the receiver, signed."""
    import shutil

    path = tmp_path / "hub.sqlite3"
    shutil.copyfile(sqlite_template, path)
    db_url = f"sqlite:///{path}"
    opened = store.open_store(db_url)
    try:
        with opened.sessions.begin() as session:
            settings.set_webhook(session, receiver.url, SECRET)
    finally:
        opened.close()
    served = start_serve("--db", db_url, env={"XDG_DATA_HOME": str(tmp_path / "data")})
    try:
        from homecheck.hub import service

        hub = service.start(db_url, key_dir=tmp_path / "data")
        try:
            invited = invite(hub)
        finally:
            hub.close()
        secret = invited.secret
        from homecheck.hub.receipts import b64

        bearer = {"Authorization": f"Bearer {b64(secret)}"}
        status, answer = _http(served.url, "POST", "/api/speed/session", b'{"seconds": 30}', bearer)
        assert status == 201, answer
        token = json.loads(answer)
        assert (
            _http(served.url, "DELETE", f"/api/speed/session/{token['token']}", None, {})[0] == 204
        )
        assert served.web_url is not None
        status, answer = _http(
            served.web_url, "POST", "/api/submit", report_body(1),
            {**bearer, "X-Homecheck-Session": str(token["hub_session"])},
        )  # fmt: skip
        assert status == 200, answer
        receiver.wait_for(1)
    finally:
        stop_serve(served)
    ((headers, body),) = receiver.requests
    assert webhooks.verify(SECRET, headers[webhooks.SIGNATURE_HEADER], body)
    assert json.loads(body)["invite"] == invited.invite_id


def _http(
    url: str, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_the_readme_recipe_verifies_what_the_hub_signs() -> None:
    """The employer's code in README.md, run as written, against `webhooks.sign`."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The webhook", 1)[1]
    recipe = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(recipe, "README.md", "exec"), namespace)
    verified = namespace["verified"]
    assert callable(verified)
    body = b'{"event":"submission","submission":1}'
    header = webhooks.sign(SECRET, body, int(time.time()))
    assert verified(SECRET, header, body) is True
    assert verified(SECRET, header, body.replace(b"1", b"2")) is False
    assert verified(SECRET, webhooks.sign(SECRET, body, int(time.time()) - 900), body) is False


def test_deleting_a_candidate_deletes_their_deliveries(hub: Hub, receiver: Receiver) -> None:
    """The outbox holds the candidate's name: it goes with the candidate (and with pruned runs)."""
    from homecheck.hub import candidates

    receiver.fail_first = 1
    _set_webhook(hub, receiver.url)
    _submit(hub, 1)
    assert webhooks.deliver_due(hub.store) == 1  # one failed attempt logged, a retry pending
    assert (count(hub, WebhookOutbox), count(hub, WebhookDelivery)) == (1, 1)
    with hub.store.sessions.begin() as session:
        assert candidates.delete_candidate(session, "Candidate 1") == 1
    assert (count(hub, WebhookOutbox), count(hub, WebhookDelivery)) == (0, 0)
