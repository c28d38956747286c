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
    except RecursionError:
        raise ValueError("not a homecheck report (nested too deeply)") from None
    return from_dict(data)


def from_dict(data: Mapping[str, Any]) -> Report:
    """A `Report` from parsed JSON, with every field type-checked (the file may have been edited).
    Raises ValueError (one line) if it is not a usable homecheck report. JSON null where a number
    belongs is read back as NaN, which is what `to_dict` wrote as null."""
    if not isinstance(data, Mapping) or data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"not a homecheck report with schema_version {SCHEMA_VERSION}")
    try:
        profile_data = _obj(data, "profile")
        requirements = tuple(
            Requirement(
                metric=_text(r, "metric"),
                label=_text(r, "label"),
                advice=_text(r, "advice"),
                level=Level(r["level"]),
                min=_limit(r, "min"),
                max=_limit(r, "max"),
                warn_min=_limit(r, "warn_min"),
                warn_max=_limit(r, "warn_max"),
                allowed=tuple(_allowed(v) for v in _list(r, "allowed")),
            )
            for r in _objs(profile_data, "requirements")
        )
        by_metric = {r.metric: r for r in requirements}
        profile = Profile(
            name=_text(profile_data, "name"),
            description=_text(profile_data, "description"),
            requirements=requirements,
            sha256=_text(profile_data, "sha256"),
            source=_text(profile_data, "source"),
        )
        results = tuple(_load_result(r) for r in _objs(data, "probes"))
        measurements = {m.metric: m for r in results for m in r.measurements}
        findings = tuple(
            Finding(
                requirement=by_metric[_text(f, "metric")],
                verdict=Verdict(f["verdict"]),
                measurement=measurements.get(f["metric"]),
                reason=_text(f, "reason"),
                advice=_text(f, "advice"),
            )
            for f in _objs(data, "findings")
        )
        return Report(
            tool_version=_text(_obj(data, "tool"), "version"),
            profile=profile,
            started_at=_text(data, "started_at"),
            finished_at=_text(data, "finished_at"),
            results=results,
            findings=findings,
            overall=Verdict(_obj(data, "overall")["verdict"]),
            interrupted=_flag(data, "interrupted"),
        )
    except (LookupError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"a homecheck report, but damaged ({type(exc).__name__}: {exc})") from None


def _load_result(r: Mapping[str, Any]) -> ProbeResult:
    details: dict[str, JSON] = dict(_obj(r, "details"))
    reason = r["reason"]
    if reason is not None and not isinstance(reason, str):
        raise TypeError(f"reason must be text or null, not {reason!r}")
    return ProbeResult(
        probe=_text(r, "name"),
        measurements=tuple(
            Measurement(
                metric=_text(m, "metric"),
                value=_measured(m["value"]),
                unit=_text(m, "unit"),
                samples=tuple(_float(v, "samples", null=True) for v in _list(m, "samples")),
                method=_text(m, "method"),
            )
            for m in _objs(r, "measurements")
        ),
        unmeasured=tuple(
            Unmeasured(_text(u, "metric"), _text(u, "reason")) for u in _objs(r, "unmeasured")
        ),
        series=tuple(
            Series(
                name=_text(s, "name"),
                unit=_text(s, "unit"),
                points=tuple(_point(p) for p in _list(s, "points")),
                phases=tuple(_phase(p) for p in _list(s, "phases")),
                x_unit=_text(s, "x_unit"),
            )
            for s in _objs(r, "series")
        ),
        details=details,
        reason=reason,
        duration_s=_float(r["duration_s"], "duration_s"),
        partial=_flag(r, "partial"),
    )


def _obj(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data[key]
    if not isinstance(value, Mapping):
        raise TypeError(f"{key} must be an object")
    return value


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data[key]
    if not isinstance(value, list):
        raise TypeError(f"{key} must be a list")
    return value


def _objs(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = _list(data, key)
    if not all(isinstance(item, Mapping) for item in items):
        raise TypeError(f"{key} must be a list of objects")
    return items


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} must be text, not {value!r:.40}")
    return value


def _flag(data: Mapping[str, Any], key: str) -> bool:
    value = data[key]
    if not isinstance(value, bool):
        raise TypeError(f"{key} must be true or false")
    return value


def _float(value: Any, what: str, *, null: bool = False) -> float:
    if value is None and null:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number, not {value!r:.40}")
    return float(value)  # an int past 1e308 raises OverflowError, caught in from_dict


def _limit(data: Mapping[str, Any], key: str) -> float | None:
    return None if data[key] is None else _float(data[key], key)


def _allowed(value: Any) -> bool | str:
    if not isinstance(value, bool | str):
        raise TypeError(f"allowed values must be true/false or text, not {value!r:.40}")
    return value


def _measured(value: Any) -> float | bool | str:
    if isinstance(value, bool | str):
        return value
    return _float(value, "value", null=True)


def _point(point: Any) -> tuple[float, float]:
    if not isinstance(point, list) or len(point) != 2:
        raise TypeError("a series point must be [x, value]")
    return _float(point[0], "x"), _float(point[1], "value", null=True)


def _phase(phase: Any) -> tuple[str, float, float]:
    if not isinstance(phase, list) or len(phase) != 3 or not isinstance(phase[0], str):
        raise TypeError("a phase must be [name, start, end]")
    return phase[0], _float(phase[1], "start"), _float(phase[2], "end")
