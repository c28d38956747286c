"""Words shared by the HTML and Markdown reports: verdict names, area titles, values with units,
and the "what to fix" list.

Verdicts are always written as words (with an icon in HTML), never shown by colour alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from homecheck.metrics import AREAS, BY_ID, area
from homecheck.model import Finding, Level, Report, Verdict
from reports import scales
from reports.terminal import HEADLINES

VERDICT_WORDS = {
    Verdict.PASS: "PASS",
    Verdict.WARN: "WARN",
    Verdict.FAIL: "FAIL",
    Verdict.NOT_MEASURED: "NOT MEASURED",
}
# Plain-text icons for Markdown and e-mail; the HTML draws its own SVG icons.
VERDICT_ICONS = {
    Verdict.PASS: "✔",
    Verdict.WARN: "!",
    Verdict.FAIL: "✘",
    Verdict.NOT_MEASURED: "?",
}
# The areas' titles and their usual order come from the metric catalogue (as in the terminal
# table); an area not listed there is titled from its name.
AREA_ORDER = tuple(AREAS)
# The order of the "what to fix" list: the lines that make a setup not ready come first.
_URGENCY = {Verdict.FAIL: 0, Verdict.NOT_MEASURED: 1, Verdict.WARN: 2, Verdict.PASS: 3}


def headline(verdict: Verdict) -> str:
    return HEADLINES[verdict]


def area_of(metric: str) -> str:
    return area(metric)


def area_title(name: str) -> str:
    if name in AREAS:
        return AREAS[name]
    words = name.replace("_", " ").strip() or "other"
    return words[0].upper() + words[1:]


def areas(report: Report) -> list[str]:
    """Every area the report mentions: the known ones in their usual order, then the others."""
    seen = [r.probe for r in report.results] + [
        area_of(f.requirement.metric) for f in report.findings
    ]
    known = [a for a in AREA_ORDER if a in seen]
    others = list(dict.fromkeys(a for a in seen if a not in AREA_ORDER))
    return known + others


def value_text(value: object, unit: str) -> str:
    """A measured value for people: 3 significant digits, yes/no for flags, the unit after it."""
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


@dataclass(frozen=True)
class FixItem:
    """One entry of "what to fix": several not-measured lines with the same reason share one."""

    verdict: Verdict
    labels: tuple[str, ...]
    measured: str
    required: str
    reason: str
    advice: str
    required_level: bool


def to_fix(findings: Iterable[Finding]) -> list[FixItem]:
    items: list[FixItem] = []
    grouped: dict[tuple[str, str], int] = {}
    for finding in sorted(findings, key=lambda f: _URGENCY[f.verdict]):
        if finding.verdict is Verdict.PASS:
            continue
        required_level = finding.requirement.level is Level.REQUIRED
        label = finding.requirement.label
        if finding.verdict is Verdict.NOT_MEASURED:
            key = (finding.reason, finding.advice)
            if key in grouped:
                old = items[grouped[key]]
                items[grouped[key]] = FixItem(
                    old.verdict,
                    (*old.labels, label),
                    old.measured,
                    old.required,
                    old.reason,
                    old.advice,
                    old.required_level or required_level,
                )
                continue
            grouped[key] = len(items)
        items.append(
            FixItem(
                verdict=finding.verdict,
                labels=(label,),
                measured=measured_text(finding),
                required=required_text(finding),
                reason=finding.reason,
                advice=finding.advice,
                required_level=required_level,
            )
        )
    return items


def counts(findings: Iterable[Finding]) -> list[tuple[Verdict, int]]:
    tally = dict.fromkeys(Verdict, 0)
    for finding in findings:
        tally[finding.verdict] += 1
    return [(verdict, tally[verdict]) for verdict in Verdict if tally[verdict]]
