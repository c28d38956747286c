"""The terminal table: one row per line with its verdict in words, each area's verdict from the
aggregator, untrusted names printed as text, colour codes only when asked."""

from __future__ import annotations

from dataclasses import replace

from homecheck import aggregator
from homecheck.model import Cause, Level, ProbeResult, Report, Verdict
from reports import terminal
from reports.vocabulary import TERMINAL_STYLES, badge
from tests.support.canned import HOSTILE_MARKUP

# rich's SGR codes for the styles in reports.vocabulary.TERMINAL_STYLES.
SGR = {"green": "32", "yellow": "33", "bold red": "1;31", "magenta": "35"}


def rows(text: str) -> dict[str, str]:
    """Requirement -> verdict cell, from a table rendered wide enough not to wrap."""
    cells = (line.split("│") for line in text.splitlines() if line.startswith("│"))
    return {c[1].strip(): c[4].strip() for c in cells if len(c) == 7}


def test_every_line_has_a_row_with_its_verdict(canned_report: Report) -> None:
    table = rows(terminal.render(canned_report, width=600))
    left_out = {a.area for a in canned_report.areas if a.cause is Cause.NOT_SELECTED}
    shown = [
        f for f in canned_report.findings if f.requirement.metric.split(".")[0] not in left_out
    ]
    assert shown
    for finding in shown:
        label = finding.requirement.label
        if finding.requirement.level is Level.RECOMMENDED:
            label += " (recommended)"
        assert table[label] == badge(finding.verdict), label


def test_overall_headline_and_no_colour_unless_asked(full_report: Report) -> None:
    text = terminal.render(full_report, width=160)
    assert "Overall: ✘ NOT READY" in text
    assert "\x1b[" not in text


def test_colour_repeats_the_words(full_report: Report) -> None:
    text = terminal.render(full_report, color=True, width=600)
    verdicts = {f.verdict for f in full_report.findings}
    assert verdicts == {Verdict.PASS, Verdict.WARN, Verdict.FAIL}
    for verdict in verdicts:
        assert f"\x1b[{SGR[TERMINAL_STYLES[verdict]]}m{badge(verdict)}" in text, verdict
    assert f"\x1b[{SGR[TERMINAL_STYLES[Verdict.NOT_MEASURED]]}m" not in text


def test_advice_and_busiest_programs_are_shown(failed_probe_report: Report) -> None:
    text = terminal.render(failed_probe_report, width=600)
    assert "Biggest memory users: firefox-esr (2.31 GB), teams-for-linux (0.92 GB)" in text
    assert "PortAudio is not installed" in text
    assert "the upload test timed out" in text


def test_untrusted_names_are_not_markup(failed_probe_report: Report) -> None:
    starved = replace(  # low CPU headroom, so the biggest CPU users are named
        failed_probe_report,
        findings=tuple(
            replace(f, verdict=Verdict.WARN)
            if f.requirement.metric == "system.cpu_headroom_pct"
            else f
            for f in failed_probe_report.findings
        ),
    )
    assert HOSTILE_MARKUP in terminal.render(starved, width=200)


def test_interrupted_says_partial(interrupted_report: Report) -> None:
    assert "the report is partial" in terminal.render(interrupted_report)


def test_areas_left_out_are_named_by_cause_not_by_reason_text(system_only_report: Report) -> None:
    reworded = replace(
        system_only_report,
        findings=tuple(
            replace(f, reason="reworded") if f.cause is Cause.NOT_SELECTED else f
            for f in system_only_report.findings
        ),
    )
    text = terminal.render(reworded, width=300)
    assert "(left out with --only): Network, Microphone and room." in text
    assert "Download speed" not in text


def test_a_reason_shared_by_many_lines_is_printed_once(full_report: Report) -> None:
    offline = ProbeResult("network", reason="this computer has no internet connection")
    results = tuple(offline if r.probe == "network" else r for r in full_report.results)
    judgement = aggregator.judge(full_report.profile, results)
    report = replace(
        full_report,
        results=results,
        findings=judgement.findings,
        areas=judgement.areas,
        overall=judgement.overall,
    )
    text = terminal.render(report, width=300)
    assert text.count("this computer has no internet connection") == 1
    assert "(the reason is above)" in text
