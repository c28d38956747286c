"""The admins' pages in a real headless Chromium against a real `homecheck serve --db` (SQLite):
profiles (upload with the CLI's messages, versions, the preview in words, profile text shown as
text), users (an admin adds a recruiter, who signs in), settings (privacy with the consent text
candidates read, the webhook and its delivery log filled by the serve process itself). And the
rules of every form of these pages: no CSRF token -> 403, a recruiter -> 403."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from homecheck import profiles
from homecheck.hub import invites, receipts, store, webhooks
from homecheck.hub.profile_store import store_profile
from tests.homecheck.dashboard.conftest import ADMIN, RECRUITER, Dashboard
from tests.homecheck.dashboard.forms import browser_sign_in, multipart, submit
from tests.homecheck.hub.conftest import report_body
from tests.support.receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as started:
        yield started


SCRIPTED = (
    profiles.builtin_path("chat")
    .read_text(encoding="utf-8")
    .replace('name = "chat"', 'name = "team <script>alert(1)</script>"', 1)
)


def test_profiles_upload_versions_and_preview(
    served: Dashboard, browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser_sign_in(browser, served, ADMIN)
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[requirements."network.download_mbps"]\nmin = "fast"\n')
    monkeypatch.chdir(tmp_path)  # the CLI names the file as given: here, as the upload does
    with pytest.raises(profiles.ProfileError) as cli:
        profiles.load("bad.toml")
    browser.get(f"{served.url}/dashboard/profiles")
    browser.find_element(By.ID, "profile").send_keys(str(bad))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    assert browser.find_element(By.CSS_SELECTOR, ".error").text == str(cli.value)

    good = tmp_path / "team.toml"
    good.write_text(SCRIPTED.replace('description = "', 'description = "<b>bold</b> ', 1))
    browser.find_element(By.ID, "profile").send_keys(str(good))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    assert "version 1" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading == "team <script>alert(1)</script>, version 1"
    assert browser.execute_script("return document.querySelectorAll('script').length") == 0
    assert browser.find_elements(By.CSS_SELECTOR, ".description b") == []
    assert "<b>bold</b>" in browser.find_element(By.CSS_SELECTOR, ".description").text
    rows = browser.find_elements(By.CSS_SELECTOR, "table.preview tbody tr")
    assert len(rows) == len(profiles.load(str(good)).requirements)
    words = {r.find_element(By.TAG_NAME, "th").text: r.text for r in rows}
    download = next(text for line, text in words.items() if "network.download_mbps" in line)
    assert "at least" in download and "Mbit/s" in download
    source = browser.find_element(By.CSS_SELECTOR, "pre.source").text
    assert source.splitlines()[0] == good.read_text().splitlines()[0]
    browser.save_screenshot(str(tmp_path / "profile-preview.png"))

    # A changed file is version 2; the same bytes again are not a new version.
    good.write_text(good.read_text() + "\n# changed\n")
    for expected in ("version 2", "Unchanged"):
        browser.get(f"{served.url}/dashboard/profiles")
        browser.find_element(By.ID, "profile").send_keys(str(good))
        submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        assert expected in browser.find_element(By.CSS_SELECTOR, ".flash").text
    browser.get(f"{served.url}/dashboard/profiles")
    listed = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "tbody th[scope=row]")]
    assert sum(r.startswith("team <script>alert(1)</script>") for r in listed) == 2


def test_an_admin_adds_a_recruiter_who_signs_in(served: Dashboard, browser: Any) -> None:
    browser_sign_in(browser, served, ADMIN)
    browser.get(f"{served.url}/dashboard/users")
    browser.find_element(By.ID, "email").send_keys("new.recruiter@example.org")
    browser.find_element(By.ID, "password").send_keys("short")
    browser.execute_script("document.getElementById('password').removeAttribute('minlength')")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    assert "at least 12 characters" in browser.find_element(By.CSS_SELECTOR, ".error").text
    # The form comes back with the e-mail, never the password.
    assert browser.find_element(By.ID, "password").get_attribute("value") == ""
    browser.find_element(By.ID, "password").send_keys("a good long password")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    assert "may now sign in" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    emails = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "tbody th[scope=row]")]
    assert "new.recruiter@example.org" in emails
    browser_sign_in(browser, served, ("new.recruiter@example.org", "a good long password"))
    browser.get(f"{served.url}/dashboard/users")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not allowed"


def test_settings_privacy_consent_text_and_webhook_log(
    served: Dashboard,
    browser: Any,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    browser_sign_in(browser, served, ADMIN)
    browser.get(f"{served.url}/dashboard/settings")
    consent = browser.find_element(By.CSS_SELECTOR, "pre.consent").text
    assert "not your IP address (this employer does not keep it)" in consent
    days = browser.find_element(By.ID, "retention_days")
    days.clear()
    days.send_keys("30")
    browser.find_element(By.ID, "store_client_ip").click()
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form[action$='/privacy'] button"))
    assert "saved" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert browser.find_element(By.ID, "retention_days").get_attribute("value") == "30"
    consent = browser.find_element(By.CSS_SELECTOR, "pre.consent").text
    assert "your IP address (this employer keeps it)" in consent
    assert f"homecheck sends its report to {served.url}" in consent
    assert (
        "kept 30 days"
        in browser.find_element(By.ID, "privacy-title").find_element(By.XPATH, "..").text
    )

    browser.find_element(By.ID, "url").send_keys(receiver.url)
    submit(
        browser,
        browser.find_element(By.CSS_SELECTOR, "form[action$='/webhook'] button[type=submit]"),
    )
    assert receiver.url in browser.find_element(By.CSS_SELECTOR, ".flash").text
    secret = browser.find_element(By.CSS_SELECTOR, "code.secret").text
    assert secret.startswith("whsec_")

    # A submission through the serve process: its web plane's worker posts it, the log shows it.
    invited = _submit_through(served)
    receiver.wait_for(1)
    ((headers, body),) = receiver.requests
    assert webhooks.verify(secret, headers[webhooks.SIGNATURE_HEADER], body)
    assert json.loads(body)["invite"] == invited
    assert json.loads(body)["client_ip"] == "127.0.0.1"  # kept: the setting above
    browser.get(f"{served.url}/dashboard/settings")
    log = browser.find_element(By.CSS_SELECTOR, "#log-title + table tbody tr").text
    assert invited in log and "delivered (204)" in log and "done" in log
    browser.save_screenshot(str(tmp_path / "settings.png"))

    # Put the settings back for the other tests of this module.
    browser.find_element(By.ID, "store_client_ip").click()
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form[action$='/privacy'] button"))
    browser.find_element(By.ID, "url").clear()
    submit(
        browser,
        browser.find_element(By.CSS_SELECTOR, "form[action$='/webhook'] button[type=submit]"),
    )
    assert "Webhook off" in browser.find_element(By.CSS_SELECTOR, ".flash").text


def _submit_through(served: Dashboard) -> str:
    """One run submitted to the served hub as a candidate's client does; its invite id."""
    from tests.homecheck.hub.test_webhooks import _http

    opened = store.open_store(served.db_url)
    try:
        with opened.sessions.begin() as session:
            made = invites.create_invite(
                session, store_profile(session, "voice"), candidate="Hook Test", email=None,
                uses=1, expires_in=invites.parse_duration("1d"),
            )  # fmt: skip
    finally:
        opened.close()
    bearer = {"Authorization": f"Bearer {receipts.b64(made.secret)}"}
    status, answer = _http(served.served.url, "POST", "/api/speed/session", b'{"seconds": 30}',
                           bearer)  # fmt: skip
    assert status == 201, answer
    token = json.loads(answer)
    assert _http(served.served.url, "DELETE", f"/api/speed/session/{token['token']}", None,
                 {})[0] == 204  # fmt: skip
    status, answer = _http(
        served.url, "POST", "/api/submit", report_body(77),
        {**bearer, "X-Homecheck-Session": str(token["hub_session"])},
    )  # fmt: skip
    assert status == 200, answer
    return made.invite.id


