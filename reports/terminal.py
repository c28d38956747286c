"""The terminal report: a table a non-technical applicant can read, then the verdict in words.

Every verdict is a word with an icon; colour only repeats it, so the table reads the same on a
monochrome terminal, in a screen reader, or pasted into an e-mail. Areas left out with --only are
summed up in one line each instead of a row per requirement.
"""

from __future__ import annotations

import io
from collections import Counter
from itertools import groupby

from rich.console import Console
from rich.table import Table
from rich.text import Text

from homecheck.aggregator import NOT_SELECTED
from homecheck.metrics import AREAS, area
from homecheck.model import Finding, Level, Measurement, Report, Verdict
from reports.json_report import SUMMARIES

BADGES: dict[Verdict, tuple[str, str]] = {
    Verdict.PASS: ("✔ PASS", "green"),
    Verdict.WARN: ("! WARN", "yellow"),
    Verdict.FAIL: ("✘ FAIL", "bold red"),
    Verdict.NOT_MEASURED: ("? NOT MEASURED", "magenta"),
}
HEADLINES = {
    Verdict.PASS: "READY",
    Verdict.WARN: "READY, WITH WARNINGS",
    Verdict.FAIL: "NOT READY",
    Verdict.NOT_MEASURED: "INCOMPLETE",
}


def render(report: Report, *, color: bool = False, width: int = 110) -> str:
    out = io.StringIO()
    console = Console(
        file=out,
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        markup=False,  # process and device names are untrusted text, never markup
    )
    title = f"homecheck {report.tool_version} — profile {report.profile.name}"
    if report.profile.description:
        title += f": {report.profile.description}"
    console.print(Text(title, style="bold"))
    if report.interrupted:
        console.print(Text("This run was stopped before the end: the report is partial.", "bold"))

    table = Table(expand=True, header_style="bold")
    table.add_column("Requirement", ratio=3)
    table.add_column("Measured", ratio=2)
    table.add_column("Required", ratio=3)
    table.add_column("Verdict", no_wrap=True, min_width=14)
    table.add_column("Why / what to do", ratio=6)
    left_out: list[str] = []
    ordered = sorted(report.findings, key=lambda f: _area_rank(area(f.requirement.metric)))
    for name, group in groupby(ordered, key=lambda f: area(f.requirement.metric)):
        findings = list(group)
        title_text = AREAS.get(name, name.capitalize())
        if all(f.reason == NOT_SELECTED for f in findings):
            left_out.append(title_text)
            continue
        shared = _shared_reason(findings)
        table.add_section()
        table.add_row(
            Text(title_text.upper(), style="bold"),
            "",
            "",
            "",
            f"Not measured: {shared}" if shared else "",
        )
        for finding in findings:
            row = _row(finding)
            if shared and finding.verdict is Verdict.NOT_MEASURED and finding.reason == shared:
                row = (*row[:4], "(the reason is above)")
            table.add_row(*row)
    console.print(table)
    for line in _busiest(report):
        console.print(line)
    if left_out:
        console.print(
            f"Not checked in this run (left out with --only): {', '.join(left_out)}. "
            "Run homecheck without --only for a complete check."
        )
    badge, style = BADGES[report.overall]
    icon = badge.split()[0]
    console.print(
        Text.assemble(("Overall: ", "bold"), (f"{icon} {HEADLINES[report.overall]}", style))
    )
    console.print(SUMMARIES[report.overall])
    return out.getvalue()


def _busiest(report: Report) -> list[str]:
    """Name the programs to close when the computer is short of CPU or memory."""
    lines: list[str] = []
    verdicts = {f.requirement.metric: f.verdict for f in report.findings}
    system = next((r for r in report.results if r.probe == "system"), None)
    if system is None:
        return lines
    for metric, key, field, unit, title in (
        ("system.cpu_headroom_pct", "top_cpu", "cpu_pct", "%", "Biggest CPU users during the test"),
        ("system.ram_available_gb", "top_memory", "rss_gb", "GB", "Biggest memory users"),
    ):
        if verdicts.get(metric, Verdict.PASS) is Verdict.PASS:
            continue
        rows = system.details.get(key)
        if isinstance(rows, list) and rows:
            named = [
                f"{row['name']} ({row[field]} {unit})"
                for row in rows
                if isinstance(row, dict) and "name" in row and field in row
            ]
            lines.append(f"{title}: " + ", ".join(named))
    return lines


def _shared_reason(findings: list[Finding]) -> str | None:
    """A not-measured reason that several lines of one area share, to print it once."""
    reasons = Counter(f.reason for f in findings if f.verdict is Verdict.NOT_MEASURED and f.reason)
    if not reasons:
        return None
    reason, count = reasons.most_common(1)[0]
    return reason if count >= 3 else None


def _area_rank(name: str) -> int:
    names = list(AREAS)
    return names.index(name) if name in names else len(names)


def _row(finding: Finding) -> tuple[str, str, str, Text, str]:
    badge, style = BADGES[finding.verdict]
    label = finding.requirement.label
    if finding.requirement.level is Level.RECOMMENDED:
        label += " (recommended)"
    unit = finding.measurement.unit if finding.measurement else ""
    return (
        label,
        measured_text(finding.measurement),
        finding.requirement.describe(unit),
        Text(badge, style=style),
        _explain(finding),
    )


def measured_text(m: Measurement | None) -> str:
    """A measured value as a person reads it: "42.1 Mbit/s", "yes", "wired", "—"."""
    if m is None:
        return "—"
    value = m.value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        magnitude = abs(value)
        text = (
            f"{value:.0f}"
            if magnitude >= 100
            else f"{value:.1f}"
            if magnitude >= 10
            else f"{value:.3g}"
        )
        return f"{text} {m.unit}".strip()
    return value


def _explain(finding: Finding) -> str:
    if finding.verdict is Verdict.PASS:
        return ""
    return ". ".join(part.rstrip(".") for part in (finding.reason, finding.advice) if part) + "."
