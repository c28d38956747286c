"""The invites page in a real headless Chromium against a real `homecheck serve --db` (SQLite:
the page's rules are the hub's, tested on both databases in tests/homecheck/hub/test_invites.py):
create one invite (its link shown once, copyable), many from a CSV file, revoke, extend; and the
link then works, or is refused, at the machine API."""

from __future__ import annotations

import html
import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from selenium.webdriver.common.by import By
from sqlalchemy import func, select

from homecheck.hub import store
from homecheck.hub.models import Invite
from tests.homecheck.dashboard.conftest import RECRUITER, Dashboard
from tests.homecheck.dashboard.forms import browser_sign_in, multipart, submit

NASTY = "<script>alert(1)</script> \"Q\" 'Bo' \u202eevil"


def _api_invite(dashboard: Dashboard, link: str) -> tuple[int, dict[str, Any]]:
    parts = urlsplit(dashboard.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        secret = link.rsplit("/i/", 1)[1]
        conn.request("GET", "/api/invite", headers={"Authorization": f"Bearer {secret}"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def _invites(dashboard: Dashboard) -> int:
    opened = store.open_store(dashboard.db_url)
    try:
        with opened.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(Invite)) or 0)
    finally:
        opened.close()


def test_create_copy_revoke_and_extend_in_the_browser(
    served: Dashboard, browser: Any, tmp_path: Path
) -> None:
    browser_sign_in(browser, served, RECRUITER)
    browser.get(f"{served.url}/dashboard/invites")
    browser.find_element(By.ID, "candidate").send_keys(NASTY)
    browser.find_element(By.ID, "email").send_keys("ann@example.com")
    browser.find_element(By.ID, "uses").clear()
    browser.find_element(By.ID, "uses").send_keys("2")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "#one-title ~ form button[type=submit]"))

    field = browser.find_element(By.ID, "link-1")
    link = field.get_attribute("value")
    assert field.get_attribute("readonly") is not None
    assert link.startswith(f"{served.url}/i/")
    # The copy button is the page's one script's: shown when it runs, selecting the whole link.
    copy = browser.find_element(By.CSS_SELECTOR, "button[data-copy='link-1']")
    assert copy.is_displayed()
    copy.click()
    selected = browser.execute_script(
        "const f = document.getElementById('link-1'); return [f.selectionStart, f.selectionEnd];"
    )
    assert selected == [0, len(link)]
    # The candidate's name is text: no script of theirs ran, none was added to the page.
    assert browser.execute_script("return document.querySelectorAll('script').length") == 1
    row = browser.find_element(By.CSS_SELECTOR, "tbody tr th[scope=row]")
    assert row.text.startswith("<script>alert(1)</script> \"Q\" 'Bo' \\u202eevil")
    browser.save_screenshot(str(tmp_path / "invite-created.png"))

    status, view = _api_invite(served, link)
    assert status == 200 and view["uses_left"] == 2
    before = view["expires_at"]

    # Extend by 14 days, then revoke: the machine API follows.
    first_row = browser.find_element(By.CSS_SELECTOR, "tbody tr")
    first_row.find_element(By.CSS_SELECTOR, "select[name=by] option[value='14d']").click()
    submit(browser, first_row.find_element(By.CSS_SELECTOR, "form[action$='/extend'] button"))
    assert "now expires" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    status, view = _api_invite(served, link)
    assert status == 200 and view["expires_at"] > before

    submit(
        browser, browser.find_element(By.CSS_SELECTOR, "tbody tr form[action$='/revoke'] button")
    )
    assert "revoked" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert browser.find_element(By.CSS_SELECTOR, "tbody tr td.state").text == "revoked"
    status, answer = _api_invite(served, link)
    assert status == 410 and "withdrawn" in answer["error"]
    browser.save_screenshot(str(tmp_path / "invite-revoked.png"))


def test_many_invites_from_a_csv_file(served: Dashboard, browser: Any, tmp_path: Path) -> None:
    browser_sign_in(browser, served, RECRUITER)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,email\nCy Doe,cy@example.com\n,nobody@example.com\nDi,not-mail\n")
    before = _invites(served)
    browser.get(f"{served.url}/dashboard/invites")
    browser.find_element(By.ID, "csv").send_keys(str(bad))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "#many-title ~ form button[type=submit]"))
    error = browser.find_element(By.CSS_SELECTOR, ".error").text
    assert "Nothing was created" in error
    assert "line 3: no name" in error
    assert "line 4: not an e-mail address: 'not-mail'" in error
    assert _invites(served) == before

    good = tmp_path / "good.csv"
    good.write_text('Cy Doe,cy@example.com\n=HYPERLINK("x"),eve@example.com\nDi Ng,\n')
    browser.find_element(By.ID, "csv").send_keys(str(good))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "#many-title ~ form button[type=submit]"))
    links = [f.get_attribute("value") for f in browser.find_elements(By.CSS_SELECTOR, "input.link")]
    assert len(links) == 3 and len(set(links)) == 3
    assert _invites(served) == before + 3
    text = browser.find_element(By.ID, "links-csv").get_attribute("value").splitlines()
    assert text[0] == "name,email,link"
    assert text[2].startswith('"\'=HYPERLINK(""x"")",eve@example.com,')  # neutralised
    for link in links:
        assert _api_invite(served, link)[0] == 200
    browser.save_screenshot(str(tmp_path / "invites-from-csv.png"))


def test_a_bad_invite_form_is_answered_400_with_the_reason(served: Dashboard) -> None:
    client = served.signed_in()
    token = client.get("/dashboard/invites").csrf()
    cases = {
        "Name: give the candidate's name": {"candidate": " ", "profile": "builtin:voice"},
        "Runs allowed": {"candidate": "A", "profile": "builtin:voice", "uses": "0"},
        "Expires in": {"candidate": "A", "profile": "builtin:voice", "expires": "7y"},
        "Profile: choose": {"candidate": "A", "profile": "id:999999"},
        "E-mail: not an e-mail": {"candidate": "A", "profile": "builtin:voice", "email": "x@y"},
    }
    for reason, fields in cases.items():
        answer = client.post("/dashboard/invites", {"csrf_token": token, **fields})
        assert answer.status == 400, (reason, answer.status)
        assert reason in html.unescape(answer.text)
    body, content_type = multipart({"csrf_token": token, "profile": "builtin:voice"}, {})
    answer = client.request("POST", "/dashboard/invites/bulk", body, {"Content-Type": content_type})
    assert answer.status == 400 and "Choose a CSV file" in answer.text
    for action in ("revoke", "extend"):
        answer = client.post(f"/dashboard/invites/inv-nothere/{action}", {"csrf_token": token})
        assert answer.status == 404


def test_a_name_with_nul_is_refused_by_the_page(served: Dashboard) -> None:
    """PostgreSQL stores no NUL: the page refuses it (400) rather than failing in the database."""
    client = served.signed_in()
    token = client.get("/dashboard/invites").csrf()
    answer = client.post(
        "/dashboard/invites",
        {"csrf_token": token, "candidate": "Ann\x00Lee", "profile": "builtin:voice"},
    )
    assert answer.status == 400 and "NUL" in answer.text
