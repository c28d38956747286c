"""The recruiter's flow in a real headless Chromium against a real `homecheck serve --db`, on
SQLite and on PostgreSQL (the list's queries, its sorting and text search differ between them):
sign in, an invite, a real `homecheck run --invite` on 127.0.0.1 submits, the candidate appears
with the verdicts the server judged, filter and search narrow the list, the CSV export downloads,
delete removes the candidate from the pages and the database. Screenshots go to the test's tmp
dir.

The candidate who runs is invited from the dashboard's invite page (the link shown once, read
from its field); the two others with `homecheck admin invite`, as an employer's script would. After
the run, the candidate's page shows the run on its charts."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from homecheck.hub import store
from homecheck.hub.models import AuditEntry, Invite, Submission, TestSession
from homecheck.model import Verdict
from reports.scales import fmt
from reports.vocabulary import VERDICT_WORDS, area_title
from tests.homecheck.dashboard.conftest import RECRUITER, Dashboard, serve_dashboard
from tests.homecheck.hub.conftest import homecheck
from tests.support.browser import navigate, start_chromium
from tests.support.serve import stop_serve

pytestmark = pytest.mark.browser

RUN_FAST = ("--only", "network", "--dns-names", "localhost", "--quiet")
HOSTILE = '=HYPERLINK("http://evil.example/","click")'


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def dashboard(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    folder = tmp_path_factory.mktemp(f"flow-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'hub.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres").fresh_database()
    served = serve_dashboard(url, folder)
    try:
        yield served
    finally:
        stop_serve(served.served)


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory, downloads: Path) -> Iterator[Any]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"), downloads)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    try:
        yield driver
    finally:
        driver.quit()


def _invite(dashboard: Dashboard, name: str, email: str) -> str:
    done = homecheck(
        "admin", "invite", "--db", dashboard.db_url, "--profile", "voice", "--candidate", name,
        "--email", email, "--base-url", dashboard.url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _rows(driver: Any) -> dict[str, Any]:
    from selenium.webdriver.common.by import By

    return {
        row.find_element(By.CSS_SELECTOR, "th[scope=row] a").text: row
        for row in driver.find_elements(By.CSS_SELECTOR, "#candidates tbody tr[data-invite]")
    }


def _problems(driver: Any) -> list[str]:
    return [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]
    ]


def _wait_for_file(folder: Path, suffix: str, timeout_s: float = 15) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = [p for p in folder.glob(f"*{suffix}") if p.stat().st_size > 0]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} downloaded into {folder}: {list(folder.iterdir())}")


def test_recruiter_flow(
    dashboard: Dashboard, chromium: Any, downloads: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = chromium
    driver.delete_all_cookies()
    driver.get_log("browser")  # what an earlier test left
    base = dashboard.url
    shots = tmp_path / "screenshots"
    shots.mkdir()

    # 1. Signed out, the list sends the recruiter to sign in, and back after.
    driver.get(f"{base}/dashboard/candidates")
    assert driver.current_url.startswith(f"{base}/dashboard/sign-in?next=")
    driver.find_element(By.ID, "email").send_keys(RECRUITER[0])
    driver.find_element(By.ID, "password").send_keys(RECRUITER[1])
    driver.save_screenshot(str(shots / "1-sign-in.png"))
    navigate(driver, driver.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]").click)
    assert driver.current_url == f"{base}/dashboard/candidates"
    assert RECRUITER[0] in driver.find_element(By.CSS_SELECTOR, ".bar .who").text

    # 2. Invites: Ann's from the invite page, the others by the CLI; a real run that submits.
    driver.get(f"{base}/dashboard/invites")
    driver.find_element(By.ID, "candidate").send_keys("Ann Lee")
    driver.find_element(By.ID, "email").send_keys("ann@example.org")
    profile = Select(driver.find_element(By.ID, "profile"))
    (voice,) = [o for o in profile.options if o.text.startswith("voice ")]
    profile.select_by_visible_text(voice.text)
    navigate(
        driver,
        driver.find_element(By.CSS_SELECTOR, "form[action='/dashboard/invites'] button").click,
    )
    link = driver.find_element(By.ID, "link-1").get_attribute("value")
    assert link.startswith(f"{base}/i/"), link
    driver.save_screenshot(str(shots / "2-invited.png"))
    _invite(dashboard, "Bo Chen", "bo@example.org")
    _invite(dashboard, HOSTILE, "eve@example.org")
    report_path = tmp_path / "report.json"
    done = homecheck(
        "run", "--invite", link, "--yes", *RUN_FAST, "--json", str(report_path),
        env=dashboard.env(),
    )  # fmt: skip
    assert "Sent to 127.0.0.1; receipt " in done.stderr, done.stderr
    report = json.loads(report_path.read_text(encoding="utf-8"))

    # 3. The candidate appears with the verdicts the server judged (and the report says).
    opened = store.open_store(dashboard.db_url)
    try:
        with opened.sessions() as session:
            stored = session.scalars(select(Submission)).one()
            invite_id = stored.invite_id
    finally:
        opened.close()
    assert stored.overall == report["overall"]["verdict"]
    driver.get(f"{base}/dashboard/candidates")
    rows = _rows(driver)
    assert set(rows) == {"Ann Lee", "Bo Chen", HOSTILE}
    ann = rows["Ann Lee"]
    assert ann.get_attribute("data-invite") == invite_id
    verdict = ann.find_element(By.CSS_SELECTOR, "td:nth-of-type(2) .verdict")
    assert verdict.text.endswith(VERDICT_WORDS[Verdict(stored.overall)])
    areas = [li.text for li in ann.find_elements(By.CSS_SELECTOR, ".areas li")]
    assert sorted(areas) == sorted(
        f"{area_title(a)}: {_icon_text(v)}{VERDICT_WORDS[Verdict(v)]}"
        for a, v in stored.areas.items()
    )
    assert {a["area"]: a["verdict"] for a in report["areas"]} == stored.areas
    assert ann.find_element(By.CSS_SELECTOR, "td.number").text == "1"
    assert "NO RUN YET" in rows["Bo Chen"].text
    driver.save_screenshot(str(shots / "2-list.png"))
    assert _problems(driver) == []

    # The candidate's page: the run on the charts by hour of day, each with its table.
    navigate(driver, ann.find_element(By.CSS_SELECTOR, "th[scope=row] a").click)
    assert driver.current_url == f"{base}/dashboard/candidates/{invite_id}"
    figures = driver.find_elements(By.CSS_SELECTOR, "figure.hour-chart")
    assert len(figures) == 6
    download = figures[0]
    assert len(download.find_elements(By.CSS_SELECTOR, "svg.chart .point")) == 1
    (row,) = download.find_elements(By.CSS_SELECTOR, "table.numbers tbody tr")
    measured = next(
        m["value"]
        for p in report["probes"]
        for m in p["measurements"]
        if m["metric"] == "network.download_mbps"
    )
    assert fmt(measured) in row.text.split(), (measured, row.text)  # as the tables write it
    driver.save_screenshot(str(shots / "2-candidate.png"))
    driver.get(f"{base}/dashboard/candidates")

    # 4. Filter and search narrow the list (the form, as a recruiter uses it).
    Select(driver.find_element(By.ID, "verdict")).select_by_value(stored.overall)
    navigate(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click)
    assert set(_rows(driver)) == {"Ann Lee"}
    assert "verdict=" in driver.current_url
    Select(driver.find_element(By.ID, "verdict")).select_by_value("none")
    navigate(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click)
    assert set(_rows(driver)) == {"Bo Chen", HOSTILE}
    driver.get(f"{base}/dashboard/candidates")
    search = driver.find_element(By.ID, "q")
    search.send_keys("BO CH")
    navigate(driver, search.submit)
    assert set(_rows(driver)) == {"Bo Chen"}
    driver.save_screenshot(str(shots / "3-searched.png"))

    # 5. The CSV export of the whole list downloads; its cells are right and inert.
    driver.get(f"{base}/dashboard/candidates")
    for old in downloads.iterdir():
        old.unlink()
    driver.find_element(By.PARTIAL_LINK_TEXT, "Export CSV").click()
    table = list(csv.DictReader(io.StringIO(_wait_for_file(downloads, ".csv").read_text("utf-8"))))
    by_name = {r["candidate"]: r for r in table}
    assert set(by_name) == {"Ann Lee", "Bo Chen", "'" + HOSTILE}
    assert by_name["Ann Lee"]["verdict"] == VERDICT_WORDS[Verdict(stored.overall)]
    assert by_name["Ann Lee"]["email"] == "ann@example.org"
    assert by_name["Ann Lee"]["runs"] == "1"
    assert by_name["Bo Chen"]["verdict"] == "" and by_name["Bo Chen"]["runs"] == "0"

    # 6. Delete Ann: gone from the pages and the database; the deletion is in the audit log.
    driver.get(f"{base}/dashboard/candidates/{invite_id}/delete")
    driver.save_screenshot(str(shots / "4-delete.png"))
    navigate(driver, driver.find_element(By.CSS_SELECTOR, "button.danger").click)
    assert driver.current_url == f"{base}/dashboard/candidates"
    assert "Deleted Ann Lee and 1 run." in driver.find_element(By.CSS_SELECTOR, ".flash").text
    assert set(_rows(driver)) == {"Bo Chen", HOSTILE}
    assert _problems(driver) == []  # the 404 below is expected
    driver.get(f"{base}/dashboard/candidates/{invite_id}/delete")
    assert "No such candidate" in driver.find_element(By.CSS_SELECTOR, "main").text
    opened = store.open_store(dashboard.db_url)
    try:
        with opened.sessions() as session:
            for table_, column in (
                (Invite, Invite.id),
                (Submission, Submission.invite_id),
                (TestSession, TestSession.invite_id),
            ):
                left = session.scalar(
                    select(func.count()).select_from(table_).where(column == invite_id)
                )
                assert left == 0, table_
            actions = list(session.scalars(select(AuditEntry.action)))
    finally:
        opened.close()
    assert {"sign_in", "export", "delete_candidate"} <= set(actions)
    assert sorted(p.name for p in shots.iterdir()) == [
        "1-sign-in.png", "2-candidate.png", "2-invited.png", "2-list.png", "3-searched.png",
        "4-delete.png",
    ]  # fmt: skip


def _icon_text(verdict: str) -> str:
    """What Selenium reads of the icon span (aria-hidden is still visible text)."""
    from reports.vocabulary import VERDICT_ICONS

    return VERDICT_ICONS[Verdict(verdict)]
