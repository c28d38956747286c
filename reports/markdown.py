"""A short Markdown summary to paste into an e-mail or an applicant tracking system.

The verdict, what to fix (with the advice), a compact table of every line, and the facts that
identify the run (tool version, profile and its SHA-256, time). It reads as plain text too.
Text from the machine or from a saved report (OS names, profile labels) is escaped so it cannot
turn into links, HTML or table columns wherever the Markdown is rendered.
"""

from __future__ import annotations

import re

from homecheck.metrics import area
from homecheck.model import Level, Report
from reports import fixes
from reports import vocabulary as vocab

# CommonMark lets a backslash escape any ASCII punctuation; these are the ones that change meaning
# inside a line or a table cell (emphasis, code, links, raw HTML, table columns, strike-through).
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")


def md(text: object) -> str:
    flat = " ".join(str(text).split())
    return _SPECIAL.sub(r"\\\1", flat)


def render(report: Report) -> str:
    report = vocab.displayable(report)  # control characters shown escaped, never passed on
    icon = vocab.VERDICT_ICONS[report.overall]
    out = [
        f"## homecheck: {icon} {vocab.headline(report.overall)}",
        "",
        md(vocab.SUMMARIES[report.overall]),
    ]
    if report.interrupted:
        out += ["", "*The run was stopped before the end: this report is partial.*"]
    tally = ", ".join(
        f"{n} {vocab.VERDICT_WORDS[verdict]}" for verdict, n in fixes.counts(report.findings)
    )
    if tally:
        out += ["", f"Lines: {tally}."]
    if report.areas:
        by_area = " · ".join(
            f"{md(vocab.area_title(a.area))}: {md(vocab.area_badge(a))}" for a in report.areas
        )
        out += ["", f"Areas: {by_area}."]
    if public := vocab.public_service_line(report):
        out += ["", md(public)]

    to_fix = fixes.to_fix(report.findings)
    if to_fix:
        out += ["", "### What to fix", ""]
        for item in to_fix:
            head = f"- {vocab.VERDICT_ICONS[item.verdict]} **{vocab.VERDICT_WORDS[item.verdict]}** "
            head += md(", ".join(item.labels))
            if not item.required_level:
                head += " (recommended)"
            if item.measured and item.measured != "—":
                head += f": measured {md(item.measured)}, needs {md(item.required)}"
            out.append(head + ".")
            if item.reason:
                out.append(f"  Why: {md(item.reason)}.")
            if item.advice:
                out.append(f"  What to do: {md(item.advice)}")

    out += ["", "| Area | Requirement | Measured | Required | Verdict |", "|---|---|---|---|---|"]
    for finding in report.findings:
        title = vocab.area_title(area(finding.requirement.metric))
        verdict = vocab.badge(finding.verdict)
        cells = (
            title,
            finding.requirement.label,
            vocab.measured_text(finding),
            vocab.required_text(finding)
            + (" (recommended)" if finding.requirement.level is Level.RECOMMENDED else ""),
        )
        out.append("| " + " | ".join(md(c) for c in cells) + f" | {verdict} |")

    profile = report.profile
    out += [
        "",
        f"homecheck {md(report.tool_version)} · profile {md(profile.name)} "
        f"(SHA-256 {md(profile.sha256)}) · {md(vocab.when(report.finished_at))}",
        "",
    ]
    return "\n".join(out)
