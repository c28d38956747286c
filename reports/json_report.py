"""The JSON report: versioned, for machines. `reports/report.schema.json` describes it.

`to_dict` / `from_dict` round-trip a `Report`, so a saved report can be rendered again
(`homecheck report FILE --html ...`). Bump SCHEMA_VERSION on any change a reader would notice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from importlib import resources
from typing import Any

from homecheck.model import (
    JSON,
    Finding,
    Level,
    Measurement,
    ProbeResult,
    Profile,
    Report,
    Requirement,
    Series,
    Unmeasured,
    Verdict,
)

SCHEMA_VERSION = 1

SUMMARIES = {
    Verdict.PASS: "Ready: this setup meets every requirement.",
    Verdict.WARN: "Ready, with warnings: it meets the requirements, but fix the lines marked WARN "
    "to avoid problems on calls.",
    Verdict.FAIL: "Not ready yet: fix the lines marked FAIL, then run homecheck again.",
    Verdict.NOT_MEASURED: "Incomplete: some required lines could not be measured. Fix the reason "
    "shown on each NOT MEASURED line and run homecheck again.",
}


def schema() -> dict[str, Any]:
    text = (resources.files("reports") / "report.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def render(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def to_dict(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "homecheck", "version": report.tool_version},
        "profile": {
            "name": report.profile.name,
            "description": report.profile.description,
            "sha256": report.profile.sha256,
            "source": report.profile.source,
            "requirements": [_requirement(r) for r in report.profile.requirements],
        },
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "interrupted": report.interrupted,
        "overall": {"verdict": report.overall.value, "summary": SUMMARIES[report.overall]},
        "findings": [_finding(f) for f in report.findings],
        "probes": [_result(r) for r in report.results],
    }


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _requirement(req: Requirement) -> dict[str, Any]:
    return {
        "metric": req.metric,
        "label": req.label,
        "level": req.level.value,
        "min": req.min,
        "max": req.max,
        "warn_min": req.warn_min,
        "warn_max": req.warn_max,
        "allowed": list(req.allowed),
        "advice": req.advice,
    }


def _finding(finding: Finding) -> dict[str, Any]:
    m = finding.measurement
    unit = m.unit if m else ""
    return {
        "metric": finding.requirement.metric,
        "label": finding.requirement.label,
        "level": finding.requirement.level.value,
        "verdict": finding.verdict.value,
        "measured": None if m is None else _value(m.value),
        "unit": unit,
        "required": finding.requirement.describe(unit),
        "reason": finding.reason,
        "advice": finding.advice,
    }


def _value(value: float | bool | str) -> float | bool | str | None:
    if isinstance(value, float):
        return _number(value)
    return value


def _measurement(m: Measurement) -> dict[str, Any]:
    return {
        "metric": m.metric,
        "value": _value(m.value),
        "unit": m.unit,
        "samples": [_number(s) for s in m.samples],
        "method": m.method,
    }


def _result(result: ProbeResult) -> dict[str, Any]:
    return {
        "name": result.probe,
        "duration_s": result.duration_s,
        "partial": result.partial,
        "reason": result.reason,
        "measurements": [_measurement(m) for m in result.measurements],
        "unmeasured": [{"metric": u.metric, "reason": u.reason} for u in result.unmeasured],
        "series": [
            {
                "name": s.name,
                "unit": s.unit,
                "x_unit": s.x_unit,
                "points": [[t, _number(v)] for t, v in s.points],
                "phases": [[name, start, end] for name, start, end in s.phases],
            }
            for s in result.series
        ],
        "details": result.details,
    }


def loads(text: str) -> Report:
    """Parse a saved report. Raises ValueError (one line) if it is not a homecheck report."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    return from_dict(data)


def from_dict(data: Mapping[str, Any]) -> Report:
    if not isinstance(data, Mapping) or data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"not a homecheck report with schema_version {SCHEMA_VERSION}")
    try:
        requirements = tuple(
            Requirement(
                metric=r["metric"],
                label=r["label"],
                advice=r["advice"],
                level=Level(r["level"]),
                min=r["min"],
                max=r["max"],
                warn_min=r["warn_min"],
                warn_max=r["warn_max"],
                allowed=tuple(r["allowed"]),
            )
            for r in data["profile"]["requirements"]
        )
        by_metric = {r.metric: r for r in requirements}
        profile = Profile(
            name=data["profile"]["name"],
            description=data["profile"]["description"],
            requirements=requirements,
            sha256=data["profile"]["sha256"],
            source=data["profile"]["source"],
        )
        results = tuple(_load_result(r) for r in data["probes"])
        measurements = {m.metric: m for r in results for m in r.measurements}
        findings = tuple(
            Finding(
                requirement=by_metric[f["metric"]],
                verdict=Verdict(f["verdict"]),
                measurement=measurements.get(f["metric"]),
                reason=f["reason"],
                advice=f["advice"],
            )
            for f in data["findings"]
        )
        return Report(
            tool_version=data["tool"]["version"],
            profile=profile,
            started_at=data["started_at"],
            finished_at=data["finished_at"],
            results=results,
            findings=findings,
            overall=Verdict(data["overall"]["verdict"]),
            interrupted=bool(data["interrupted"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a homecheck report, but damaged ({type(exc).__name__}: {exc})") from None


def _load_result(r: Mapping[str, Any]) -> ProbeResult:
    details: dict[str, JSON] = dict(r["details"])
    return ProbeResult(
        probe=r["name"],
        measurements=tuple(
            Measurement(
                metric=m["metric"],
                value=m["value"],
                unit=m["unit"],
                samples=tuple(m["samples"]),
                method=m["method"],
            )
            for m in r["measurements"]
        ),
        unmeasured=tuple(Unmeasured(u["metric"], u["reason"]) for u in r["unmeasured"]),
        series=tuple(
            Series(
                name=s["name"],
                unit=s["unit"],
                points=tuple((p[0], p[1]) for p in s["points"]),
                phases=tuple((p[0], p[1], p[2]) for p in s["phases"]),
                x_unit=s["x_unit"],
            )
            for s in r["series"]
        ),
        details=details,
        reason=r["reason"],
        duration_s=r["duration_s"],
        partial=r["partial"],
    )
