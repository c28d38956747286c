"""The employer's webhook: a signed JSON POST per stored submission to the employer's own URL
(an applicant tracking system), retried with backoff, every attempt logged.

The outbox pattern: `enqueue` writes a `webhook_outbox` row in the submission's own transaction
(homecheck/hub/ingest.py), so a stored submission always has its delivery and a refused one never
does. The web plane of each serve process runs a `Worker` thread that sends the due rows. Several
processes may share one database: a process first claims a row (an UPDATE that only succeeds while
nobody else's claim runs, `claimed_until`), so each attempt is made by one process; a process that
dies mid-send leaves a claim that expires after `CLAIM`, and another process retries the row.

Delivery is at least once: a receiver that answered 2xx but whose answer was lost gets the same
body again. The body's `submission` id is unique per submission; receivers deduplicate on it.

What is sent (no audio, no report, the client's address only when the employer keeps it)::

    {"event": "submission", "submission": 12, "invite": "inv-...", "candidate": {"name": ...,
     "email": ...}, "profile": {"name": "voice", "version": 1}, "submitted_at": "...",
     "verdict": "pass", "areas": {"network": "pass", ...}, "corroborated": true,
     "disagreements": [], "report_sha256": "...", "receipt": {"payload": ..., "signature": ...}}

The signature (the scheme of Stripe's webhooks): header ``Homecheck-Signature: t=UNIX,v1=HEX``
where HEX is HMAC-SHA256, keyed with the webhook secret, of ``f"{t}."`` followed by the raw body.
A receiver recomputes it over the bytes it received, compares in constant time, and refuses a `t`
more than five minutes from its clock (a replayed request). `verify` does exactly that.

Backoff: the n-th failed attempt waits `first * 2**(n-1)` (30 s, 1 min, 2 min, ...), at most six
hours, and after `max_attempts` (15, about 32 hours after the first) the row is given up. A 2xx
answer is a delivery; anything else (another status, refused connection, no answer within 10 s)
is a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

import homecheck
from homecheck.hub.models import (
    Invite,
    StoredProfile,
    Submission,
    WebhookDelivery,
    WebhookOutbox,
    now,
)
from homecheck.hub.store import SettingName, Store, get_setting

SIGNATURE_HEADER = "Homecheck-Signature"
SUBMISSION_HEADER = "Homecheck-Submission"
TOLERANCE_S = 300
TIMEOUT_S = 10.0
CLAIM = timedelta(seconds=60)  # well over TIMEOUT_S: a claim outlives the send it covers
POLL_S = 2.0
BATCH = 20
MAX_ANSWER_BYTES = 64 * 1024
MAX_ERROR_CHARS = 300

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    first_s: float = 30.0
    cap_s: float = 6 * 3600.0
    max_attempts: int = 15

    def delay(self, failed_attempts: int) -> timedelta:
        """The wait after the `failed_attempts`-th failure."""
        exponent = min(failed_attempts - 1, 40)  # 2**40 is already far past any cap
        return timedelta(seconds=min(self.first_s * 2**exponent, self.cap_s))


BACKOFF = Backoff()


def payload(session: Session, invite: Invite, submission: Submission) -> dict[str, Any]:
    profile = session.get_one(StoredProfile, invite.profile_id)
    data: dict[str, Any] = {
        "event": "submission",
        "submission": submission.id,
        "invite": invite.id,
        "candidate": {"name": invite.candidate_name, "email": invite.candidate_email},
        "profile": {"name": profile.name, "version": profile.version},
        "submitted_at": submission.created_at.isoformat(timespec="seconds"),
        "verdict": submission.overall,
        "areas": submission.areas,
        "corroborated": submission.corroborated,
        "disagreements": submission.disagreements,
        "report_sha256": submission.report_sha256,
        "receipt": submission.receipt,
    }
    if submission.client_ip is not None:  # kept only when the employer enabled it
        data["client_ip"] = submission.client_ip
    return data


def enqueue(
    session: Session, invite: Invite, submission: Submission, *, at: datetime
) -> WebhookOutbox | None:
    """The submission's delivery, in the caller's transaction; None when no webhook is set."""
    if not get_setting(session, SettingName.WEBHOOK_URL):
        return None
    body = json.dumps(payload(session, invite, submission), separators=(",", ":")).encode()
    row = WebhookOutbox(
        submission_id=submission.id, body=body, attempts=0, next_attempt_at=at, created_at=at
    )
    session.add(row)
    return row


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `Homecheck-Signature` header's value for `body` sent at `timestamp` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    now_s: float | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> bool:
    """Whether `header` signs `body` with `secret`, sent within `tolerance_s` of `now_s`."""
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        fields.setdefault(key, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now_s is None else now_s) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


@dataclass(frozen=True)
class Answer:
    status: int | None  # the HTTP status, None when there was none
    error: str | None  # why it failed; None for a 2xx

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float = TIMEOUT_S) -> Answer:
    """One POST of `body` to `url`; redirects are not followed (an answer like any other)."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    try:
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=timeout_s,
                context=ssl.create_default_context(),
            )  # fmt: skip
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout_s)
    except ValueError as exc:  # a bad port
        return Answer(None, f"bad webhook URL: {exc}")
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(MAX_ANSWER_BYTES)
    except TimeoutError:
        return Answer(None, f"no answer within {timeout_s:g} s")
    except ConnectionRefusedError:
        return Answer(None, "connection refused")
    except ssl.SSLError as exc:
        return Answer(None, f"TLS: {exc.reason or exc}"[:MAX_ERROR_CHARS])
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    finally:
        conn.close()
    if 200 <= response.status < 300:
        return Answer(response.status, None)
    return Answer(response.status, f"HTTP {response.status} {response.reason}"[:MAX_ERROR_CHARS])


