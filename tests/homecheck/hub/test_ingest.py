"""Ingest against real databases: a good submission gets a receipt `homecheck verify` accepts;
every refusal leaves nothing stored; retries are stored once; the client address only when the
employer enabled it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from homecheck.hub import ingest, invites, keys, receipts
from homecheck.hub.corroboration import ServerObservations
from homecheck.hub.ingest import MAX_SUBMISSION_BYTES, Refusal, Refused
from homecheck.hub.models import Invite, Submission, now
from homecheck.hub.service import Hub
from homecheck.hub.store import SettingName, set_setting
from tests.homecheck.hub.conftest import AGREEING, count, homecheck, invite, report_body

CLIENT = "203.0.113.7"  # TEST-NET-3 (RFC 5737)


def _submit(
    hub: Hub, secret: bytes, session_id: str, body: bytes, **kw: object
) -> receipts.Receipt:
    return ingest.ingest(
        hub.store, hub.key, invite_secret=secret, session_id=session_id, body=body,
        observations=kw.get("observations", AGREEING),  # type: ignore[arg-type]
        client_address=CLIENT,
    )  # fmt: skip


def _saved_report(body: bytes, receipt: receipts.Receipt, path: Path) -> Path:
    """The report as the client saves it: pretty-printed, with the receipt inside."""
    data = json.loads(body)
    data[receipts.RECEIPT_KEY] = receipt.to_json()
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def test_a_good_submission_is_stored_and_its_receipt_verifies(hub: Hub, tmp_path: Path) -> None:
    invited = invite(hub)
    session_id = ingest.open_session(hub.store, invited.secret)
    body = report_body()

    receipt = _submit(hub, invited.secret, session_id, body)

    with hub.store.sessions() as session:
        (stored,) = session.scalars(select(Submission))
        left = session.get_one(Invite, invited.invite_id).uses_left
    assert stored.body == body
    assert stored.report_sha256 == receipt.payload["report_sha256"]
    assert stored.session_id == session_id and stored.invite_id == invited.invite_id
    # The server's own judgement on the pinned profile: the canned report's verdicts.
    assert stored.overall == json.loads(body)["overall"]["verdict"]
    assert stored.areas == {a["area"]: a["verdict"] for a in json.loads(body)["areas"]}
    assert stored.corroborated is True and stored.disagreements == []
    assert stored.client_ip is None  # not enabled
    assert left == 2
    assert receipt.payload["invite"] == invited.invite_id
    assert receipt.payload["observations"] == AGREEING.to_json()

    saved = _saved_report(body, receipt, tmp_path / "report.json")
    done = homecheck("verify", str(saved), "--key", str(tmp_path / "data" / keys.PUBLIC_FILE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("valid:")
    assert invited.invite_id in done.stdout


def test_a_retry_with_the_same_bytes_is_stored_once(hub: Hub) -> None:
    invited = invite(hub)
    session_id = ingest.open_session(hub.store, invited.secret)
    body = report_body()
    first = _submit(hub, invited.secret, session_id, body)
    again = _submit(hub, invited.secret, session_id, body)
    assert again == first
    assert count(hub, Submission) == 1
    with hub.store.sessions() as session:
        assert session.get_one(Invite, invited.invite_id).uses_left == 2  # one use, not two


def test_several_runs_per_invite_are_kept(hub: Hub) -> None:
    invited = invite(hub, uses=3)
    for run in range(3):
        _submit(
            hub, invited.secret, ingest.open_session(hub.store, invited.secret), report_body(run)
        )
    assert count(hub, Submission) == 3


def _one_byte_edited(body: bytes) -> bytes:
    # 42.5 Mbit/s becomes 92.5: still canonical, schema-valid JSON.
    index = body.index(b'"value":42.5')
    edited = bytearray(body)
    edited[index + len('"value":')] = ord("9")
    return bytes(edited)


# Each case and the reason it must be refused with.
REFUSALS = {
    "edited": Refused.EDITED,
    "replayed": Refused.REPLAYED,
    "carries_receipt": Refused.REPLAYED,
    "expired": Refused.EXPIRED,
    "revoked": Refused.REVOKED,
    "used_up": Refused.USED_UP,
    "other_invite": Refused.OTHER_INVITE,
    "unknown_invite": Refused.UNKNOWN_INVITE,
    "unknown_session": Refused.UNKNOWN_SESSION,
    "schema_invalid": Refused.SCHEMA_INVALID,
    "not_json": Refused.NOT_JSON,
    "not_canonical": Refused.NOT_CANONICAL,
    "too_large": Refused.TOO_LARGE,
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_refused_submission_stores_nothing(hub: Hub, case: str) -> None:
    invited = invite(hub, uses=2)
    session_id = ingest.open_session(hub.store, invited.secret)
    body, secret = report_body(), invited.secret
    match case:
        case "edited":  # the same test session, the report edited by one byte after a first submit
            _submit(hub, secret, session_id, body)
            body = _one_byte_edited(body)
        case "replayed":  # the same report again, for another test session
            _submit(hub, secret, session_id, body)
            session_id = ingest.open_session(hub.store, secret)
        case "expired":
            with hub.store.sessions.begin() as s:
                s.execute(update(Invite).values(expires_at=now() - timedelta(seconds=1)))
        case "revoked":  # a session opened before the recruiter revoked the invite
            with hub.store.sessions.begin() as s:
                invites.revoke(s, invited.invite_id)
        case "used_up":
            other_session = ingest.open_session(hub.store, secret)
            _submit(hub, secret, other_session, report_body(1))
            _submit(hub, secret, ingest.open_session(hub.store, secret), report_body(2))
        case "other_invite":
            session_id = ingest.open_session(hub.store, invite(hub, candidate="Bo").secret)
        case "unknown_invite":
            secret = bytes(32)
        case "schema_invalid":
            data = json.loads(body)
            data["overall"]["verdict"] = "splendid"
            body = receipts.canonical_json(data)
        case "not_json":
            body = body[:-1]
        case "too_large":
            body = b" " * (20 * 1024 * 1024)
        case "not_canonical":
            body = json.dumps(json.loads(body), indent=2).encode()
        case "unknown_session":
            session_id = "0" * 32
        case "carries_receipt":
            data = json.loads(body)
            data["receipt"] = {"payload": {}, "signature": ""}
            body = receipts.canonical_json(data)
    before = count(hub, Submission)
    with hub.store.sessions() as s:
        uses_before = s.get_one(Invite, invited.invite_id).uses_left

    with pytest.raises(Refusal) as refused:
        _submit(hub, secret, session_id, body)

    assert refused.value.reason is REFUSALS[case], str(refused.value)
    assert 400 <= refused.value.status < 500
    assert count(hub, Submission) == before
    with hub.store.sessions() as s:
        assert s.get_one(Invite, invited.invite_id).uses_left == uses_before


def test_the_size_limit_is_checked_before_parsing() -> None:
    with pytest.raises(Refusal) as refused:
        ingest.parse_submission(b"{" * (MAX_SUBMISSION_BYTES + 1))
    assert refused.value.status == 413


def test_an_expired_invite_opens_no_session(hub: Hub) -> None:
    invited = invite(hub, days=-1)
    with pytest.raises(Refusal) as refused:
        ingest.open_session(hub.store, invited.secret)
    assert refused.value.reason is Refused.EXPIRED


@pytest.mark.parametrize("enabled", [False, True])
def test_the_client_address_is_stored_only_when_enabled(hub: Hub, enabled: bool) -> None:
    if enabled:
        with hub.store.sessions.begin() as session:
            set_setting(session, SettingName.STORE_CLIENT_IP, "on")
    invited = invite(hub)
    receipt = _submit(
        hub, invited.secret, ingest.open_session(hub.store, invited.secret), report_body()
    )
    with hub.store.sessions() as session:
        (stored,) = session.scalars(select(Submission))
    assert stored.client_ip == (CLIENT if enabled else None)
    assert CLIENT not in json.dumps(receipt.to_json())  # the receipt goes into the report


def test_figures_the_server_did_not_see_are_flagged(hub: Hub) -> None:
    invited = invite(hub)
    # The report claims 92.5 Mbit/s; the server counted 41.
    body = report_body(download_mbps=92.5)
    _submit(hub, invited.secret, ingest.open_session(hub.store, invited.secret), body)
    with hub.store.sessions() as session:
        (stored,) = session.scalars(select(Submission))
    assert stored.corroborated is False
    assert len(stored.disagreements) == 1 and "network.download_mbps" in stored.disagreements[0]


def test_without_server_observations_nothing_is_corroborated(hub: Hub) -> None:
    invited = invite(hub)
    _submit(
        hub, invited.secret, ingest.open_session(hub.store, invited.secret), report_body(),
        observations=replace(ServerObservations()),
    )  # fmt: skip
    with hub.store.sessions() as session:
        (stored,) = session.scalars(select(Submission))
    assert stored.corroborated is None


def test_every_refusal_has_its_own_reason_and_a_4xx_status() -> None:
    assert set(REFUSALS.values()) == set(Refused)  # every reason is tested above
    assert len({r.value for r in Refused}) == len(Refused) == 12  # no member is an alias
    assert all(400 <= r.status < 500 for r in Refused)


@pytest.mark.parametrize(
    "point", [[1], [1, 2, 3], ["1", 2], [True, 2], [1, False], [1, "2"], {"x": 1}, [1, None]]
)
def test_series_points_are_checked_as_the_schema_says(point: object) -> None:
    """The points of a series are checked by a loop, not jsonschema (speed): it must say what
    the schema says, point by point."""
    from jsonschema import Draft202012Validator

    from reports import json_report

    data = json.loads(report_body())
    probe = next(p for p in data["probes"] if p["series"])
    probe["series"][0]["points"][0] = point
    body = receipts.canonical_json(data)
    schema_says_valid = Draft202012Validator(json_report.schema()).is_valid(data)
    try:
        ingest.parse_submission(body)
    except ingest.Refusal as refusal:
        assert refusal.reason is Refused.SCHEMA_INVALID
        assert not schema_says_valid
    else:
        assert schema_says_valid
