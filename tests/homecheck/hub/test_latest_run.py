"""The invites' latest-run columns (homecheck/hub/latest_run.py), which the dashboard's list
reads instead of the submissions: kept current by ingest and retention, and filled by migration
0002 for runs stored before it, on both databases."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from alembic.config import Config
from sqlalchemy import select, update

from homecheck.hub import candidates, ingest
from homecheck.hub.models import Invite, Submission, now
from homecheck.hub.service import Hub
from homecheck.hub.store import MIGRATIONS
from tests.homecheck.hub.conftest import AGREEING, invite, report_body


def _submit(hub: Hub, secret: bytes, run: int, **kw: float) -> None:
    session_id = ingest.open_session(hub.store, secret)
    ingest.ingest(
        hub.store, hub.key, invite_secret=secret, session_id=session_id,
        body=report_body(run, **kw), observations=AGREEING, client_address=None,
    )  # fmt: skip


def _latest(hub: Hub, invite_id: str) -> tuple[object, ...]:
    with hub.store.sessions() as session:
        row = session.get_one(Invite, invite_id)
        return (row.runs_count, row.latest_submission_id, row.latest_overall,
                row.latest_areas, row.latest_corroborated, row.latest_at)  # fmt: skip


def _expected(hub: Hub, invite_id: str) -> tuple[object, ...]:
    with hub.store.sessions() as session:
        runs = list(
            session.scalars(
                select(Submission).where(Submission.invite_id == invite_id).order_by(Submission.id)
            )
        )
        if not runs:
            return (0, None, None, None, None, None)
        last = runs[-1]
        return (len(runs), last.id, last.overall, last.areas, last.corroborated, last.created_at)


def test_ingest_keeps_the_latest_run_current(hub: Hub) -> None:
    invited = invite(hub, uses=3)
    other = invite(hub, candidate="Bo Chen")
    assert _latest(hub, invited.invite_id) == (0, None, None, None, None, None)
    _submit(hub, invited.secret, 0)
    first = _latest(hub, invited.invite_id)
    assert first == _expected(hub, invited.invite_id)
    assert first[0] == 1 and first[2] in {"pass", "warn", "fail", "not_measured"}
    assert first[4] is True  # the server's figures agree with the canned report's
    # A second run with a download the server did not see: the latest now disagrees.
    _submit(hub, invited.secret, 1, download_mbps=400.0)
    second = _latest(hub, invited.invite_id)
    assert second == _expected(hub, invited.invite_id)
    assert second[0] == 2 and second[4] is False
    assert _latest(hub, other.invite_id) == (0, None, None, None, None, None)


def test_retention_recomputes_what_it_leaves(hub: Hub) -> None:
    invited = invite(hub, uses=3)
    for run in range(3):
        _submit(hub, invited.secret, run)
    with hub.store.sessions.begin() as session:
        first_two = list(
            session.scalars(
                select(Submission.id)
                .where(Submission.invite_id == invited.invite_id)
                .order_by(Submission.id)
                .limit(2)
            )
        )
        # The first two runs are a year old; the latest is today's.
        session.execute(
            update(Submission)
            .where(Submission.id.in_(first_two))
            .values(created_at=now() - timedelta(days=400))
        )
    with hub.store.sessions.begin() as session:
        assert candidates.prune(session, 365) == 2
    assert _latest(hub, invited.invite_id) == _expected(hub, invited.invite_id)
    assert _latest(hub, invited.invite_id)[0] == 1
    with hub.store.sessions.begin() as session:
        assert candidates.prune(session, 365, at=now() + timedelta(days=400)) == 1
    assert _latest(hub, invited.invite_id) == (0, None, None, None, None, None)


def test_migration_0002_fills_the_columns_from_runs_stored_before_it(hub: Hub) -> None:
    invited = invite(hub, uses=3)
    _submit(hub, invited.secret, 0)
    _submit(hub, invited.secret, 1, download_mbps=400.0)
    expected = _expected(hub, invited.invite_id)
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with hub.store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    with hub.store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    assert _latest(hub, invited.invite_id) == expected
