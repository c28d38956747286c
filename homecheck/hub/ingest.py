"""A submission in, a signed receipt or a refusal out. No HTTP here: the web plane's route calls
`ingest` with what it read and maps a `Refusal` to its status (`Refusal.status`).

Every refusal happens inside one transaction that is rolled back: a refused submission leaves
nothing in the store. Ingest is idempotent: the same bytes for the same test session return the
stored receipt again (a client retrying after a lost answer), on any serve process, because the
store's unique keys (one submission per session, one per report digest) decide, not a process's
memory. Several runs per invite are kept, one per test session; each uses one of the invite's uses.

The verdicts stored are the aggregator's on the invite's pinned profile, not the ones the report
claims: the client's figures are evidence, the judgement is the server's.
"""

from __future__ import annotations

import enum
import hashlib
import json
import secrets
import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from homecheck import aggregator
from homecheck.errors import HomecheckError
from homecheck.hub import latest_run, receipts, webhooks
from homecheck.hub.corroboration import ServerObservations, corroborate
from homecheck.hub.invites import find_by_secret
from homecheck.hub.keys import SigningKey
from homecheck.hub.models import Invite, StoredProfile, Submission, TestSession, now
from homecheck.hub.profile_store import as_profile
from homecheck.hub.store import SettingName, Store, get_setting
from homecheck.model import Report

# A one-hour --duration run with every series is under 2 MB; 8 MiB leaves room and bounds memory.
MAX_SUBMISSION_BYTES = 8 * 1024 * 1024
SESSION_ID_BYTES = 16


class Refused(enum.Enum):
    """Why a submission (or a test session) is refused; `status` is the HTTP status to answer."""

    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    NOT_CANONICAL = "not_canonical"
    SCHEMA_INVALID = "schema_invalid"
    UNKNOWN_INVITE = "unknown_invite"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED_UP = "used_up"
    UNKNOWN_SESSION = "unknown_session"
    OTHER_INVITE = "other_invite"
    EDITED = "edited"
    REPLAYED = "replayed"

    @property
    def status(self) -> int:
        return _STATUS[self]


# Separate from the values: members sharing a status must not become aliases of each other.
_STATUS = {
    Refused.TOO_LARGE: 413,
    Refused.NOT_JSON: 400,
    Refused.NOT_CANONICAL: 400,
    Refused.SCHEMA_INVALID: 422,
    Refused.UNKNOWN_INVITE: 404,
    Refused.EXPIRED: 410,
    Refused.REVOKED: 410,
    Refused.USED_UP: 410,
    Refused.UNKNOWN_SESSION: 404,
    Refused.OTHER_INVITE: 403,
    Refused.EDITED: 409,
    Refused.REPLAYED: 409,
}


