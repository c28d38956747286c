"""The words every report uses, in one place: verdict words, icons and terminal colours, headlines
and summaries of the overall verdict, area titles and their order, and values written for people.

Renderers take their words from here and their decisions from the `Report` (the aggregator's
verdicts and causes); none of them imports another renderer or the aggregator. A verdict is always
written as a word (with an icon), never shown by colour alone.
"""

from __future__ import annotations

from datetime import datetime

from homecheck.metrics import AREAS, BY_ID, area
from homecheck.model import AreaResult, Cause, Finding, Report, Verdict
from reports import scales

VERDICT_WORDS = {
    Verdict.PASS: "PASS",
    Verdict.WARN: "WARN",
    Verdict.FAIL: "FAIL",
    Verdict.NOT_MEASURED: "NOT MEASURED",
}
# Plain-text icons for the terminal, Markdown and e-mail; the HTML draws its own SVG icons.
VERDICT_ICONS = {
    Verdict.PASS: "✔",
    Verdict.WARN: "!",
    Verdict.FAIL: "✘",
    Verdict.NOT_MEASURED: "?",
}
# rich styles for the terminal; the colour only repeats the word.
TERMINAL_STYLES = {
    Verdict.PASS: "green",
    Verdict.WARN: "yellow",
    Verdict.FAIL: "bold red",
    Verdict.NOT_MEASURED: "magenta",
}
HEADLINES = {
    Verdict.PASS: "READY",
    Verdict.WARN: "READY, WITH WARNINGS",
    Verdict.FAIL: "NOT READY",
    Verdict.NOT_MEASURED: "INCOMPLETE",
}
SUMMARIES = {
    Verdict.PASS: "Ready: this setup meets every requirement.",
    Verdict.WARN: "Ready, with warnings: it meets the requirements, but fix the lines marked WARN "
    "to avoid problems on calls.",
    Verdict.FAIL: "Not ready yet: fix the lines marked FAIL, then run homecheck again.",
    Verdict.NOT_MEASURED: "Incomplete: some required lines could not be measured. Fix the reason "
    "shown on each NOT MEASURED line and run homecheck again.",
}
LEFT_OUT = "left out with --only"
# The areas' titles and their usual order come from the metric catalogue; an area not listed there
# is titled from its name.
AREA_ORDER = tuple(AREAS)


def badge(verdict: Verdict) -> str:
    """The verdict as icon and word: "✔ PASS", "? NOT MEASURED"."""
    return f"{VERDICT_ICONS[verdict]} {VERDICT_WORDS[verdict]}"


def headline(verdict: Verdict) -> str:
    return HEADLINES[verdict]


def area_title(name: str) -> str:
    if name in AREAS:
        return AREAS[name]
    words = name.replace("_", " ").strip() or "other"
    return words[0].upper() + words[1:]


def area_badge(result: AreaResult) -> str:
    """An area's verdict as icon and word, saying when the area was left out with --only."""
    text = badge(result.verdict)
    return f"{text} ({LEFT_OUT})" if result.cause is Cause.NOT_SELECTED else text


def areas(report: Report) -> list[str]:
    """Every area the report mentions: the known ones in their usual order, then the others."""
    seen = [r.probe for r in report.results] + [a.area for a in report.areas]
    seen += [area(f.requirement.metric) for f in report.findings]
    known = [a for a in AREA_ORDER if a in seen]
    others = list(dict.fromkeys(a for a in seen if a not in AREA_ORDER))
    return known + others


def value_text(value: object, unit: str) -> str:
    """A measured value for people: 3 significant digits, whole numbers without a decimal point
    ("16 GB", not "16.0 GB"), yes/no for flags, the unit after it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        number = scales.number(value)
        if number is None:
            return "—"
        if abs(number) >= 100 or number == int(number):
            text = f"{number:.0f}"
        elif abs(number) >= 10:
            text = f"{number:.1f}"
        else:
            text = f"{number:.3g}"
        return f"{text} {unit}".strip()
    return str(value)


def measured_text(finding: Finding) -> str:
    m = finding.measurement
    return "—" if m is None else value_text(m.value, m.unit)


def required_text(finding: Finding) -> str:
    """The limit in words, with the measurement's unit or, when not measured, the catalogue's."""
    metric = finding.requirement.metric
    info = BY_ID.get(metric)
    unit = finding.measurement.unit if finding.measurement else info.unit if info else ""
    return finding.requirement.describe(unit)


def when(iso: str) -> str:
    """'2024-05-02 14:03:11 UTC' from an ISO 8601 time; anything else is shown as it is."""
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    zone = moment.tzname() or ""
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (f" {zone}" if zone else "")
