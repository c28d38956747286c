"""The terminal table: verdicts in words, untrusted names printed as text, no colour codes
unless asked."""

from __future__ import annotations

from reports import OutputFormat, render, terminal
from tests.reports.canned import HOSTILE, canned_report


def test_every_verdict_is_a_word() -> None:
    text = terminal.render(canned_report(), width=160)
    for word in ("✔ PASS", "! WARN", "✘ FAIL", "? NOT MEASURED"):
        assert word in text
    assert "Overall: ✘ NOT READY" in text
    assert "\x1b[" not in text  # no colour when not asked


def test_colour_repeats_the_words() -> None:
    text = terminal.render(canned_report(), color=True, width=160)
    assert "\x1b[" in text
    assert "FAIL" in text


def test_advice_and_busiest_programs_are_shown() -> None:
    text = terminal.render(canned_report(), width=600)
    assert "Close the programs listed as the biggest CPU users" in text
    assert "Biggest CPU users during the test:" in text
    assert "Biggest memory users: chrome (2.1 GB)" in text
    assert "PortAudio is not installed" in text


def test_untrusted_names_are_not_markup() -> None:
    text = terminal.render(canned_report(), width=200)
    assert HOSTILE in text


def test_interrupted_says_partial() -> None:
    assert "the report is partial" in terminal.render(canned_report(interrupted=True))


def test_every_output_format_renders() -> None:
    report = canned_report()
    for fmt in OutputFormat:
        assert render(report, fmt).strip()


def test_a_reason_shared_by_many_lines_is_printed_once() -> None:
    from dataclasses import replace

    from homecheck.aggregator import judge
    from homecheck.model import ProbeResult

    report = canned_report()
    offline = ProbeResult("network", reason="this computer has no internet connection")
    results = tuple(offline if r.probe == "network" else r for r in report.results)
    findings, overall = judge(report.profile, results)
    text = terminal.render(
        replace(report, results=results, findings=findings, overall=overall), width=300
    )
    assert text.count("this computer has no internet connection") == 1
    assert "(the reason is above)" in text
