"""Invites: revoke, extend, and many at once from a CSV file (every bad line named, none created
while one is bad). Revoked invites are refused like expired ones, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from homecheck.errors import UsageError
from homecheck.hub import ingest, invites
from homecheck.hub.models import Invite, Submission, now
from homecheck.hub.profile_store import store_profile
from homecheck.hub.service import Hub
from tests.homecheck.hub.conftest import AGREEING, count, invite, report_body


def _submit(hub: Hub, secret: bytes, session_id: str, run: int) -> None:
    ingest.ingest(
        hub.store, hub.key, invite_secret=secret, session_id=session_id, body=report_body(run),
        observations=AGREEING, client_address=None,
    )  # fmt: skip


def test_a_revoked_invite_is_refused_everywhere_and_keeps_its_runs(hub: Hub) -> None:
    invited = invite(hub, uses=3)
    _submit(hub, invited.secret, ingest.open_session(hub.store, invited.secret), 1)
    opened_before = ingest.open_session(hub.store, invited.secret)
    with hub.store.sessions.begin() as session:
        revoked = invites.revoke(session, invited.invite_id)
        assert invites.state(revoked) is invites.InviteState.REVOKED
        first = revoked.revoked_at
        assert invites.revoke(session, invited.invite_id).revoked_at == first
    for call in (
        lambda: ingest.invite_view(hub.store, invited.secret),
        lambda: ingest.open_session(hub.store, invited.secret),
        lambda: _submit(hub, invited.secret, opened_before, 2),
    ):
        with pytest.raises(ingest.Refusal) as refused:
            call()
        assert refused.value.reason is ingest.Refused.REVOKED
        assert refused.value.status == 410 and "withdrawn" in str(refused.value)
    assert count(hub, Submission) == 1  # the run before the revocation is kept
    with hub.store.sessions.begin() as session, pytest.raises(UsageError, match="revoked"):
        invites.extend(session, invited.invite_id, timedelta(days=1))


def test_extending_an_expired_invite_counts_from_now(hub: Hub) -> None:
    invited = invite(hub, days=1)
    later = now() + timedelta(days=3)
    with hub.store.sessions.begin() as session:
        row = session.get_one(Invite, invited.invite_id)
        assert invites.state(row, later) is invites.InviteState.EXPIRED
        extended = invites.extend(session, invited.invite_id, timedelta(days=7), at=later)
        assert extended.expires_at == later + timedelta(days=7)
        assert invites.state(extended, later) is invites.InviteState.ACTIVE
        # Not yet expired: the week is added to the expiry it has.
        before = extended.expires_at
        assert invites.extend(session, invited.invite_id, timedelta(hours=2)).expires_at == (
            before + timedelta(hours=2)
        )
        with pytest.raises(UsageError, match="no invite"):
            invites.revoke(session, "inv-nothere")


GOOD_CSV = (
    '\ufeffName,E-mail\r\nAnn Lee,ann@example.com\r\n\r\n"Lee, Bo",bo@example.org\r\nCy Doe,\r\n'
).encode()


def test_a_csv_makes_one_invite_per_line(hub: Hub) -> None:
    found = invites.parse_candidates_csv(GOOD_CSV)
    assert [(c.line, c.name, c.email) for c in found] == [
        (2, "Ann Lee", "ann@example.com"),
        (4, "Lee, Bo", "bo@example.org"),
        (5, "Cy Doe", None),
    ]
    with hub.store.sessions.begin() as session:
        made = invites.create_invites(
            session, store_profile(session, "voice"), found, uses=2, expires_in=timedelta(days=7)
        )
    assert len({m.secret for m in made}) == 3
    with hub.store.sessions() as session:
        names = set(session.scalars(select(Invite.candidate_name)))
    assert names == {"Ann Lee", "Lee, Bo", "Cy Doe"}


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            "Ann Lee,ann@example.com\n,nobody@example.com\nBo,not-an-address\n"
            "Cy,cy@example.com,extra\nDi,ANN@example.com\n",
            [
                "line 2: no name",
                "line 3: not an e-mail address: 'not-an-address'",
                "line 4: 3 columns; give a name and an e-mail",
                "line 5: ANN@example.com is already on line 1",
            ],
        ),
        ("name,email\n\n", ["no candidates in the file (one per line: name, e-mail)"]),
        ("Ann\x00Lee,a@example.com\n", ["the file is not a text CSV file"]),
        ("x" * 201 + ",a@example.com\n", ["line 1: a name has at most 200 characters"]),
        ("Ann,ann @example.com\n", ["line 1: an e-mail address has no spaces: 'ann @example.com'"]),
    ],
)
def test_a_bad_csv_names_every_bad_line(text: str, problems: list[str]) -> None:
    with pytest.raises(invites.CsvError) as error:
        invites.parse_candidates_csv(text.encode())
    assert error.value.problems == problems


def test_a_bad_csv_creates_nothing(hub: Hub) -> None:
    before = count(hub, Invite)
    with pytest.raises(invites.CsvError):
        invites.parse_candidates_csv(b"Ann,ann@example.com\nBo,bo@\n")
    with pytest.raises(invites.CsvError, match="UTF-8"):
        invites.parse_candidates_csv("Zoë,z@example.com\n".encode("latin-1"))
    with pytest.raises(invites.CsvError, match="more than 1000"):
        invites.parse_candidates_csv(b"".join(b"c%d,\n" % i for i in range(1001)))
    assert count(hub, Invite) == before
