"""The Markdown summary: short, complete on the verdicts, safe to paste where Markdown renders."""

from __future__ import annotations

import re
from dataclasses import replace

from homecheck.model import Measurement, ProbeResult, Report
from reports import markdown
from tests.support.canned import make_report, system_result


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_summary_of_full_report(full_report: Report) -> None:
    text = markdown.render(full_report)
    lines = text.splitlines()
    assert lines[0] == "## homecheck: ✘ NOT READY"
    assert "Lines: 22 PASS, 8 WARN, 1 FAIL." in text
    fix = text[text.index("### What to fix") : text.index("| Area |")]
    first = fix.splitlines()[2]
    assert first.startswith("- ✘ **FAIL** Delay added under load (bufferbloat): measured 228 ms")
    assert "What to do: Your router adds a lot of delay" in fix
    rows = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(full_report.findings)
    assert all(_unescaped_pipes(row) == 6 for row in rows)
    assert full_report.profile.sha256 in lines[-1]
    assert "2025-03-14 09:27:58 UTC" in lines[-1]
    assert len(text) < 6000  # short enough for an e-mail


def test_units_of_unmeasured_lines_and_grouping(system_only_report: Report) -> None:
    text = markdown.render(system_only_report)
    assert (
        "| Network | Download speed | — | at least 10 Mbit/s (ideally 25+) | ? NOT MEASURED |"
        in text
    )
    grouped = [line for line in text.splitlines() if line.startswith("- ? **NOT MEASURED**")]
    assert len(grouped) == 1  # one entry for every line of the areas left out with --only
    assert "Download speed" in grouped[0] and "Microphone clipping" in grouped[0]


def test_untrusted_text_cannot_become_markup() -> None:
    hostile = "wifi <img src=x onerror=alert(1)> | [click](http://example.invalid) *bold* `code`"
    network = ProbeResult(
        probe="network", measurements=(Measurement("network.connection", hostile, ""),)
    )
    report = make_report((system_result(), network))
    # A custom profile file can carry any label, too.
    relabelled = tuple(
        replace(f, requirement=replace(f.requirement, label="OS | <b>supported</b>"))
        if f.requirement.metric == "system.os_supported"
        else f
        for f in report.findings
    )
    text = markdown.render(replace(report, findings=relabelled))
    # No unescaped HTML, link or emphasis survives (CommonMark: a backslash makes it literal).
    assert not re.search(r"(?<!\\)[<>`]", text)
    assert not re.search(r"(?<!\\)\]\(", text)
    assert r"OS \| \<b\>supported\</b\>" in text
    assert r"wifi \<img src=x onerror=alert(1)\> \| \[click\](http://example.invalid)" in text
    assert r"\*bold\* \`code\`" in text
    for line in text.splitlines():
        if line.startswith("| "):
            assert _unescaped_pipes(line) == 6, line


def test_interrupted_is_said(interrupted_report: Report) -> None:
    assert "*The run was stopped before the end: this report is partial.*" in markdown.render(
        interrupted_report
    )
