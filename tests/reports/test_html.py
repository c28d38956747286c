"""The HTML renderer without a browser: self-contained, escaped, robust to odd saved reports.
(tests/reports/test_html_browser.py opens the same pages in Chromium.)"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from homecheck.model import Measurement, ProbeResult, Report, Series, Unmeasured
from reports import OutputFormat, html, render
from tests.support.canned import HOSTILE_DEVICE, HOSTILE_PROCESS, make_report, system_result

ROOT = Path(__file__).resolve().parents[2]


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text of <title> elements in SVGs."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def test_self_contained_no_script_no_fetch(canned_report: Report) -> None:
    page = render(canned_report, OutputFormat.HTML)
    tags = _tags(page)
    forbidden = {"script", "img", "iframe", "object", "embed", "audio", "video", "base", "form"}
    assert not {tag for tag, _ in tags} & forbidden
    for tag, attrs in tags:
        for attr, value in attrs.items():
            assert not attr.startswith("on"), f"event handler {attr} on <{tag}>"
            if attr in {"src", "href", "xlink:href", "action", "srcset", "poster"}:
                # Only in-page anchors, and the empty data: favicon (no /favicon.ico request).
                assert value is not None and (value.startswith("#") or value == "data:,"), value
    csp = next(a["content"] for t, a in tags if t == "meta" and a.get("http-equiv"))
    assert csp is not None and "default-src 'none'" in csp
    assert "@media print" in page and "break-before: page" in page
    assert "url(" not in page and "@import" not in page and "@font-face" not in page


def test_untrusted_text_is_escaped(full_report: Report) -> None:
    page = render(full_report, OutputFormat.HTML)
    assert "<script>" not in page
    assert "&lt;script&gt;window.__pwned = 1;" in page
    assert "&lt;img src=&#34;http://127.0.0.1:9/x.png&#34;" in page
    assert HOSTILE_DEVICE not in page and HOSTILE_PROCESS not in page


def test_sections_per_area_and_footer(full_report: Report) -> None:
    page = render(full_report, OutputFormat.HTML)
    titles = re.findall(r'<span class="area-title">(.*?)</span>', page)
    assert titles == ["Computer", "Network", "Microphone and room"]
    assert full_report.profile.sha256 in page
    assert "homecheck 0.1.0" in page
    assert "No sound is recorded or kept" in page
    assert "no IP address, hostname, user name or file path" in page
    # The contents list is built from the report: it names what each area holds.
    assert "Computer: 12 measured values" in page
    assert "programs using the most CPU while measuring (names only)" in page


def test_verdicts_are_words_and_icons(full_report: Report) -> None:
    page = render(full_report, OutputFormat.HTML)
    badges = re.findall(
        r'<span class="badge badge-(\w+)"><svg class="icon".*?</svg>'
        r'<span class="word">([A-Z ]+)</span>',
        page,
        flags=re.S,
    )
    assert {word for _, word in badges} == {"PASS", "WARN", "FAIL"}
    assert all(html_class.upper() == word.replace(" ", "_") for html_class, word in badges)
    assert "NOT READY" in page  # the overall verdict (a FAIL on bufferbloat)


def test_fix_list_comes_first_and_in_order(full_report: Report) -> None:
    page = render(full_report, OutputFormat.HTML)
    fix = page[page.index('<ol class="fix">') : page.index("</ol>")]
    classes = re.findall(r'<li class="fix-(\w+)">', fix)
    assert classes[0] == "fail" and set(classes[1:]) == {"warn"}
    assert "Turn on SQM / Smart Queue / QoS" in fix  # the profile's advice, in plain words
    assert page.index('<ol class="fix">') < page.index('class="area"')


def test_system_only_report_handles_missing_areas(system_only_report: Report) -> None:
    page = render(system_only_report, OutputFormat.HTML)
    assert "INCOMPLETE" in page
    assert page.count('class="chart"') == 1  # CPU only; no empty network/audio charts
    assert "Not measured: not checked in this run (the area was left out with --only)" in page
    # The limits of unmeasured lines still carry their units (from the metric catalogue).
    assert "at least 10 Mbit/s (ideally 25+)" in page


def test_interrupted_report(interrupted_report: Report) -> None:
    page = render(interrupted_report, OutputFormat.HTML)
    assert "This run was stopped before the end." in page
    assert "Cut short after 9.0 s" in page
    assert "Could not be measured: stopped by the user (Ctrl-C)" in page
    assert page.count('class="chart"') == 3  # CPU, round-trip delay, download so far


def _odd_report() -> Report:
    """A report as a damaged or future file could hold it: an unknown area, hostile names in series
    and details, gaps, NaN, strings and bools where numbers belong, broken phases."""
    odd = ProbeResult(
        probe="webcam<b>",
        measurements=(Measurement("webcam.fps", float("nan"), "fps"),),
        unmeasured=(Unmeasured("webcam.light", "no <i>camera</i>"),),
        series=(
            Series(
                "<script>alert(1)</script>_fps",
                '"><b>u',
                ((0.0, 1.0), (1.0, None), (2.0, float("nan")), ("x", 3.0), (3.0, True), (4.0, 5.0)),  # type: ignore[arg-type]
                phases=(("warm<up>", 0.0, 2.0), ("bad", "a", None)),  # type: ignore[arg-type]
            ),
            Series(
                "spectrum_dbfs",
                "dBFS",
                ((0.0, -50.0), (100.0, -60.0), (1000.0, -70.0)),
                x_unit="Hz",
            ),
            Series("level_dbfs", "dBFS", ((0.0, -40.0),)),  # one point: no chart
            Series("cpu_busy_pct", "%", ()),
        ),
        details={
            "nested": {"a": [1, {"b": "<u>"}], "c": None},
            "rows": [{"<th>": "<td>", "n": 1.5}, {"other": False}],
            "empty": [],
            "plain": ["x<y", 2],
        },
        duration_s=1.0,
    )
    return make_report((system_result(partial=True), odd))


def test_odd_report_renders_escaped() -> None:
    page = html.render(_odd_report())
    assert "<script>alert" not in page and "<b>" not in page and "<i>" not in page
    assert "<u>" not in page and "<th>&" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; fps" in page
    assert "Webcam&lt;b&gt;" in page  # an unknown area gets its own section, titled from its name
    assert "warm&lt;up&gt;" in page
    tags = _tags(page)
    assert not [t for t, _ in tags if t in {"script", "b", "i", "u"}]
    # The spectrum's 0 Hz point cannot sit on a log axis; the other two can.
    assert page.count('class="chart"') == 3  # generic series, spectrum, partial system CPU


def test_every_output_format_renders(full_report: Report) -> None:
    """Like pip-audit's test_to_format_is_exhaustive: a new OutputFormat member must be wired
    into reports.render's match (mypy's assert_never checks it statically, this at run time)."""
    for fmt in OutputFormat:
        text = render(full_report, fmt)
        assert isinstance(text, str) and len(text) > 200, fmt
