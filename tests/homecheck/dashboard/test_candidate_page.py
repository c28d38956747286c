"""A candidate's page in a real headless Chromium against a real `homecheck serve --db` (SQLite:
the page reads with plain selects, the same on PostgreSQL; the list's flow test runs both).

The store is filled through the hub's real ingest (tests/support/runs.py): a candidate whose
connection is good at 10:00 and bad at 20:00 UTC on two days, and whose name, device names and
process names hold markup, quotes and control characters. One server, one browser (signed in
through the form) and one plain HTTP client serve the whole module; the delete test runs last,
on a candidate of its own.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from homecheck.hub import invites, service, store
from homecheck.hub.models import Invite, Submission
from homecheck.hub.profile_store import store_profile
from homecheck.metrics import Metric
from reports import charts, vocabulary
from tests.homecheck.dashboard.conftest import RECRUITER, Dashboard, serve_dashboard
from tests.homecheck.hub.conftest import AGREEING
from tests.support.canned import HOSTILE_DEVICE, HOSTILE_PROCESS
from tests.support.dashboard import Client
from tests.support.runs import RunSpec, report_at, submit
from tests.support.serve import stop_serve

pytestmark = pytest.mark.browser

HOSTILE_NAME = 'Zoë <script>window.__pwned = 3</script> "O\'Brien" \x1b[31m\u202e'
GOOD = {Metric.DOWNLOAD_MBPS: 48.0, Metric.LOSS_UP_PCT: 0.1, Metric.MOS: 4.3}
BAD = {Metric.DOWNLOAD_MBPS: 3.5, Metric.LOSS_UP_PCT: 6.0, Metric.MOS: 2.1}
RUNS = (RunSpec(14, 10, GOOD), RunSpec(14, 20, BAD), RunSpec(15, 10, GOOD), RunSpec(15, 20, BAD))


@dataclass(frozen=True)
class Site:
    dashboard: Dashboard
    candidate: str  # the invite with four runs
    doomed: str  # the invite the delete test removes
    never_ran: str  # an invite without runs

    @property
    def web(self) -> str:
        return self.dashboard.url


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("candidate-page")
    db_url = f"sqlite:///{folder / 'hub.sqlite3'}"
    # Seeded through the real ingest, signed by a key of its own that the hub publishes.
    hub = service.start(db_url, key_dir=folder / "seed-key")
    try:
        with hub.store.sessions.begin() as session:
            profile = store_profile(session, "voice")
            made = [
                invites.create_invite(
                    session,
                    profile,
                    candidate=name,
                    email=email,
                    uses=5,
                    expires_in=timedelta(days=7),
                )
                for name, email in (
                    (HOSTILE_NAME, "zoe@example.com"),
                    ("Dee Leted", None),
                    ("Nora Runs", None),
                )
            ]
        for spec in RUNS:
            submit(hub, made[0].secret, report_at(spec), AGREEING)
        submit(hub, made[1].secret, report_at(RunSpec(16, 9, GOOD)), AGREEING)
    finally:
        hub.close()
    dashboard = serve_dashboard(db_url, folder)
    try:
        yield Site(dashboard, *(m.invite.id for m in made))
    finally:
        stop_serve(dashboard.served)


@pytest.fixture(scope="module")
def signed_in(site: Site, browser: Any) -> Any:
    """The module's browser, signed in as the recruiter through the sign-in form."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    browser.get(site.web + "/dashboard/sign-in")
    browser.find_element(By.ID, "email").send_keys(RECRUITER[0])
    browser.find_element(By.ID, "password").send_keys(RECRUITER[1])
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: "/dashboard/sign-in" not in b.current_url)
    return browser


@pytest.fixture(scope="module")
def client(site: Site) -> Client:
    """Plain HTTP, signed in as the recruiter: to read status codes and headers."""
    return site.dashboard.signed_in()


def _page(site: Site, browser: Any, invite_id: str) -> None:
    browser.get(f"{site.web}/dashboard/candidates/{invite_id}")
    assert browser.execute_script("return document.readyState") == "complete"


def _screenshot(browser: Any, path: Path) -> None:
    """The whole page, beyond the window's height (DevTools' captureBeyondViewport)."""
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def _x_of_hour(hour: float) -> float:
    return charts.LEFT + hour / 24 * (charts.WIDTH - charts.LEFT - charts.RIGHT)