def due_ids(store: Store, at: datetime, limit: int = BATCH) -> list[int]:
    with store.sessions() as session:
        return list(
            session.scalars(
                select(WebhookOutbox.id)
                .where(
                    WebhookOutbox.delivered_at.is_(None),
                    WebhookOutbox.gave_up_at.is_(None),
                    WebhookOutbox.next_attempt_at <= at,
                    or_(WebhookOutbox.claimed_until.is_(None), WebhookOutbox.claimed_until < at),
                )
                .order_by(WebhookOutbox.next_attempt_at)
                .limit(limit)
            )
        )


def claim(store: Store, outbox_id: int, at: datetime) -> bool:
    """Take the row for one attempt; False if it was delivered, is not due, or another process
    holds it. One UPDATE decides, so two processes cannot both win."""
    with store.sessions.begin() as session:
        taken = session.execute(
            update(WebhookOutbox)
            .where(
                WebhookOutbox.id == outbox_id,
                WebhookOutbox.delivered_at.is_(None),
                WebhookOutbox.gave_up_at.is_(None),
                WebhookOutbox.next_attempt_at <= at,
                or_(WebhookOutbox.claimed_until.is_(None), WebhookOutbox.claimed_until < at),
            )
            .values(claimed_until=at + CLAIM)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    return bool(taken)


def attempt(store: Store, outbox_id: int, at: datetime, backoff: Backoff = BACKOFF) -> Answer:
    """Send a claimed row once and record the attempt (delivered, next try, or given up)."""
    with store.sessions() as session:
        found = session.get(WebhookOutbox, outbox_id)
        if found is None:  # its candidate was deleted meanwhile: nothing to send
            return Answer(None, "deleted")
        row = found
        body = row.body
        url = get_setting(session, SettingName.WEBHOOK_URL)
        secret = get_setting(session, SettingName.WEBHOOK_SECRET)
        submission_id = row.submission_id
    if not url:
        answer = Answer(None, "the webhook was turned off")
    else:
        answer = post(
            url,
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": f"homecheck/{homecheck.__version__}",
                SIGNATURE_HEADER: sign(secret, body, int(at.timestamp())),
                SUBMISSION_HEADER: str(submission_id),
            },
        )
    with store.sessions.begin() as session:
        found = session.get(WebhookOutbox, outbox_id)
        if found is None:  # deleted during the send: no log line for a deleted candidate
            return answer
        row = found
        row.attempts += 1
        row.claimed_until = None
        next_at: datetime | None = None
        if answer.delivered:
            row.delivered_at = at
        elif not url or row.attempts >= backoff.max_attempts:
            row.gave_up_at = at
        else:
            next_at = row.next_attempt_at = at + backoff.delay(row.attempts)
        session.add(
            WebhookDelivery(
                outbox_id=outbox_id,
                attempt=row.attempts,
                attempted_at=at,
                status_code=answer.status,
                error=answer.error,
                next_attempt_at=next_at,
            )
        )
    return answer


def deliver_due(store: Store, *, at: datetime | None = None, backoff: Backoff = BACKOFF) -> int:
    """One pass: every due row this process can claim, sent once. Returns the attempts made."""
    made = 0
    for outbox_id in due_ids(store, at or now()):
        started = at or now()
        if claim(store, outbox_id, started):
            attempt(store, outbox_id, started, backoff)
            made += 1
    return made


@dataclass(frozen=True)
class DeliveryLine:
    """One attempt, as the settings page lists it."""

    attempted_at: datetime
    submission_id: int
    invite_id: str
    attempt: int
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None


def delivery_log(session: Session, limit: int = 50) -> list[DeliveryLine]:
    query = (
        select(WebhookDelivery, WebhookOutbox.submission_id, Submission.invite_id)
        .join(WebhookOutbox, WebhookOutbox.id == WebhookDelivery.outbox_id)
        .join(Submission, Submission.id == WebhookOutbox.submission_id)
        .order_by(WebhookDelivery.attempted_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    )
    return [
        DeliveryLine(
            d.attempted_at,
            submission_id,
            invite_id,
            d.attempt,
            d.status_code,
            d.error,
            d.next_attempt_at,
        )
        for d, submission_id, invite_id in session.execute(query)
    ]


class Worker:
    """The web plane's background sender: a daemon thread that delivers due rows every
    `POLL_S`. A failure of the database is logged and retried at the next pass."""

    def __init__(self, store: Store, poll_s: float = POLL_S) -> None:
        self.store = store
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="homecheck-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = TIMEOUT_S + 1) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                deliver_due(self.store)
            except Exception as exc:  # the thread outlives a database hiccup
                log.warning("webhook delivery pass failed: %s", str(exc).splitlines()[0][:200])
            self._stop.wait(self.poll_s)
