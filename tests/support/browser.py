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


def start_chromium(profile_dir: Path, download_dir: Path | None = None) -> Any:
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
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
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