def test_every_run_shows_by_hour_and_the_report_frame_shows_the_verdict(
    site: Site, signed_in: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    _page(site, signed_in, site.candidate)
    download = signed_in.find_element(By.ID, "runs-chart-0")
    assert download.find_element(By.TAG_NAME, "title").get_attribute("textContent") == (
        "Download speed by hour of day"
    )
    points = [
        (float(c.get_attribute("cx")), float(c.get_attribute("cy")))
        for c in download.find_elements(By.CSS_SELECTOR, "circle.point")
    ]
    assert len(points) == len(RUNS)
    mornings = [p for p in points if abs(p[0] - _x_of_hour(10.0)) < 1]
    evenings = [p for p in points if abs(p[0] - _x_of_hour(20.0)) < 1]
    assert len(mornings) == 2 and len(evenings) == 2
    assert max(y for _, y in mornings) < min(y for _, y in evenings)  # evenings drawn lower
    # Every figure the runs measured has its chart; each has the numbers as a table.
    figures = signed_in.find_elements(By.CSS_SELECTOR, "figure.hour-chart")
    assert len(figures) == 6
    for figure in figures:
        svgs = figure.find_elements(By.CSS_SELECTOR, "svg.chart")
        assert len(svgs) == 1, figure.text
        marks = figure.find_elements(By.CSS_SELECTOR, ".point")
        rows = figure.find_elements(By.CSS_SELECTOR, "table.numbers tbody tr")
        assert len(rows) == len(RUNS) and len(marks) >= len(RUNS)
    first_table = figures[0].find_element(By.CSS_SELECTOR, "table.numbers")
    assert "2025-03-14 20:00" in first_table.text and "3.5" in first_table.text
    runs_table = signed_in.find_element(By.CSS_SELECTOR, "table.runs")
    assert len(runs_table.find_elements(By.CSS_SELECTOR, "tbody tr")) == len(RUNS)
    assert runs_table.text.count("valid") == len(RUNS) and "not valid" not in runs_table.text
    latest_verdict = report_at(RUNS[-1]).overall  # the aggregator's, as the server judged it
    latest = signed_in.find_element(By.CSS_SELECTOR, ".latest-verdict .verdict").text
    assert vocabulary.VERDICT_WORDS[latest_verdict] in latest
    assert "Valid" in signed_in.find_element(By.CSS_SELECTOR, ".receipt").text
    assert signed_in.find_elements(By.CSS_SELECTOR, "ol.advice li")

    frame = signed_in.find_element(By.CSS_SELECTOR, "iframe.report-frame")
    assert frame.get_attribute("sandbox") == ""
    signed_in.switch_to.frame(frame)
    try:
        headline = signed_in.find_element(By.ID, "overall-title").text
    finally:
        signed_in.switch_to.default_content()
    assert headline == vocabulary.headline(latest_verdict)
    _screenshot(signed_in, tmp_path / "candidate_page.png")
    # The frame as a recruiter sees it (the whole-page capture leaves an isolated frame blank).
    signed_in.execute_script("arguments[0].scrollIntoView()", frame)
    signed_in.save_screenshot(str(tmp_path / "candidate_report_frame.png"))
    assert (tmp_path / "candidate_page.png").stat().st_size > 10_000


def test_hostile_strings_are_text_and_the_report_cannot_run_script(
    site: Site, signed_in: Any, client: Client
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    _page(site, signed_in, site.candidate)
    name = signed_in.find_element(By.ID, "candidate-name").text
    assert "<script>window.__pwned = 3</script>" in name and '"O\'Brien"' in name
    assert "\\x1b" in name and "\\u202e" in name  # steering characters shown, not obeyed
    assert signed_in.execute_script("return window.__pwned === undefined")
    assert signed_in.find_elements(By.CSS_SELECTOR, "main script") == []
    with pytest.raises(NoAlertPresentException):
        signed_in.switch_to.alert.text  # noqa: B018
    frame = signed_in.find_element(By.CSS_SELECTOR, "iframe.report-frame")
    signed_in.switch_to.frame(frame)
    try:
        text = signed_in.find_element(By.TAG_NAME, "body").text
        injected = signed_in.find_elements(By.CSS_SELECTOR, "script, img[src*='127.0.0.1:9']")
        frame_origin = signed_in.execute_script("return window.origin")
        frame_pwned = signed_in.execute_script("return window.__pwned === undefined")
    finally:
        signed_in.switch_to.default_content()
    assert injected == [] and frame_pwned
    assert frame_origin == "null"  # sandboxed: an opaque origin, no access to the dashboard
    assert HOSTILE_DEVICE in text and HOSTILE_PROCESS in text
    # The frame runs nothing: sandboxed without allow-scripts, and its own response says so too.
    answer = client.get(frame.get_attribute("src").removeprefix(site.web))
    policy = answer.headers["content-security-policy"]
    assert answer.status == 200 and "sandbox" in policy and "default-src 'none'" in policy
    assert "script-src" not in policy and answer.headers["x-frame-options"] == "SAMEORIGIN"


def test_unknown_candidates_and_runs_are_404_and_no_session_is_sign_in(
    site: Site, client: Client
) -> None:
    path = f"/dashboard/candidates/{site.candidate}"
    assert client.get("/dashboard/candidates/inv-nosuch").status == 404
    # A NUL in a path is refused before any route (the web plane's guard): 400, never a 500.
    assert client.get("/dashboard/candidates/inv%00x").status == 400
    assert client.get("/dashboard/candidates/" + "x" * 300).status == 404
    assert client.get(f"{path}/runs/99/report").status == 404
    assert client.get(f"{path}/runs/-1/report").status == 404
    for target in (path, f"{path}/runs/1/report"):
        answer = site.dashboard.client().get(target)
        assert answer.status == 303 and answer.location.startswith("/dashboard/sign-in?next=")


def test_the_list_links_to_a_candidate_without_runs(site: Site, signed_in: Any) -> None:
    from selenium.webdriver.common.by import By

    signed_in.get(f"{site.web}/dashboard/candidates?q=Nora")
    signed_in.find_element(By.LINK_TEXT, "Nora Runs").click()
    assert signed_in.current_url.endswith(f"/dashboard/candidates/{site.never_ran}")
    latest = signed_in.find_element(By.ID, "latest-heading").find_element(By.XPATH, "..")
    assert "No run yet" in latest.text
    assert signed_in.find_elements(By.CSS_SELECTOR, "iframe") == []
    assert signed_in.find_elements(By.CSS_SELECTOR, "svg.chart") == []
    assert len(signed_in.find_elements(By.CSS_SELECTOR, "p.no-data")) == 6


def test_a_stored_row_changed_after_signing_shows_an_invalid_receipt(
    site: Site, signed_in: Any
) -> None:
    from selenium.webdriver.common.by import By

    opened = store.open_store(site.dashboard.db_url)
    try:
        with opened.sessions.begin() as session:
            row = session.scalars(
                select(Submission).where(Submission.invite_id == site.doomed)
            ).one()
            edited = row.body.replace(b'"value":48.0', b'"value":98.0', 1)
            assert edited != row.body
            row.body = edited
    finally:
        opened.close()
    _page(site, signed_in, site.doomed)
    receipt = signed_in.find_element(By.CSS_SELECTOR, ".receipt").text
    assert receipt.startswith("✗ Not valid") and "edited after the server signed it" in receipt
    runs_table = signed_in.find_element(By.CSS_SELECTOR, "table.runs").text
    assert "not valid: the report was edited" in runs_table


def test_delete_asks_first_then_removes_every_run(
    site: Site, signed_in: Any, client: Client
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    _page(site, signed_in, site.doomed)
    button = signed_in.find_element(By.CSS_SELECTOR, ".danger-zone button[type=submit]")
    assert not button.is_displayed()  # behind the confirmation, closed
    signed_in.find_element(By.CSS_SELECTOR, ".danger-zone summary").click()
    assert button.is_displayed()
    button.click()
    WebDriverWait(signed_in, 10).until(lambda b: site.doomed not in b.current_url)
    assert re.search(r"/dashboard/candidates/?(\?.*)?$", signed_in.current_url), (
        signed_in.current_url
    )
    assert client.get(f"/dashboard/candidates/{site.doomed}").status == 404
    opened = store.open_store(site.dashboard.db_url)
    try:
        with opened.sessions() as session:
            assert session.get(Invite, site.doomed) is None
            left = session.scalar(
                select(func.count())
                .select_from(Submission)
                .where(Submission.invite_id == site.doomed)
            )
            assert left == 0
            assert session.get(Invite, site.candidate) is not None  # the others stay
    finally:
        opened.close()
