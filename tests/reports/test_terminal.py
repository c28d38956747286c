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
    table, to_fix = text.split("What to fix first:")
    assert table.count("this computer has no internet connection") == 1
    assert to_fix.count("this computer has no internet connection") == 1  # one item, too
    assert "(the reason is above)" in text


def test_what_to_fix_comes_last_with_the_advice(failed_probe_report: Report) -> None:
    """A full run prints ~90 lines; the candidate reads the end: the lines to fix, worst first."""
    text = terminal.render(failed_probe_report, width=200)
    end = text.split("Overall:")[1]
    assert "What to fix first:" in end
    failing = [f for f in failed_probe_report.findings if f.verdict is Verdict.FAIL]
    assert failing
    for finding in failing:
        assert finding.requirement.label in end
        assert finding.advice.rstrip(".") in end
    first_item = end.split("What to fix first:")[1].strip().splitlines()[0]
    assert first_item.startswith("1. ✘ FAIL")  # the lines that make it not ready come first
    passing = next(f for f in failed_probe_report.findings if f.verdict is Verdict.PASS)
    assert passing.requirement.label not in end


def test_brief_is_only_the_verdict_and_what_to_fix(failed_probe_report: Report) -> None:
    text = terminal.render(failed_probe_report, width=200, brief=True)
    assert "┏" not in text and "Requirement" not in text  # no table
    assert "Overall: ✘ NOT READY" in text and "What to fix first:" in text


def test_ascii_only_keeps_the_words(canned_report: Report) -> None:
    text = terminal.render(canned_report, ascii_only=True)
    assert text.isascii()
    assert f"Overall: {badge(canned_report.overall, ascii_only=True).split()[0]} " in text
    for finding in canned_report.findings:
        if finding.verdict is Verdict.FAIL:
            assert "x FAIL" in text


def test_not_measured_lines_give_the_limit_with_its_unit(failed_probe_report: Report) -> None:
    # Reliability review §14: "at least 10 (ideally 25+)" with no unit on NOT MEASURED lines.
    text = terminal.render(failed_probe_report, width=250)
    upload = next(line for line in text.splitlines() if line.startswith("│ Upload speed"))
    assert "at least 3 Mbit/s" in upload and "NOT MEASURED" in upload
    assert "Upload speed: needs at least 3 Mbit/s" in text.split("What to fix first:")[1]
