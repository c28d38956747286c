"""The HTML report in a real browser: headless Chromium (Debian chromium + chromium-driver),
driven by Selenium with the system chromedriver, so nothing is downloaded (a driver path given to
Service skips Selenium Manager).

Each canned report is loaded twice: from a 127.0.0.1 HTTP server started here, which counts every
request the page makes, and from file:// as a recruiter would open it. Checked: one request only
(the document), no console errors (CSP violations included), charts drawn as SVG with their
titles, axis labels and units, hostile device/process names shown as text with no element
injected or script run, a full-page screenshot PNG, and page breaks when printed.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from homecheck.model import Report
from reports import OutputFormat, render
from tests.support.browser import start_chromium
from tests.support.canned import HOSTILE_DEVICE, HOSTILE_PROCESS

pytestmark = pytest.mark.browser


# Chart title -> the axis texts it must carry (label with unit).
CHARTS = {
    "CPU use while measuring": ("Time since this test started (s)", "CPU busy (%)"),
    "Round-trip delay, idle and while the line is loaded": (
        "Time since this test started (s)",
        "Round-trip delay (ms)",
    ),
    "Download and upload speed over time": ("Time since this test started (s)", "Speed (Mbit/s)"),
    "Sound level at the microphone over time (100 ms steps)": (
        "Time since this test started (s)",
        "Level (dBFS)",
    ),
    "Room noise spectrum: which pitches the background noise has": (
        "Frequency (Hz, log scale)",
        "Level (dBFS/Hz)",
    ),
}
EXPECTED = {
    "full_report": (list(CHARTS), ["Computer", "Network", "Microphone and room"]),
    "system_only_report": (
        ["CPU use while measuring"],
        ["Computer", "Network", "Microphone and room"],
    ),
    "interrupted_report": (list(CHARTS)[:3], ["Computer", "Network", "Microphone and room"]),
}


class _Server(ThreadingHTTPServer):
    pages: dict[str, bytes]
    requests: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        body = self.server.pages.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.pages, httpd.requests = {}, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"), performance_log=True)
    driver.set_window_size(1200, 900)  # the width these checks were written for
    yield driver
    driver.quit()


def _requested_urls(driver: Any, page_url: str) -> list[str]:
    """URLs the page asked the network stack for (DevTools Network domain): every request made
    for this document, plus any http(s)/ws(s) request at all. The browser's own chrome:// pages
    (the first tab) and data: URLs are not network traffic."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] != "Network.requestWillBeSent":
            continue
        params = message["params"]
        url = params["request"]["url"]
        for_page = params.get("documentURL") == page_url
        if (
            for_page or url.split(":", 1)[0] in {"http", "https", "ws", "wss"}
        ) and not url.startswith("data:"):
            urls.append(url)
    return urls


def _problems(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in {"SEVERE", "WARNING"}]


def _load(driver: Any, url: str) -> tuple[list[str], list[str]]:
    driver.get_log("performance")  # drain what earlier pages left
    driver.get_log("browser")
    driver.get(url)
    assert driver.execute_script("return document.readyState") == "complete"
    return _requested_urls(driver, url), _problems(driver)


def _pdf_pages(driver: Any) -> int:
    from selenium.webdriver.common.print_page_options import PrintOptions

    pdf = base64.b64decode(driver.print_page(PrintOptions()))
    assert pdf.startswith(b"%PDF")
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_report_in_chromium(
    name: str, request: pytest.FixtureRequest, browser: Any, server: _Server, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    report: Report = request.getfixturevalue(name)
    page = render(report, OutputFormat.HTML)
    path = tmp_path / f"{name}.html"
    path.write_text(page, encoding="utf-8")

    # 1. Served over HTTP: the only request the server sees is the document itself.
    server.pages = {f"/{name}.html": page.encode()}
    server.requests.clear()
    url = f"http://127.0.0.1:{server.server_address[1]}/{name}.html"
    urls, problems = _load(browser, url)
    assert server.requests == [f"/{name}.html"]
    assert urls == [url]
    assert problems == []

    # 2. Opened from disk, offline: same page, same silence.
    urls, problems = _load(browser, path.as_uri())
    assert urls == [path.as_uri()]
    assert problems == []

    # Charts: SVG with a title, axis labels with units, and drawn lines.
    titles, area_titles = EXPECTED[name]
    svgs = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    found = [svg.find_element(By.TAG_NAME, "title").get_attribute("textContent") for svg in svgs]
    assert found == titles
    for svg, title in zip(svgs, found, strict=True):
        x_label = svg.find_element(By.CSS_SELECTOR, "text.x-label").get_attribute("textContent")
        y_label = svg.find_element(By.CSS_SELECTOR, "text.y-label").get_attribute("textContent")
        assert (x_label, y_label) == CHARTS[title]
        assert svg.find_elements(By.CSS_SELECTOR, "path.series")
        assert svg.size["width"] > 400 and svg.size["height"] > 150  # laid out, not collapsed
        desc = svg.find_element(By.TAG_NAME, "desc").get_attribute("textContent")
        assert "median" in desc
    for title in (
        "Round-trip delay, idle and while the line is loaded",
        "Download and upload speed over time",
    ):
        if title in titles:
            labels = svgs[titles.index(title)].find_elements(By.CSS_SELECTOR, "text.phase-label")
            assert [label.text for label in labels][:2] == ["idle", "download load"]

    # One section per area, and verdicts as words with an icon.
    headings = browser.find_elements(By.CSS_SELECTOR, "section.area h2 .area-title")
    assert [h.text for h in headings] == area_titles
    for badge in browser.find_elements(By.CSS_SELECTOR, ".badge"):
        assert badge.find_element(By.CSS_SELECTOR, "svg.icon")
        assert badge.find_element(By.CSS_SELECTOR, ".word").text in {
            "PASS",
            "WARN",
            "FAIL",
            "NOT MEASURED",
        }

    # Untrusted names: shown as text, nothing injected, nothing run.
    body = browser.find_element(By.TAG_NAME, "body").text
    assert HOSTILE_PROCESS in body
    if name == "full_report":
        assert HOSTILE_DEVICE in body
    assert (
        browser.execute_script(
            "return document.querySelectorAll('script, img, iframe, object').length"
        )
        == 0
    )
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.title.startswith("homecheck report")
    if name == "interrupted_report":
        assert "This run was stopped before the end." in body
    if name == "system_only_report":
        assert "Not measured: not checked in this run" in body

    # A full-page screenshot, for a person to look at.
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1200, min(height + 40, 16000))
    shot = tmp_path / f"{name}.png"
    assert browser.save_screenshot(str(shot))
    browser.set_window_size(1200, 900)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000

    # Printing: the overall verdict, each area and the footer start on a page of their own.
    if name == "full_report":
        assert _pdf_pages(browser) >= 2 + len(area_titles)