class Refusal(HomecheckError):
    def __init__(self, reason: Refused, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def status(self) -> int:
        return self.reason.status


@dataclass(frozen=True)
class InviteView:
    """What a candidate's client may learn from its invite link (the consent screen's facts)."""

    invite_id: str
    candidate_name: str
    profile_name: str
    profile_version: int
    profile_toml: bytes
    stores_client_ip: bool
    uses_left: int
    expires_at: datetime


def invite_view(store: Store, secret: bytes) -> InviteView:
    with store.sessions() as session:
        invite = _usable_invite(session, secret)
        profile = session.get_one(StoredProfile, invite.profile_id)
        return InviteView(
            invite_id=invite.id,
            candidate_name=invite.candidate_name,
            profile_name=profile.name,
            profile_version=profile.version,
            profile_toml=profile.toml,
            stores_client_ip=get_setting(session, SettingName.STORE_CLIENT_IP) == "on",
            uses_left=invite.uses_left,
            expires_at=invite.expires_at,
        )


# SQLite has one writer at a time, and an ingest holds the write lock while it judges and signs.
# With many submissions at once (200 in bench/hub_load.py) a process's threads all waited in
# SQLite's busy handler, and the ones past its timeout failed (500). Queued on this lock instead
# they wait their turn without a limit of SQLite's; the busy timeout is left to other processes.
_SQLITE_WRITER = threading.Lock()


def _writer(store: Store) -> AbstractContextManager[Any]:
    """This process's turn to write, on SQLite; PostgreSQL's row locks need no queue."""
    return _SQLITE_WRITER if store.engine.dialect.name == "sqlite" else nullcontext()


def open_session(store: Store, secret: bytes) -> str:
    """A new test session for this invite (the measurement plane calls it when a test under an
    invite begins). Refusal if the invite is unknown, expired or used up."""
    session_id = secrets.token_hex(SESSION_ID_BYTES)
    with _writer(store), store.sessions.begin() as session:
        invite = _usable_invite(session, secret)
        session.add(TestSession(id=session_id, invite_id=invite.id))
    return session_id


def record_observations(store: Store, session_id: str, observations: ServerObservations) -> None:
    """What the measurement plane counted of a test, stored when the test ends: the report may be
    submitted to another serve process sharing the database. Unknown sessions are ignored (the
    test ran without an invite)."""
    with _writer(store), store.sessions.begin() as session:
        test = session.get(TestSession, session_id)
        if test is not None:
            test.observations = observations.to_json()


def _usable_invite(session: Session, secret: bytes) -> Invite:
    invite = find_by_secret(session, secret)
    if invite is None:
        raise Refusal(Refused.UNKNOWN_INVITE, "no such invite (the link is wrong or was deleted)")
    if invite.revoked_at is not None:
        raise Refusal(Refused.REVOKED, _REVOKED)
    if invite.expires_at <= now():
        raise Refusal(Refused.EXPIRED, "this invite has expired; ask the employer for a new link")
    if invite.uses_left <= 0:
        raise Refusal(Refused.USED_UP, "this invite has been used up; ask for a new link")
    return invite


@cache
def _validator() -> Any:
    """The report schema's validator, but for the points of a series: a report's thousands of
    [x, value] pairs cost jsonschema ~0.1 s a report (a $ref and prefixItems per pair), so
    `_bad_point` checks them, with the schema's own rule, in a plain loop (~100 times faster)."""
    import copy

    from jsonschema import Draft202012Validator

    from reports import json_report

    schema = copy.deepcopy(json_report.schema())
    points = schema["$defs"]["series"]["properties"]["points"]
    assert points["items"] == _POINT_SCHEMA, "the schema's points changed: update _bad_point"
    points["items"] = {"type": "array"}
    return Draft202012Validator(schema)


# What `_bad_point` checks, as the schema says it (reports/report.schema.json, $defs/series).
_POINT_SCHEMA = {
    "type": "array",
    "prefixItems": [{"type": "number"}, {"$ref": "#/$defs/nullable_number"}],
    "minItems": 2,
    "maxItems": 2,
}


def _bad_point(data: dict[str, Any]) -> str | None:
    """Where the first [x, value] pair of a series that breaks the schema's rule is, or None.
    Called after the validator: probes, series and points are lists of the right shape."""
    for p, probe in enumerate(data["probes"]):
        for s, series in enumerate(probe["series"]):
            for n, point in enumerate(series["points"]):
                if not (
                    len(point) == 2
                    and _number(point[0])
                    and (point[1] is None or _number(point[1]))
                ):
                    return f"probes/{p}/series/{s}/points/{n}"
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_submission(body: bytes) -> tuple[dict[str, Any], Report]:
    """The report in a body: canonical JSON (homecheck.hub.receipts), valid against the report
    schema, without a receipt. Refusal otherwise."""
    from reports import json_report

    if len(body) > MAX_SUBMISSION_BYTES:
        raise Refusal(Refused.TOO_LARGE, f"the report is over {MAX_SUBMISSION_BYTES} bytes")
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refusal(Refused.NOT_JSON, "the body is not a JSON report") from None
    if not isinstance(data, dict):
        raise Refusal(Refused.NOT_JSON, "the body is not a JSON object")
    if receipts.RECEIPT_KEY in data:
        raise Refusal(Refused.REPLAYED, "this report already carries a receipt: it was submitted")
    try:
        canonical = receipts.canonical_json(data)
    except (ValueError, UnicodeEncodeError):
        canonical = b""
    if canonical != body:
        raise Refusal(Refused.NOT_CANONICAL, "the report is not in canonical JSON encoding")
    error = next(iter(_validator().iter_errors(data)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise Refusal(
            Refused.SCHEMA_INVALID, f"not a valid report at {where}: {error.message:.200}"
        )
    bad = _bad_point(data)
    if bad is not None:
        raise Refusal(
            Refused.SCHEMA_INVALID,
            f"not a valid report at {bad}: a point is [number, number or null]",
        )
    try:
        return data, json_report.from_dict(data)
    except ValueError as exc:
        raise Refusal(Refused.SCHEMA_INVALID, str(exc)) from None


_REVOKED = "this invite was withdrawn by the employer; ask them for a new link"


def _no_constant(token: str) -> None:
    raise ValueError(f"{token} is not a JSON number")


def ingest(
    store: Store,
    key: SigningKey,
    *,
    invite_secret: bytes,
    session_id: str,
    body: bytes,
    observations: ServerObservations | None,
    client_address: str | None,
) -> receipts.Receipt:
    """Store one submission and return its receipt, or raise Refusal with nothing stored.
    `observations` None: those recorded for the session (`record_observations`), if any."""
    data, report = parse_submission(body)
    digest = hashlib.sha256(body).hexdigest()
    try:
        with _writer(store), store.sessions.begin() as session:
            return _store(
                session, key, invite_secret, session_id, body, digest, data, report,
                observations, client_address,
            )  # fmt: skip
    except _AlreadyStored as retry:
        return retry.receipt
    except IntegrityError:
        # Another process stored this session or these bytes between our checks and our insert:
        # the same bytes for the same session is a retry (its receipt); anything else, a refusal.
        with store.sessions() as session:
            stored = session.scalar(select(Submission).where(Submission.session_id == session_id))
            if stored is not None and stored.report_sha256 == digest:
                return receipts.Receipt(stored.receipt["payload"], stored.receipt["signature"])
        raise Refusal(Refused.REPLAYED, "this report or test session was just submitted") from None


class _AlreadyStored(Exception):
    """The same bytes for the same session: a retry, answered with the stored receipt."""

    def __init__(self, stored: Submission) -> None:
        super().__init__(stored.session_id)
        self.receipt = receipts.Receipt(stored.receipt["payload"], stored.receipt["signature"])


def _store(
    session: Session,
    key: SigningKey,
    invite_secret: bytes,
    session_id: str,
    body: bytes,
    digest: str,
    data: dict[str, Any],
    report: Report,
    observations: ServerObservations | None,
    client_address: str | None,
) -> receipts.Receipt:
    invite = find_by_secret(session, invite_secret)
    if invite is None:
        raise Refusal(Refused.UNKNOWN_INVITE, "no such invite (the link is wrong or was deleted)")
    # The write comes first: on SQLite it takes the write lock (waiting its busy timeout) before
    # this transaction reads anything it relies on; on PostgreSQL it locks the invite's row, so
    # two processes using its last use cannot both succeed. A refusal below rolls it back.
    took_a_use = session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.uses_left > 0)
        .values(uses_left=Invite.uses_left - 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    test = session.get(TestSession, session_id)
    if test is None:
        raise Refusal(Refused.UNKNOWN_SESSION, "no such test session on this server")
    if test.invite_id != invite.id:
        raise Refusal(Refused.OTHER_INVITE, "this test session belongs to another invite")
    stored = session.scalar(select(Submission).where(Submission.session_id == session_id))
    if stored is not None:
        if stored.report_sha256 == digest:
            raise _AlreadyStored(stored)  # rolls back the use taken above
        raise Refusal(
            Refused.EDITED, "this test session already has a different report (an edited copy)"
        )
    if session.scalar(select(Submission.id).where(Submission.report_sha256 == digest)):
        raise Refusal(Refused.REPLAYED, "this report was already submitted for another test")
    received = now()
    if invite.revoked_at is not None:
        raise Refusal(Refused.REVOKED, _REVOKED)
    if invite.expires_at <= received:
        raise Refusal(Refused.EXPIRED, "this invite has expired; ask the employer for a new link")
    if not took_a_use:
        raise Refusal(Refused.USED_UP, "this invite has been used up; ask for a new link")

    if observations is None:
        observations = ServerObservations.from_json(test.observations or {})
    judgement = aggregator.judge(
        as_profile(session.get_one(StoredProfile, invite.profile_id)), report.results
    )
    check = corroborate(report.results, observations)
    observed = observations.to_json()
    receipt = receipts.sign(
        key.private,
        invite=invite.id,
        session=session_id,
        report_sha256=digest,
        observations=observed,
        server_time=received.isoformat(timespec="seconds"),
    )
    keep_ip = get_setting(session, SettingName.STORE_CLIENT_IP) == "on"
    submission = Submission(
        invite_id=invite.id,
        session_id=session_id,
        body=body,
        report_sha256=digest,
        report=data,
        overall=judgement.overall.value,
        areas={a.area: a.verdict.value for a in judgement.areas},
        corroborated=check.agrees,
        disagreements=list(check.disagreements),
        observations=observed,
        receipt=receipt.to_json(),
        client_ip=client_address if keep_ip else None,
        created_at=received,
    )
    session.add(submission)
    session.flush()  # a unique-key race shows here, inside the try of `ingest`
    latest_run.refresh(session, [invite.id])
    webhooks.enqueue(session, invite, submission, at=received)  # in this same transaction
    return receipt
