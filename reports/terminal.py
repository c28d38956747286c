"""The terminal report: a table a non-technical applicant can read, then the verdict in words.

Every verdict is a word with an icon; colour only repeats it, so the table reads the same on a
monochrome terminal, in a screen reader, or pasted into an e-mail.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from homecheck.model import Finding, Measurement, Report, Verdict
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
    )
    console.print(
        f"homecheck {report.tool_version} — profile [bold]{report.profile.name}[/]"
        + (f": {report.profile.description}" if report.profile.description else "")
    )
    if report.interrupted:
        console.print("[bold]This run was stopped before the end: the report is partial.[/]")
    table = Table(show_lines=False, expand=True, header_style="bold")
    table.add_column("Requirement", ratio=3)
    table.add_column("Measured", ratio=2)
    table.add_column("Required", ratio=3)
    table.add_column("Verdict", ratio=2, no_wrap=True)
    table.add_column("Why / what to do", ratio=6)
    for finding in report.findings:
        badge, style = BADGES[finding.verdict]
        label = finding.requirement.label
        if finding.requirement.level.value == "recommended":
            label += " (recommended)"
        unit = finding.measurement.unit if finding.measurement else ""
        table.add_row(
            label,
            _measured(finding.measurement),
            finding.requirement.describe(unit),
            Text(badge, style=style),
            _explain(finding),
        )
    console.print(table)
    badge, style = BADGES[report.overall]
    console.print(
        Text.assemble(("Overall: ", "bold"), (f"{badge.split()[0]} {HEADLINES[report.overall]}", style))
    )
    console.print(SUMMARIES[report.overall])
    return out.getvalue()


def _measured(m: Measurement | None) -> str:
    if m is None:
        return "—"
    value = m.value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
        return f"{text} {m.unit}".strip()
    return str(value)


def _explain(finding: Finding) -> str:
    if finding.verdict is Verdict.PASS:
        return ""
    if finding.advice and finding.reason:
        return f"{finding.reason}. {finding.advice}"
    return finding.advice or finding.reason
