"""The dashboard's pages in a real headless Chromium (one SQLite hub for the module): without a
session every page and export lands on sign-in; candidate-supplied text holding markup, quotes,
control and bidi characters is shown as text (nothing injected, nothing run); the list is a real
table with labelled inputs and is usable from the keyboard alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reports.vocabulary import clean
from tests.homecheck.dashboard.conftest import ADMIN, RECRUITER, Dashboard, serve_dashboard
from tests.support.browser import navigate, sign_in, start_chromium
from tests.support.hub_seed import Seed, SeedRun, seed
from tests.support.serve import stop_serve

pytestmark = pytest.mark.browser

HOSTILE_NAMES = (
    "<script>window.__pwned = 1</script>Eve",
    '"><img src=x onerror="window.__pwned = 2">Mallory',
    'O\'Brien "Quotes" & <b>bold</b>',
    "Bell\x07 Esc\x1b[31mRed Nul\x00 \u202eSSAP",
)
HOSTILE_EMAIL = '"><svg onload="window.__pwned = 3">@example.org'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Dashboard, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("pages")
    dashboard = serve_dashboard(f"sqlite:///{folder / 'hub.sqlite3'}", folder)
    areas = {"system": "pass", "network": "fail", "audio": "warn"}
    seeds = [
        Seed(name, email=HOSTILE_EMAIL, runs=(SeedRun("fail", areas),)) for name in HOSTILE_NAMES
    ]
    seeds += [Seed(f"Filler {i:02d}", runs=(SeedRun("pass", areas),)) for i in range(60)]
    try:
        yield dashboard, seed(dashboard.db_url, seeds).ids
    finally:
        stop_serve(dashboard.served)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    started = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield started
    finally:
        started.quit()


def test_every_page_and_export_without_a_session_lands_on_sign_in(
    site: tuple[Dashboard, dict[str, str]], driver: Any
) -> None:
    dashboard, ids = site
    invite = next(iter(ids.values()))
    driver.delete_all_cookies()
    for path in (
        "/dashboard",
        "/dashboard/candidates",
        "/dashboard/candidates?verdict=fail&q=eve",
        "/dashboard/candidates.csv",
        "/dashboard/candidates.json",
        f"/dashboard/candidates/{invite}/delete",
        "/dashboard/audit",
    ):
        driver.get(dashboard.url + path)
        assert driver.current_url.startswith(f"{dashboard.url}/dashboard/sign-in"), path
        assert driver.title.startswith("Sign in"), path


def test_candidate_text_is_shown_as_text(
    site: tuple[Dashboard, dict[str, str]], driver: Any, tmp_path: Path
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    dashboard, ids = site
    sign_in(driver, dashboard.url, *RECRUITER)
    driver.get(f"{dashboard.url}/dashboard/candidates?verdict=fail")
    driver.save_screenshot(str(tmp_path / "hostile.png"))
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018
    assert driver.execute_script("return window.__pwned === undefined")
    table = driver.find_element(By.ID, "candidates")
    # Nothing the candidates wrote became an element.
    for tag in ("script", "img", "svg", "b"):
        assert table.find_elements(By.TAG_NAME, tag) == [], tag
    assert driver.find_elements(By.TAG_NAME, "script") == []
    shown = {
        a.text: a.get_attribute("href")
        for a in table.find_elements(By.CSS_SELECTOR, "th[scope=row] a")
    }
    for name in HOSTILE_NAMES:
        # Shown as written, controls and bidi overrides as visible escapes (reports' cleaner).
        assert " ".join(clean(name).split()) in shown, name
        assert shown[" ".join(clean(name).split())].endswith(ids[name])
    emails = {e.text for e in table.find_elements(By.CSS_SELECTOR, ".email")}
    assert emails == {HOSTILE_EMAIL}


def test_the_list_is_a_labelled_table_usable_from_the_keyboard(
    site: tuple[Dashboard, dict[str, str]], driver: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    dashboard, _ = site
    sign_in(driver, dashboard.url, *RECRUITER)
    driver.get(f"{dashboard.url}/dashboard/candidates")
    # Every input and select has a label naming it.
    for field in driver.find_elements(By.CSS_SELECTOR, "form.filters input, form.filters select"):
        field_id = field.get_attribute("id")
        labels = driver.find_elements(By.CSS_SELECTOR, f"label[for='{field_id}']")
        assert len(labels) == 1 and labels[0].text.strip(), field_id
    headers = driver.find_elements(By.CSS_SELECTOR, "#candidates thead th")
    assert headers and all(h.get_attribute("scope") == "col" for h in headers)
    assert driver.find_elements(By.CSS_SELECTOR, "#candidates tbody th[scope=row]")
    # From the keyboard: tab to the "Next page" link and press Enter.
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    for _ in range(200):
        focused = driver.switch_to.active_element
        if focused.get_attribute("rel") == "next":
            break
        focused.send_keys(Keys.TAB)
    else:
        raise AssertionError("the next page link is not reachable with Tab")
    navigate(driver, lambda: focused.send_keys(Keys.ENTER))
    assert driver.current_url.endswith("/dashboard/candidates?page=2")
    assert "page 2 of 2" in driver.find_element(By.ID, "count").text


def test_a_recruiter_cannot_open_admin_pages_an_admin_can(
    site: tuple[Dashboard, dict[str, str]], driver: Any
) -> None:
    from selenium.webdriver.common.by import By

    dashboard, _ = site
    sign_in(driver, dashboard.url, *RECRUITER)
    nav = [a.text for a in driver.find_elements(By.CSS_SELECTOR, ".bar nav a")]
    assert "Audit log" not in nav
    driver.get(f"{dashboard.url}/dashboard/audit")
    assert "This page is for administrators." in driver.find_element(By.TAG_NAME, "main").text
    sign_in(driver, dashboard.url, *ADMIN)
    driver.get(f"{dashboard.url}/dashboard/audit")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Audit log"
    rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert any("Signed in" in r.text and RECRUITER[0] in r.text for r in rows)
