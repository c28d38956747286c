"""The terminal report: a table a non-technical applicant can read, then the verdict in words,
then what to fix first, with the advice (as the HTML report's "What to fix"), so the candidate
never has to scroll ~90 lines back to find the FAIL lines. `brief` keeps only the verdict and
that list.

Every verdict is a word with an icon; colour only repeats it, so the table reads the same on a
monochrome terminal, in a screen reader, or pasted into an e-mail. Areas left out with --only are
summed up in one line each instead of a row per requirement. `ascii_only` draws the box and the
icons in ASCII ("+ PASS", "x FAIL") for a code page without them (Windows cp1252, cp437).
"""

from __future__ import annotations

import io
from collections import Counter
from itertools import groupby

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from homecheck.metrics import Metric, area
from homecheck.model import Cause, Finding, Level, Report, Verdict
from reports import fixes
from reports import vocabulary as vocab

# Typography with a one-character ASCII twin, so an ASCII table keeps its column widths.
_ASCII_TWINS = str.maketrans("\u2014\u2013\u00b7\u2018\u2019\u201c\u201d", "--.''\"\"")


def render(
    report: Report,
    *,
    color: bool = False,
    width: int = 110,
    ascii_only: bool = False,
    brief: bool = False,
) -> str:
    report = vocab.displayable(report)  # no text from the machine or a file steers the terminal
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
    if not brief:
        _table(console, report, ascii_only)
    icons = vocab.ASCII_ICONS if ascii_only else vocab.VERDICT_ICONS
    icon, style = icons[report.overall], vocab.TERMINAL_STYLES[report.overall]
    console.print(
        Text.assemble(("Overall: ", "bold"), (f"{icon} {vocab.headline(report.overall)}", style))
    )
    console.print(vocab.SUMMARIES[report.overall])
    _to_fix(console, report, ascii_only)
    text = "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"
    return text.translate(_ASCII_TWINS) if ascii_only else text


def _table(console: Console, report: Report, ascii_only: bool) -> None:
    table = Table(
        expand=True, header_style="bold", box=box.ASCII2 if ascii_only else box.HEAVY_HEAD
    )
    table.add_column("Requirement", ratio=3)
    table.add_column("Measured", ratio=2)
    table.add_column("Required", ratio=3)
    table.add_column("Verdict", no_wrap=True, min_width=14)
    table.add_column("Why / what to do", ratio=6)
    left_out: list[str] = []
    ordered = sorted(report.findings, key=lambda f: _area_rank(area(f.requirement.metric)))
    for name, group in groupby(ordered, key=lambda f: area(f.requirement.metric)):
        findings = list(group)
        title_text = vocab.area_title(name)
        judged = report.area(name)
        if judged is not None and judged.cause is Cause.NOT_SELECTED:
            left_out.append(title_text)
            continue
        shared = _shared_reason(findings)
        table.add_section()
        table.add_row(
            Text(title_text.upper(), style="bold"),
            "",
            "",
            _badge(judged.verdict, ascii_only) if judged is not None else "",
            f"Not measured: {shared}" if shared else "",
        )
        for finding in findings:
            row = _row(finding, ascii_only)
            if shared and finding.verdict is Verdict.NOT_MEASURED and finding.reason == shared:
                row = (*row[:4], "(the reason is above)")
            table.add_row(*row)
    console.print(table)
    if public := vocab.public_service_line(report):
        console.print(public)
    for line in _busiest(report):
        console.print(line)
    if left_out:
        console.print(
            f"Not checked in this run ({vocab.LEFT_OUT}): {', '.join(left_out)}. "
            "Run homecheck without --only for a complete check."
        )


def _to_fix(console: Console, report: Report, ascii_only: bool) -> None:
    """The lines to fix, most urgent first (FAIL, NOT MEASURED, WARN), each with its advice."""
    items = fixes.to_fix(
        f
        for f in report.findings
        if not (
            (judged := report.area(area(f.requirement.metric))) is not None
            and judged.cause is Cause.NOT_SELECTED
        )
    )
    if not items:
        return
    console.print()
    console.print(Text("What to fix first:", style="bold"))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    for number, item in enumerate(items, 1):
        head = ", ".join(item.labels) + ("" if item.required_level else " (recommended)")
        if item.measured and item.measured != "—":
            head += f": measured {item.measured}, needs {item.required}"
        elif len(item.labels) == 1 and item.required:
            head += f": needs {item.required}"  # with its unit, as on the table's line
        grid.add_row(f"{number}.", _badge(item.verdict, ascii_only), head)
        for label, text in (("Why", item.reason), ("What to do", item.advice)):
            if text:
                grid.add_row("", "", f"{label}: {text.rstrip('.')}.")
    console.print(grid)


def _busiest(report: Report) -> list[str]:
    """Name the programs to close when the computer is short of CPU or memory."""
    lines: list[str] = []
    verdicts = {f.requirement.metric: f.verdict for f in report.findings}
    system = next((r for r in report.results if r.probe == "system"), None)
    if system is None:
        return lines
    for metric, key, field, unit, title in (
        (Metric.CPU_HEADROOM_PCT, "top_cpu", "cpu_pct", "%", "Biggest CPU users during the test"),
        (Metric.RAM_AVAILABLE_GB, "top_memory", "rss_gb", "GB", "Biggest memory users"),
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
    names = vocab.AREA_ORDER
    return names.index(name) if name in names else len(names)


def _badge(verdict: Verdict, ascii_only: bool = False) -> Text:
    return Text(vocab.badge(verdict, ascii_only=ascii_only), style=vocab.TERMINAL_STYLES[verdict])


def _row(finding: Finding, ascii_only: bool) -> tuple[str, str, str, Text, str]:
    label = finding.requirement.label
    if finding.requirement.level is Level.RECOMMENDED:
        label += " (recommended)"
    return (
        label,
        vocab.measured_text(finding),
        vocab.required_text(finding),
        _badge(finding.verdict, ascii_only),
        _explain(finding),
    )


def _explain(finding: Finding) -> str:
    if finding.verdict is Verdict.PASS:
        return ""
    return ". ".join(part.rstrip(".") for part in (finding.reason, finding.advice) if part) + "."