FORMS = (
    ("/dashboard/invites", False),
    ("/dashboard/invites/bulk", False),
    ("/dashboard/invites/inv-x/revoke", False),
    ("/dashboard/invites/inv-x/extend", False),
    ("/dashboard/profiles", True),
    ("/dashboard/users", True),
    ("/dashboard/settings/privacy", True),
    ("/dashboard/settings/webhook", True),
)
PAGES = ("/dashboard/profiles", "/dashboard/profiles/1", "/dashboard/users", "/dashboard/settings")


def test_every_form_needs_its_csrf_token_and_admin_forms_an_admin(served: Dashboard) -> None:
    admin = served.signed_in(ADMIN)
    recruiter = served.signed_in(RECRUITER)
    recruiter_token = recruiter.get("/dashboard/invites").csrf()
    for path, admin_only in FORMS:
        for given in ({}, {"csrf_token": "wrong"}, {"csrf_token": recruiter_token}):
            answer = admin.post(path, {**given, "url": "http://x.example/"})
            assert answer.status == 403, (path, given, answer.status)
        body, content_type = multipart({"csrf_token": ""}, {"csrf": ("a.csv", b"A,a@b.co\n")})
        answer = admin.request("POST", path, body, {"Content-Type": content_type})
        assert answer.status == 403, path
        if admin_only:
            answer = recruiter.post(path, {"csrf_token": recruiter_token})
            assert answer.status == 403 and "administrators" in answer.text, path
    for path in PAGES:
        answer = recruiter.get(path)
        assert answer.status == 403, path
        assert served.client().get(path).status == 303  # no session: to sign-in
    assert admin.get("/dashboard/users").status == 200
