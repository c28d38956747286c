"""Every run of an invite as the candidate's page reads it (homecheck/hub/runs.py), against a real
store filled through the real ingest: runs in order with their verdicts, receipts checked against
the published keys (valid, and invalid with the reason when a stored row was changed), the
server's corroboration in words. SQLite only: the queries are plain selects, the same on both."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from homecheck.hub import invites, runs
from homecheck.hub.corroboration import ServerObservations
from homecheck.hub.models import SigningKeyRow, Submission
from homecheck.hub.service import Hub
from homecheck.metrics import Metric
from homecheck.model import Verdict
from reports import history
from tests.homecheck.hub.conftest import AGREEING, invite
from tests.support.runs import RunSpec, report_at, submit

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

GOOD = RunSpec(
    14,
    10,
    {Metric.DOWNLOAD_MBPS: 41.0, Metric.LOSS_UP_PCT: 0.2, Metric.LOADED_LATENCY_INCREASE_MS: 20.0},
)
BAD = RunSpec(14, 20, {Metric.DOWNLOAD_MBPS: 3.0, Metric.LOSS_UP_PCT: 7.0, Metric.MOS: 2.2})
# The server measured 41 Mbit/s while the report says 3: a disagreement.
DISAGREEING = ServerObservations(download_mbps=41.0, upload_mbps=4.0, rtt_ms=26.0)


def _seeded(hub: Hub) -> str:
    invited = invite(hub)
    submit(hub, invited.secret, report_at(GOOD), AGREEING)
    submit(hub, invited.secret, report_at(BAD), DISAGREEING)
    return invited.invite_id


@SQLITE_ONLY
def test_every_run_in_order_with_verdicts_and_valid_receipts(hub: Hub) -> None:
    invite_id = _seeded(hub)
    with hub.store.sessions() as session:
        found = runs.candidate_runs(session, invite_id)
        assert runs.candidate_runs(session, "no-such-invite") is None
    assert found is not None
    assert found.invite.candidate_name == "Ann Lee" and found.invite.profile_name == "voice"
    assert found.invite.uses_left == 1 and found.invite.status is runs.InviteStatus.OPEN
    first, second = found.runs
    assert (first.label, second.label) == ("run 1", "run 2") and found.latest is second
    assert first.overall is Verdict.WARN and second.overall is Verdict.FAIL
    assert second.areas["network"] is Verdict.FAIL
    assert first.receipt.valid and second.receipt.valid, (first.receipt, second.receipt)
    assert first.receipt.key_id == hub.key.key_id
    assert first.corroborated is True and second.corroborated is False
    (words,) = (runs.disagreement_words(d) for d in second.disagreements)
    assert words == (
        "Download speed: the report says 3 Mbit/s, the server measured 41 Mbit/s "
        "(the tolerance is ±8.2 Mbit/s)"
    )
    assert "disagree" in runs.corroboration_summary(False)
    assert runs.observation_words(second.observations)[0] == "download 41 Mbit/s"
    # Loopback-sized figures in plain digits, as a recruiter reads them.
    assert runs.observation_words({"download_mbps": 17_812.4, "rtt_ms": 0.003}) == (
        "download 17,812 Mbit/s",
        "round-trip delay of the loaded connection 0.003 ms",
    )
    # The figures the charts place by hour come from the stored bytes.
    assert [r.figures()[Metric.DOWNLOAD_MBPS] for r in found.runs] == [41.0, 3.0]
    assert second.started_at is not None and second.started_at.hour == 20
    whole = second.report()
    assert whole is not None and history.figures_of(whole) == second.figures()
    # One run by its number, as the embedded report's route reads it.
    with hub.store.sessions() as session:
        one = runs.candidate_run(session, invite_id, 2)
        assert runs.candidate_run(session, invite_id, 3) is None
        assert runs.candidate_run(session, invite_id, 0) is None
        assert runs.candidate_run(session, "no-such-invite", 1) is None
    assert one is not None and one[1].submission_id == second.submission_id
    assert one[1].receipt.valid and one[0].invite_id == invite_id
    # Revoked by the employer: the page says so, whatever uses and time are left.
    with hub.store.sessions.begin() as session:
        invites.revoke(session, invite_id)
    with hub.store.sessions() as session:
        revoked = runs.candidate_runs(session, invite_id)
    assert revoked is not None and revoked.invite.status is runs.InviteStatus.REVOKED


@SQLITE_ONLY
def test_a_changed_row_or_a_removed_key_shows_as_an_invalid_receipt(hub: Hub) -> None:
    invite_id = _seeded(hub)
    with hub.store.sessions.begin() as session:
        first_id = min(s.id for s in session.query(Submission))
        row = session.get_one(Submission, first_id)
        # One figure of the stored bytes changed after signing, as an edit in the database would.
        edited = row.body.replace(b'"value":41.0', b'"value":91.0', 1)
        assert edited != row.body
        session.execute(update(Submission).where(Submission.id == first_id).values(body=edited))
    with hub.store.sessions() as session:
        found = runs.candidate_runs(session, invite_id)
    assert found is not None
    assert not found.runs[0].receipt.valid and "edited" in found.runs[0].receipt.reason
    assert found.runs[1].receipt.valid

    with hub.store.sessions.begin() as session:
        session.execute(delete(SigningKeyRow))
    with hub.store.sessions() as session:
        found = runs.candidate_runs(session, invite_id)
    assert found is not None
    assert "unknown key" in found.runs[1].receipt.reason


def test_receipt_status_of_damaged_input() -> None:
    status = runs.receipt_status(b"{}", {}, {}, invite="i", session="s")
    assert not status.valid and "damaged" in status.reason
    status = runs.receipt_status(b"{}", None, {}, invite="i", session="s")
    assert not status.valid and "damaged" in status.reason
    assert runs.disagreement_words("something else") == "something else"
    assert runs.observation_words({"download_mbps": "x"}) == ()
