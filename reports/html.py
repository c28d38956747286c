"""The HTML report: one self-contained file a recruiter can open offline and print to PDF.

Inline CSS and inline SVG only: no script, font, image or style sheet is fetched, and a
Content-Security-Policy of `default-src 'none'` makes the browser refuse anything else (so even
an injection that slipped past escaping could neither run nor call home). The template is
`reports/templates/report.html.j2`, rendered by jinja2 with autoescape on: process names, device
names and OS strings come from the measured machine, and a saved report file may have been edited,
so all of it is untrusted text.

Layout: the overall verdict and what to fix; one section per area (Computer, Network, Microphone and
room, then any other area) with its lines, other measured values, charts and details; a footer with
the tool version, the profile and its SHA-256, the times, and exactly what data the report holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import jinja2
from markupsafe import Markup

from homecheck import metrics
from homecheck.metrics import BY_ID
from homecheck.model import JSON, Finding, Level, ProbeResult, Report, Verdict
from reports import charts, figures, fixes, scales
from reports import vocabulary as vocab


@dataclass(frozen=True)
class Row:
    label: str
    recommended: bool
    measured: str
    method: str
    required: str
    verdict: Verdict
    explanation: str


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class Table:
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Area:
    key: str
    anchor: str
    title: str
    verdict: Verdict | None
    status: str
    rows: tuple[Row, ...]
    others: tuple[Fact, ...]
    charts: tuple[Markup, ...]
    chart_titles: tuple[str, ...]
    facts: tuple[Fact, ...]
    tables: tuple[Table, ...]


# Details the system probe reports (probes/system.py); other keys are shown generically.
_TABLES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "top_cpu": (
        "Programs using the most CPU while measuring (names only)",
        (
            ("name", "Program"),
            ("cpu_pct", "CPU (% of the whole machine)"),
            ("processes", "Processes"),
        ),
    ),
    "top_memory": (
        "Programs using the most memory (names only)",
        (("name", "Program"), ("rss_gb", "Memory (GB)"), ("processes", "Processes")),
    ),
}
_TABLES["public_not_used"] = (
    "Public speed tests tried and not used",
    (("service", "Service"), ("reason", "Why not")),
)
_FACT_LABELS = {
    "public_service": "Measured by (public speed test)",
    "devices": "Microphones found",
    "tested_device": "Microphone tested",
    "host_api": "Audio system",
    "tnr_db": "Tone-to-noise ratio (dB)",
    "cpu_model": "CPU model",
    "os_kernel": "Operating-system kernel",
    "architecture": "Architecture",
    "battery_present": "Battery present",
}


def render(report: Report) -> str:
    report = vocab.displayable(report)  # no bidi override reorders a verdict, no NUL reaches it
    areas = [_area(report, key, index) for index, key in enumerate(vocab.areas(report))]
    return _template().render(
        report=report,
        headline=vocab.headline(report.overall),
        summary=vocab.SUMMARIES[report.overall],
        counts=fixes.counts(report.findings),
        to_fix=fixes.to_fix(report.findings),
        areas=areas,
        contents=_contents(report, areas),
        started=vocab.when(report.started_at),
        finished=vocab.when(report.finished_at),
        verdict_words=vocab.VERDICT_WORDS,
        Verdict=Verdict,
    )


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "area"


def _area(report: Report, key: str, index: int) -> Area:
    result = next((r for r in report.results if r.probe == key), None)
    findings = [f for f in report.findings if metrics.area(f.requirement.metric) == key]
    judged = report.area(key)
    requirements = {r.metric: r for r in report.profile.requirements}
    chart_list = figures.charts_for(result.series, requirements) if result else []
    drawable = [c for c in chart_list if charts.has_data(c)]
    anchor = f"area-{index}-{_slug(key)}"
    facts, tables = _details(result.details) if result else ((), ())
    return Area(
        key=key,
        anchor=anchor,
        title=vocab.area_title(key),
        verdict=judged.verdict if judged is not None else None,
        status=_with_public_service(_status(result, findings), report, key),
        rows=tuple(_row(f, explain=_shared_reason(result, findings) is None) for f in findings),
        others=_others(result, {f.requirement.metric for f in findings}) if result else (),
        charts=tuple(charts.svg(c, f"{anchor}-chart-{i}") for i, c in enumerate(drawable)),
        chart_titles=tuple(c.title for c in drawable),
        facts=facts,
        tables=tables,
    )


def _shared_reason(result: ProbeResult | None, findings: Sequence[Finding]) -> str | None:
    """When an area did not run, its lines all say the same thing: say it once, in the status."""
    reasons = {(f.reason, f.advice) for f in findings}
    if result is None and len(reasons) == 1:
        reason, advice = reasons.pop()
        return f"{reason}. {advice}" if advice else reason
    return None


def _status(result: ProbeResult | None, findings: Sequence[Finding]) -> str:
    if result is None:
        shared = _shared_reason(result, findings)
        return f"Not measured: {shared}" if shared else "Not measured in this run."
    if result.reason:
        return f"Could not be measured: {result.reason}"
    seconds = scales.number(result.duration_s)
    took = "?" if seconds is None else f"{seconds:.1f} s"
    if result.partial:
        return f"Cut short after {took}: the values below come from the part that was measured."
    return f"Measured in {took}."


def _with_public_service(status: str, report: Report, key: str) -> str:
    """The network's status line names the public speed test that measured, and why another
    was not used."""
    public = vocab.public_service_line(report) if key == "network" else None
    return f"{status} {public}" if public else status


def _row(finding: Finding, *, explain: bool = True) -> Row:
    explanation = "" if finding.verdict is Verdict.PASS or not explain else finding.reason
    if explain and finding.advice and finding.verdict is not Verdict.PASS:
        explanation = f"{explanation}. {finding.advice}" if explanation else finding.advice
    m = finding.measurement
    return Row(
        label=finding.requirement.label,
        recommended=finding.requirement.level is Level.RECOMMENDED,
        measured=vocab.measured_text(finding),
        method=m.method if m is not None and isinstance(m.method, str) else "",
        required=vocab.required_text(finding),
        verdict=finding.verdict,
        explanation=explanation,
    )


def _others(result: ProbeResult, judged: set[str]) -> tuple[Fact, ...]:
    """Values the probe measured that the profile does not judge, and why others are missing."""
    facts = [
        Fact(_metric_label(m.metric), vocab.value_text(m.value, m.unit))
        for m in result.measurements
        if m.metric not in judged
    ]
    facts += [
        Fact(_metric_label(u.metric), f"not measured: {u.reason}")
        for u in result.unmeasured
        if u.metric not in judged
    ]
    return tuple(facts)


def _metric_label(metric: str) -> str:
    info = BY_ID.get(metric)
    return info.label if info else metric


# Unit suffixes of detail keys (the metric-id convention), shown as "(unit)".
_UNIT_SUFFIXES = {
    "_pct": "%",
    "_ms": "ms",
    "_s": "s",
    "_hz": "Hz",
    "_gb": "GB",
    "_mb": "MB",
    "_mbps": "Mbit/s",
    "_dbfs": "dBFS",
    "_db": "dB",
    "_dbm": "dBm",
}


def _label(key: str) -> str:
    return _FACT_LABELS.get(key, _humanise(key))


def _humanise(key: str) -> str:
    """`sample_rate_hz` -> "Sample rate (Hz)"."""
    text, unit = str(key), ""
    for suffix, name in _UNIT_SUFFIXES.items():
        if text.endswith(suffix) and len(text) > len(suffix):
            text, unit = text.removesuffix(suffix), name
            break
    words = text.replace("_", " ").strip() or "?"
    return words[0].upper() + words[1:] + (f" ({unit})" if unit else "")


def _cell(value: JSON) -> str:
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return vocab.value_text(value, "")


def _details(details: Mapping[str, JSON]) -> tuple[tuple[Fact, ...], tuple[Table, ...]]:
    facts: list[Fact] = []
    tables: list[Table] = []
    if not isinstance(details, Mapping):
        return (), ()
    for key, value in details.items():
        label = _label(key)
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            tables.append(_table(key, value))
        elif isinstance(value, list):
            facts.append(Fact(label, ", ".join(_cell(v) for v in value) if value else "none"))
        elif isinstance(value, Mapping):
            facts += [Fact(f"{label}: {_label(k)}", _cell(v)) for k, v in value.items()]
        else:
            facts.append(Fact(label, _cell(value)))
    return tuple(facts), tuple(tables)


def _table(key: str, rows: Sequence[Mapping[str, JSON]]) -> Table:
    columns: tuple[tuple[str, str], ...]
    if key in _TABLES:
        caption, columns = _TABLES[key]
    else:
        keys = list(dict.fromkeys(k for row in rows for k in row))
        caption, columns = _label(key), tuple((k, _label(k)) for k in keys)
    return Table(
        caption=caption,
        columns=tuple(title for _, title in columns),
        rows=tuple(tuple(_cell(row.get(k)) for k, _ in columns) for row in rows),
    )


def _lower_first(text: str) -> str:
    """'Sound level ...' -> 'sound level ...', but 'CPU model' stays."""
    if len(text) > 1 and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _contents(report: Report, areas: Sequence[Area]) -> list[str]:
    """Exactly what this file holds, generated from the report itself (the privacy statement)."""
    lines = [
        f"The verdicts of {len(report.findings)} lines of the profile “{report.profile.name}”: "
        "each with the measured value, the limit, the reason and the advice.",
    ]
    for area in areas:
        result = next((r for r in report.results if r.probe == area.key), None)
        if result is None:
            continue
        parts = [f"{len(result.measurements)} measured values with their raw samples"]
        if area.chart_titles:
            parts.append("charts: " + "; ".join(_lower_first(t) for t in area.chart_titles))
        if isinstance(result.details, Mapping) and result.details:
            names = [
                _lower_first(_TABLES[k][0] if k in _TABLES else _label(k)) for k in result.details
            ]
            parts.append("details: " + ", ".join(names))
        lines.append(f"{area.title}: " + "; ".join(parts) + ".")
    lines.append(
        "When the run started and finished, the homecheck version, and the profile's name, "
        "description, file name and SHA-256."
    )
    return lines
