"""Every run of one invite, as a candidate's page shows it (homecheck/dashboard).

`candidate_runs` reads the invite, its pinned profile and every stored submission (oldest first):
the exact submitted bytes parsed (JSON once; the whole `Report` only on demand, `StoredRun.report`,
as the page needs it for the latest run only), when the server received it, its verdicts
(the aggregator's on the pinned profile, stored at ingest), the server's corroboration, and the
receipt's status: the stored receipt is checked as `homecheck verify` would check the candidate's
copy, against the public keys the hub publishes (its `signing_keys` table), over the stored
bytes. A receipt that no longer verifies means the stored row was changed after it was signed
(or its key was removed), and the page says which. `candidate_run` reads one run by its number
(the embedded report's route), without the others.

The rest are pure functions: the server's corroboration and observations in words, and a run's
report judged again on the pinned profile (what the embedded HTML report shows).
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, defer

from homecheck import aggregator
from homecheck.hub import receipts
from homecheck.hub.corroboration import ServerObservations
from homecheck.hub.models import Invite, SigningKeyRow, StoredProfile, Submission, now
from homecheck.hub.profile_store import as_profile
from homecheck.metrics import BY_ID
from homecheck.model import Profile, Report, Verdict

if TYPE_CHECKING:
    from reports.fixes import FixItem


class InviteStatus(enum.Enum):
    OPEN = "open"
    USED_UP = "used up"
    EXPIRED = "expired"
    REVOKED = "revoked"  # withdrawn by the employer (invites.revoke): refused from then on


@dataclass(frozen=True)
class InviteFacts:
    invite_id: str
    candidate_name: str
    candidate_email: str | None
    profile_name: str
    profile_version: int
    profile: Profile  # the pinned version, parsed
    uses_total: int
    uses_left: int
    created_at: datetime
    expires_at: datetime
    status: InviteStatus


@dataclass(frozen=True)
class ReceiptStatus:
    valid: bool
    reason: str  # valid: what it vouches for; invalid: why not (receipts.ReceiptError's words)
    key_id: str | None = None
    server_time: str | None = None


@dataclass(frozen=True)
class StoredRun:
    number: int  # 1 for the first run received
    submission_id: int
    received_at: datetime
    data: dict[str, Any] | None  # the stored bytes parsed; None: they are no JSON object now
    overall: Verdict
    areas: dict[str, Verdict]
    corroborated: bool | None
    disagreements: tuple[str, ...]
    observations: dict[str, Any]
    receipt: ReceiptStatus

    @property
    def label(self) -> str:
        return f"run {self.number}"

    @property
    def started_at(self) -> datetime | None:
        """When the run started, as its report says (reports.history.parse_started)."""
        from reports import history

        return history.parse_started(self.data.get("started_at")) if self.data else None

    def figures(self) -> dict[str, float]:
        """Its numeric measurements by metric id, read from the parsed JSON (cheap)."""
        from reports import history

        return history.figures_of_json(self.data) if self.data else {}

    def report(self) -> Report | None:
        """The whole report (series included: a few ms for a full run), or None if the stored
        bytes no longer read as one."""
        from reports import json_report

        if self.data is None:
            return None
        try:
            return json_report.from_dict(self.data)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


@dataclass(frozen=True)
class CandidateRuns:
    invite: InviteFacts
    runs: tuple[StoredRun, ...]  # oldest first; the last is the invite's verdict

    @property
    def latest(self) -> StoredRun | None:
        return self.runs[-1] if self.runs else None


def candidate_runs(session: Session, invite_id: str) -> CandidateRuns | None:
    """The invite and all its runs, or None when there is no such invite."""
    invite = session.get(Invite, invite_id)
    if invite is None:
        return None
    stored_profile = session.get_one(StoredProfile, invite.profile_id)
    keys = published_keys(session)
    submissions = session.scalars(_runs_of(invite_id))
    runs = tuple(
        _run(number, submission, keys) for number, submission in enumerate(submissions, start=1)
    )
    return CandidateRuns(_facts(invite, stored_profile), runs)


def candidate_run(
    session: Session, invite_id: str, number: int
) -> tuple[InviteFacts, StoredRun] | None:
    """One run of an invite by its number (1 = the first received), without reading the others;
    None when there is no such invite or run."""
    invite = session.get(Invite, invite_id)
    if invite is None or number < 1:
        return None
    row = session.scalars(_runs_of(invite_id).offset(number - 1).limit(1)).first()
    if row is None:
        return None
    stored_profile = session.get_one(StoredProfile, invite.profile_id)
    return _facts(invite, stored_profile), _run(number, row, published_keys(session))


def _runs_of(invite_id: str) -> Select[Submission]:
    # The `report` column repeats the body parsed: reading both would parse every run twice.
    return (
        select(Submission)
        .options(defer(Submission.report))
        .where(Submission.invite_id == invite_id)
        .order_by(Submission.created_at, Submission.id)
    )


def published_keys(session: Session) -> dict[str, Ed25519PublicKey]:
    """Every public key the hub publishes; a row that is not a key is left out (its receipts
    then read "unknown key")."""
    keys = {}
    for row in session.scalars(select(SigningKeyRow)):
        try:
            public = receipts.public_from_text(row.public_key)
        except receipts.ReceiptError:
            continue
        if receipts.key_id(public) == row.key_id:
            keys[row.key_id] = public
    return keys


def _facts(invite: Invite, stored: StoredProfile) -> InviteFacts:
    if invite.revoked_at is not None:
        status = InviteStatus.REVOKED
    elif invite.expires_at <= now():
        status = InviteStatus.EXPIRED
    elif invite.uses_left <= 0:
        status = InviteStatus.USED_UP
    else:
        status = InviteStatus.OPEN
    return InviteFacts(
        invite_id=invite.id,
        candidate_name=invite.candidate_name,
        candidate_email=invite.candidate_email,
        profile_name=stored.name,
        profile_version=stored.version,
        profile=as_profile(stored),
        uses_total=invite.uses_total,
        uses_left=invite.uses_left,
        created_at=invite.created_at,
        expires_at=invite.expires_at,
        status=status,
    )


def _run(number: int, row: Submission, keys: Mapping[str, Ed25519PublicKey]) -> StoredRun:
    return StoredRun(
        number=number,
        submission_id=row.id,
        received_at=row.created_at,
        data=_parsed(row.body),
        overall=_verdict(row.overall),
        areas={area: _verdict(value) for area, value in (row.areas or {}).items()},
        corroborated=row.corroborated,
        disagreements=tuple(str(d) for d in row.disagreements or ()),
        observations=dict(row.observations or {}),
        receipt=receipt_status(
            row.body, row.receipt, keys, invite=row.invite_id, session=row.session_id
        ),
    )


def _parsed(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _verdict(value: str) -> Verdict:
    try:
        return Verdict(value)
    except ValueError:
        return Verdict.NOT_MEASURED


def receipt_status(
    body: bytes,
    receipt: Any,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    invite: str,
    session: str,
) -> ReceiptStatus:
    """The stored receipt checked over the stored bytes, as `homecheck verify` checks the
    candidate's copy: ingest keeps a report only in its canonical encoding, so the SHA-256 of
    these bytes is the digest the receipt signs (homecheck/hub/receipts.py)."""
    try:
        verified = receipts.verify_digest(
            receipt, hashlib.sha256(body).hexdigest(), keys, invite=invite
        )
    except receipts.ReceiptError as exc:
        return ReceiptStatus(False, str(exc))
    if verified.session != session:
        return ReceiptStatus(
            False,
            f"the receipt names test session {verified.session!r}, not this run's",
            verified.key_id,
            verified.server_time,
        )
    return ReceiptStatus(
        True,
        f"signed by key {verified.key_id} at {verified.server_time} for this invite, "
        "over exactly the stored report",
        verified.key_id,
        verified.server_time,
    )


def judged(report: Report, profile: Profile) -> Report:
    """The report with the aggregator's verdicts on the invite's pinned profile: the verdicts the
    hub stored, not whatever the submitted file claimed."""
    judgement = aggregator.judge(profile, report.results)
    return replace(
        report,
        profile=profile,
        findings=judgement.findings,
        areas=judgement.areas,
        overall=judgement.overall,
    )


def corroboration_summary(corroborated: bool | None) -> str:
    if corroborated is None:
        return (
            "Not corroborated: the server measured nothing it could compare with this report "
            "(the network was not measured against it)."
        )
    if corroborated:
        return "Corroborated: the server's own measurements of this test agree with the report."
    return (
        "Not corroborated: the server's own measurements disagree with the report, either a "
        "doctored report or a network path that distorts the test (a buffering proxy)."
    )


_DISAGREEMENT = re.compile(
    r"^(?P<metric>[a-z0-9_.]+): the report says (?P<client>\S+), "
    r"the server measured (?P<server>\S+) \(tolerance ±(?P<tolerance>\S+)\)$"
)


def disagreement_words(text: str) -> str:
    """corroboration.py's sentence with the metric's name and unit instead of its id."""
    match = _DISAGREEMENT.match(text)
    if match is None:
        return text
    info = BY_ID.get(match["metric"])
    if info is None:
        return text
    unit = f" {info.unit}" if info.unit else ""
    return (
        f"{info.label}: the report says {match['client']}{unit}, the server measured "
        f"{match['server']}{unit} (the tolerance is ±{match['tolerance']}{unit})"
    )


_OBSERVED = (
    ("download_mbps", "download", "Mbit/s"),
    ("upload_mbps", "upload", "Mbit/s"),
    ("loss_up_pct", "upstream packet loss", "%"),
    ("rtt_ms", "round-trip delay of the loaded connection", "ms"),
)


def observation_words(observations: Mapping[str, Any]) -> tuple[str, ...]:
    """What the server measured of the test itself, one phrase per figure it has."""
    try:
        observed = ServerObservations.from_json(observations)
    except (ValueError, KeyError, TypeError):
        return ()
    words = []
    for name, label, unit in _OBSERVED:
        value = getattr(observed, name)
        if value is not None:
            words.append(f"{label} {_figure(value)} {unit}")
    return tuple(words)


def _figure(value: float) -> str:
    """A figure as a recruiter reads it: 17,800 (not 1.78e+04), 40.3, 0.003."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def advice(report: Report) -> list[FixItem]:
    """What the candidate was told to fix at the end of their run: the report's own findings as
    every renderer lists them (reports/fixes.py), not judged again."""
    from reports import fixes

    return fixes.to_fix(report.findings)
