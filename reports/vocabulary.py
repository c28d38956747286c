"""The words every report uses, in one place: verdict words, icons and terminal colours, headlines
and summaries of the overall verdict, area titles and their order, and values written for people.

Renderers take their words from here and their decisions from the `Report` (the aggregator's
verdicts and causes); none of them imports another renderer or the aggregator. A verdict is always
written as a word (with an icon), never shown by colour alone.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import TypeVar

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
# The same in ASCII, for a terminal whose code page has no ✔/✘ (cp1252, cp437): the word stays.
ASCII_ICONS = {
    Verdict.PASS: "+",
    Verdict.WARN: "!",
    Verdict.FAIL: "x",
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


# Text that could steer a terminal or reorder what a reader sees: C0 and C1 control characters
# (ESC starts ANSI sequences, CR overwrites a line, BEL, NUL), DEL, and the Unicode bidirectional
# controls (U+202E makes "SSAP" read "PASS": the "Trojan Source" attack, CVE-2021-42574).
_STEERING = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Line breaks and tabs are harmless layout: a table cell or a sentence shows them as a space.
_LAYOUT = re.compile("[\t\n\u2028\u2029]")

T = TypeVar("T")


def clean(text: str) -> str:
    """Untrusted text (process, device and OS names, profile text, anything in a saved report)
    made safe to show: layout characters become a space, steering characters their escape
    (`\\x1b`, `\\u202e`), so a reader sees them and no terminal obeys them."""
    text = _LAYOUT.sub(" ", text)
    return _STEERING.sub(lambda m: ascii(m.group())[1:-1], text)


def displayable(report: T) -> T:
    """A copy of a report (or any part of one) with every text cleaned (see `clean`): the one
    place every renderer but JSON passes its report through, so no renderer can forget a field.
    Enum members (verdicts, causes, metric ids) are closed sets and stay as they are."""
    return _cleaned(report)  # type: ignore[return-value]


def _cleaned(value: object) -> object:
    if isinstance(value, Enum):
        return value
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, tuple):
        return tuple(_cleaned(v) for v in value)
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    if isinstance(value, Mapping):
        return {_cleaned(k): _cleaned(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _cleaned(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init
        }
        return dataclasses.replace(value, **changes)
    return value


def badge(verdict: Verdict, *, ascii_only: bool = False) -> str:
    """The verdict as icon and word: "✔ PASS", "? NOT MEASURED" ("+ PASS" in ASCII)."""
    icons = ASCII_ICONS if ascii_only else VERDICT_ICONS
    return f"{icons[verdict]} {VERDICT_WORDS[verdict]}"


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


def public_service_line(report: Report) -> str | None:
    """Which public speed test measured the network, and why others were not used (network
    details `public_service`, `public_not_used`: probes/network/public/choose.py); None when
    the network was not measured against a public service."""
    result = next((r for r in report.results if r.probe == "network"), None)
    details = result.details if result is not None else None
    if not isinstance(details, Mapping):
        return None
    service = details.get("public_service")
    entries = details.get("public_not_used")
    skipped = [
        (str(entry.get("service", "?")), str(entry.get("reason", "?")).rstrip("."))
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, Mapping)
    ]
    why_not = "; ".join(f"{name} was not used: {reason}" for name, reason in skipped)
    stopped = details.get("stopped_because")
    if isinstance(service, str) and service:
        cut = f", cut short: {str(stopped).rstrip('.')}" if stopped else ""
        return f"Network measured by {service}{cut}" + (f" ({why_not})." if why_not else ".")
    if skipped:
        return f"No public speed test measured the network ({why_not})."
    return None
