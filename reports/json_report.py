"""The JSON report: versioned, for machines. `reports/report.schema.json` describes it.

`to_dict` / `from_dict` round-trip a `Report`, so a saved report can be rendered again
(`homecheck report FILE --html ...`). Bump SCHEMA_VERSION on any change a reader would notice.

Version 2 added each finding's `cause`, the per-area verdicts (`areas`), and the cause of each
probe's reason and unmeasured metric. A version 1 report is still read: only there, when loading,
the aggregator fills in what version 1 did not record (the saved verdicts are kept as they are).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from importlib import resources
from typing import Any, NoReturn

from homecheck import aggregator
from homecheck.model import (
    JSON,
    AreaResult,
    Cause,
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
from reports.vocabulary import SUMMARIES, area_title

SCHEMA_VERSION = 2
# Versions `from_dict` reads; version 1 lacks the causes and the area verdicts.
READABLE_VERSIONS = (1, 2)


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
        "areas": [
            {
                "area": a.area,
                "title": area_title(a.area),
                "verdict": a.verdict.value,
                "cause": a.cause.value,
            }
            for a in report.areas
        ],
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
        "cause": finding.cause.value,
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
        "cause": result.cause.value,
        "measurements": [_measurement(m) for m in result.measurements],
        "unmeasured": [
            {"metric": u.metric, "reason": u.reason, "cause": u.cause.value}
            for u in result.unmeasured
        ],
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
        # NaN and Infinity are not JSON numbers; no homecheck report holds them (it is written with
        # allow_nan=False), and a renderer could not show an infinite limit.
        data = json.loads(text, parse_constant=_not_a_json_number)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    except RecursionError:
        raise ValueError("not a homecheck report (nested too deeply)") from None
    return from_dict(data)


def _not_a_json_number(token: str) -> NoReturn:
    raise ValueError(f"a homecheck report, but damaged ({token} is not a JSON number)")


def from_dict(data: Mapping[str, Any]) -> Report:
    """A `Report` from parsed JSON, with every field type-checked (the file may have been edited).
    Raises ValueError (one line) if it is not a usable homecheck report. JSON null where a number
    belongs is read back as NaN, which is what `to_dict` wrote as null."""
    version = data.get("schema_version") if isinstance(data, Mapping) else None
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        readable = " or ".join(str(v) for v in READABLE_VERSIONS)
        raise ValueError(f"not a homecheck report with schema_version {readable}")
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
        results = tuple(_load_result(r, version) for r in _objs(data, "probes"))
        measurements = {m.metric: m for r in results for m in r.measurements}
        # Version 1 recorded no causes: the aggregator derives them from the saved measurements.
        derived = (
            {f.requirement.metric: f.cause for f in aggregator.judge(profile, results).findings}
            if version == 1
            else None
        )
        findings = tuple(
            Finding(
                requirement=by_metric[_text(f, "metric")],
                verdict=Verdict(f["verdict"]),
                cause=Cause(f["cause"]) if derived is None else derived[f["metric"]],
                measurement=measurements.get(f["metric"]),
                reason=_text(f, "reason"),
                advice=_text(f, "advice"),
            )
            for f in _objs(data, "findings")
        )
        areas = (
            tuple(
                AreaResult(_text(a, "area"), Verdict(a["verdict"]), Cause(a["cause"]))
                for a in _objs(data, "areas")
            )
            if derived is None
            else aggregator.area_results(findings)
        )
        return Report(
            tool_version=_text(_obj(data, "tool"), "version"),
            profile=profile,
            started_at=_text(data, "started_at"),
            finished_at=_text(data, "finished_at"),
            results=results,
            findings=findings,
            areas=areas,
            overall=Verdict(_obj(data, "overall")["verdict"]),
            interrupted=_flag(data, "interrupted"),
        )
    except (LookupError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"a homecheck report, but damaged ({type(exc).__name__}: {exc})") from None


def _load_result(r: Mapping[str, Any], version: int) -> ProbeResult:
    """One probe's result; a version 1 report has no causes, so they keep their defaults."""
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
            Unmeasured(_text(u, "metric"), _text(u, "reason"))
            if version == 1
            else Unmeasured(_text(u, "metric"), _text(u, "reason"), Cause(u["cause"]))
            for u in _objs(r, "unmeasured")
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
        cause=Cause.PROBE_FAILED if version == 1 else Cause(r["cause"]),
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
