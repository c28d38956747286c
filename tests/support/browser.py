"""Headless Chromium for tests (Debian chromium + chromium-driver), driven by Selenium with the
system chromedriver, so nothing is downloaded (a driver path given to Service skips Selenium
Manager). As tests/reports/test_html_browser.py starts it; a missing browser is a skip, or a
failure with CI=true (tests/support/environment.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.support.environment import need

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root in CI; Chromium refuses its sandbox as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1280,900",
)


def start_chromium(
    profile_dir: Path, download_dir: Path | None = None, *, performance_log: bool = False
) -> Any:
    """Headless Chromium with its own profile folder; `performance_log` keeps the DevTools
    network events (which requests a page made) as well as the console's."""
    need(
        Path(CHROMIUM).is_file()
        and Path(CHROMEDRIVER).is_file()
        and bool(shutil.which("chromium")),
        "Chromium is not installed (Debian packages chromium and chromium-driver; `make test` "
        "installs them as root)",
    )
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    logs = {"browser": "ALL", **({"performance": "ALL"} if performance_log else {})}
    options.set_capability("goog:loggingPrefs", logs)
    if download_dir is not None:
        options.add_experimental_option(
            "prefs",
            {
                "download.default_directory": str(download_dir),
                "download.prompt_for_download": False,
            },
        )
    try:
        return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as exc:
        need(False, f"headless Chromium did not start: {exc.msg}")
        raise


def navigate(driver: Any, action: Any, timeout_s: float = 15) -> None:
    """Click or submit (`action`, a callable), and wait until the next page has replaced this
    one: Selenium's click does not wait for the navigation it starts."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    action()
    WebDriverWait(driver, timeout_s).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, timeout_s).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def sign_in(driver: Any, base_url: str, email: str, password: str) -> None:
    """Sign in to the dashboard at `base_url` with the sign-in form, as a person does."""
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{base_url}/dashboard/sign-in")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    navigate(driver, driver.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]").click)
    if "/dashboard/sign-in" in driver.current_url:
        raise AssertionError(
            f"sign-in as {email} failed: {driver.find_element(By.TAG_NAME, 'main').text}"
        )
