"""Helpers of the invites, profiles, users and settings pages' tests: signing a browser in, and
multipart bodies (file uploads) for the plain HTTP client."""

from __future__ import annotations

import secrets
from typing import Any

from selenium.webdriver.common.by import By

from tests.homecheck.dashboard.conftest import Dashboard


def browser_sign_in(browser: Any, dashboard: Dashboard, who: tuple[str, str]) -> None:
    """Sign `browser` in as `who` (signing out first whoever was signed in)."""
    browser.delete_all_cookies()
    browser.get(f"{dashboard.url}/dashboard/sign-in")
    browser.find_element(By.NAME, "email").send_keys(who[0])
    browser.find_element(By.NAME, "password").send_keys(who[1])
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert who[0] in browser.find_element(By.CSS_SELECTOR, ".who").text


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser sends it, and its Content-Type."""
    boundary = f"----homecheck{secrets.token_hex(8)}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, (filename, data) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def submit(browser: Any, button: Any, timeout_s: float = 10.0) -> None:
    """Click a form's button and wait until the browser shows the next page (not the old one)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")

    def left(driver: Any) -> bool:
        try:
            page.is_enabled()
        except WebDriverException:  # stale, or (Chromium, mid-navigation) "not in the document"
            return True
        return False

    button.click()
    wait = WebDriverWait(browser, timeout_s)
    wait.until(left)
    wait.until(lambda driver: driver.execute_script("return document.readyState") == "complete")
