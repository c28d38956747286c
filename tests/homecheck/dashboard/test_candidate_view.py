"""What the candidate's page shows, from a real store filled through the real ingest, without a
browser (homecheck/dashboard/candidate.py `page_of`): runs newest first, one chart per figure
with a point per run at its hour, the latest run's advice and corroboration, and a stored row
that no longer parses shown as unreadable instead of breaking the page. SQLite only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from homecheck.dashboard import candidate
from homecheck.hub import runs, service
from homecheck.hub.models import Submission
from homecheck.hub.service import Hub
from homecheck.metrics import Metric
from tests.homecheck.hub.conftest import AGREEING, invite
from tests.support.runs import RunSpec, report_at, submit


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """One store for the module: each test makes an invite of its own."""
    folder = tmp_path_factory.mktemp("candidate-view")
    started = service.start(f"sqlite:///{folder / 'hub.sqlite3'}", key_dir=folder / "key")
    try:
        yield started
    finally:
        started.close()


MORNING = RunSpec(3, 9, {Metric.DOWNLOAD_MBPS: 40.0})
EVENING = RunSpec(3, 21, {Metric.DOWNLOAD_MBPS: 2.0})


def _page(hub: Hub, invite_id: str) -> candidate.CandidatePage:
    with hub.store.sessions() as session:
        found = runs.candidate_runs(session, invite_id)
    assert found is not None
    return candidate.page_of(found)


def test_runs_newest_first_charts_by_hour_and_the_latest_advice(hub: Hub) -> None:
    invited = invite(hub)
    for spec in (MORNING, EVENING):
        submit(hub, invited.secret, report_at(spec), AGREEING)
    page = _page(hub, invited.invite_id)
    assert [row.label for row in page.rows] == ["run 2", "run 1"]
    assert page.rows[0].started == "2025-03-03 21:00 UTC"
    assert page.latest_report_href == f"/dashboard/candidates/{invited.invite_id}/runs/2/report"
    assert page.delete_href == f"/dashboard/candidates/{invited.invite_id}/delete"
    assert len(page.panels) == 6 and all(p.svg is not None for p in page.panels)
    download = page.panels[0]
    assert download.svg is not None and download.svg.count('<circle class="point"') == 2
    assert [row[-1] for row in download.table.rows] == ["40", "2"]
    latest = report_at(EVENING)
    assert [item.labels for item in page.advice] == [item.labels for item in runs.advice(latest)]
    assert any("Download speed" in item.labels for item in page.advice)
    assert page.disagreements and page.corroboration.startswith("Not corroborated")


def test_an_unreadable_stored_report_is_shown_as_such(hub: Hub) -> None:
    invited = invite(hub)
    submit(hub, invited.secret, report_at(RunSpec(4, 9, {})), AGREEING)  # bytes of its own
    with hub.store.sessions.begin() as session:
        session.execute(
            update(Submission)
            .where(Submission.invite_id == invited.invite_id)
            .values(body=b"\xff not json")
        )
    page = _page(hub, invited.invite_id)
    (row,) = page.rows
    assert row.report_href is None and not row.receipt_valid and "edited" in row.receipt_reason
    assert page.latest_report_href is None and page.advice == ()
    assert all(panel.svg is None and panel.measured == 0 for panel in page.panels)
