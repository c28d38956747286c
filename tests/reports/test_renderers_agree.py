"""Every renderer shows what the aggregator decided, in the same words: each area's verdict
(review defect D5: the HTML once computed its own) and each value (D6: the terminal once wrote
"16.0 GB" where the others wrote "16 GB")."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from html import unescape

import pytest

from homecheck.model import AreaResult, Measurement, Report, Verdict
from reports import OutputFormat, render, terminal
from reports.vocabulary import VERDICT_WORDS, area_title
from tests.support import canned

WORDS = "|".join(re.escape(w) for w in VERDICT_WORDS.values())


def _terminal(text: str) -> dict[str, str]:
    """The area's header row carries its verdict; a left-out area is named in one line."""
    shown = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) == 7 and cells[1].isupper() and cells[1]:
            shown[cells[1]] = cells[4]
        if "(left out with --only):" in line:
            names = line.split("(left out with --only):")[1].split(". Run")[0]
            shown |= {
                n.strip().upper(): "? NOT MEASURED (left out with --only)" for n in names.split(",")
            }
    return {title: verdict.split(" ", 1)[1] for title, verdict in shown.items()}


def _markdown(text: str) -> dict[str, str]:
    line = next(line for line in text.splitlines() if line.startswith("Areas: "))
    pairs = re.findall(rf"([^:·]+): \S ({WORDS})( \(left out with --only\))?", line[7:])
    return {title.strip().upper(): word + left for title, word, left in pairs}


def _html(text: str) -> dict[str, str]:
    pairs = re.findall(
        r'<span class="area-title">([^<]*)</span> <span class="badge badge-\w+">.*?'
        r'<span class="word">([^<]*)</span>',
        text,
    )
    return {unescape(title).upper(): word for title, word in pairs}


def _json(text: str) -> dict[str, str]:
    data = json.loads(text)
    left = {"not_selected": " (left out with --only)"}
    return {
        a["title"].upper(): a["verdict"].replace("_", " ").upper() + left.get(a["cause"], "")
        for a in data["areas"]
    }


READERS: dict[OutputFormat, Callable[[str], dict[str, str]]] = {
    OutputFormat.TERMINAL: _terminal,
    OutputFormat.MARKDOWN: _markdown,
    OutputFormat.HTML: _html,
    OutputFormat.JSON: _json,
}


def _expected(report: Report, fmt: OutputFormat) -> dict[str, str]:
    left_out_said = fmt is not OutputFormat.HTML  # the HTML says it in the area's status line
    return {
        area_title(a.area).upper(): VERDICT_WORDS[a.verdict]
        + (" (left out with --only)" if left_out_said and a.cause.value == "not_selected" else "")
        for a in report.areas
    }


def _rotated(report: Report) -> Report:
    """The same report with other area verdicts than its findings imply: a renderer that
    recomputed them instead of reading the report would show the old ones."""
    cycle = {
        Verdict.PASS: Verdict.FAIL,
        Verdict.FAIL: Verdict.WARN,
        Verdict.WARN: Verdict.PASS,
        Verdict.NOT_MEASURED: Verdict.PASS,
    }
    return replace(
        report,
        areas=tuple(AreaResult(a.area, cycle[a.verdict], a.cause) for a in report.areas),
    )


REPORTS: dict[str, Callable[[], Report]] = {
    **canned.CANNED,
    "rotated_full_report": lambda: _rotated(canned.full_report()),
}


def test_the_reports_differ_in_their_area_verdicts() -> None:
    seen = {(a.area, a.verdict) for make in REPORTS.values() for a in make().areas}
    assert {verdict for _, verdict in seen} == set(Verdict)
    for name in ("system", "network", "audio"):
        assert len({v for area, v in seen if area == name}) >= 2, name


def _render(report: Report, fmt: OutputFormat) -> str:
    if fmt is OutputFormat.TERMINAL:  # wide enough that no title wraps
        return terminal.render(report, width=400)
    return render(report, fmt)


@pytest.mark.parametrize("fmt", list(OutputFormat))
@pytest.mark.parametrize("name", list(REPORTS))
def test_every_renderer_shows_the_aggregators_area_verdicts(name: str, fmt: OutputFormat) -> None:
    report = REPORTS[name]()
    shown = READERS[fmt](_render(report, fmt))
    assert shown == _expected(report, fmt)


def test_readers_cover_every_format() -> None:
    assert set(READERS) == set(OutputFormat)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(16.0, "GB", "16 GB"), (7.75, "GB", "7.75 GB"), (42.25, "Mbit/s", "42.2 Mbit/s")],
)
@pytest.mark.parametrize("fmt", [OutputFormat.TERMINAL, OutputFormat.MARKDOWN, OutputFormat.HTML])
def test_every_renderer_writes_a_value_the_same_way(
    fmt: OutputFormat, value: float, unit: str, text: str
) -> None:
    system = canned.system_result()
    measurements = tuple(
        Measurement(m.metric, value, unit) if m.metric == "system.ram_total_gb" else m
        for m in system.measurements
    )
    report = canned.make_report((replace(system, measurements=measurements),))
    page = _render(report, fmt)
    row = next(line for line in page.splitlines() if "Memory installed" in line)
    if fmt is OutputFormat.HTML:  # the row's cells follow the label on the next lines
        start = page.index("Memory installed")
        row = page[start : page.index("</tr>", start)]
    assert text in row
    assert f"{value!r} {unit}" not in row or f"{value!r} {unit}" == text
