"""Apply a profile to measurements: a pure function, no I/O. The aggregator decides every verdict
and why (`Cause`); renderers only present them.

Per requirement (verdict, cause):
- a measurement -> compared with the limits, cause MEASURED:
  - a number outside `min`/`max`, or a flag/category not in `allowed` -> FAIL;
  - a number past `warn_min`/`warn_max` -> WARN;
  - otherwise PASS;
  - a `recommended` requirement never fails: its FAIL becomes WARN;
- no measurement -> NOT_MEASURED, with the first reason that applies:
  - the probe listed it as `Unmeasured` -> its reason and cause (PROBE_FAILED, STOPPED,
    NEEDS_LONGER_RUN);
  - the probe could not measure at all (`ProbeResult.reason`) -> that reason and cause;
  - the probe ran but did not report it -> NOT_REPORTED (a bug in the probe);
  - no probe of that area ran -> NOT_SELECTED (left out with --only).

Findings -> verdict (`overall`), for the whole profile and for each area's lines alike:
FAIL if a required line fails; otherwise NOT_MEASURED ("incomplete") if a required line could not
be measured; otherwise WARN if any line warns (a recommended line that fails has become WARN);
otherwise PASS. A recommended line that could not be measured does not change the verdict.

Per area (`area_results`): the same rule over that area's lines, with one addition: an area whose
lines are all NOT_SELECTED is NOT_MEASURED with cause NOT_SELECTED (renderers say "left out").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from homecheck.metrics import AREAS, BY_ID, area
from homecheck.model import (
    AreaResult,
    Cause,
    Finding,
    Level,
    Measurement,
    ProbeResult,
    Profile,
    Requirement,
    Verdict,
)

NOT_SELECTED = "not checked in this run (the area was left out with --only)"
NOT_SELECTED_ADVICE = "Run homecheck without --only to check it."
NOT_REPORTED = "this probe ran but did not report this value"


@dataclass(frozen=True)
class Judgement:
    """Everything the aggregator decides about one run; a `Report` carries all three."""

    findings: tuple[Finding, ...]
    areas: tuple[AreaResult, ...]
    overall: Verdict


def judge(profile: Profile, results: Sequence[ProbeResult]) -> Judgement:
    findings = tuple(_finding(req, results) for req in profile.requirements)
    return Judgement(findings, area_results(findings), overall(findings))


def area_results(findings: Iterable[Finding]) -> tuple[AreaResult, ...]:
    """One verdict per area that has lines, known areas in catalogue order, then the others."""
    by_area: dict[str, list[Finding]] = {}
    for finding in findings:
        by_area.setdefault(area(finding.requirement.metric), []).append(finding)
    order = [a for a in AREAS if a in by_area] + [a for a in by_area if a not in AREAS]
    return tuple(_area_result(name, by_area[name]) for name in order)


def _area_result(name: str, findings: Sequence[Finding]) -> AreaResult:
    if all(f.cause is Cause.NOT_SELECTED for f in findings):
        return AreaResult(name, Verdict.NOT_MEASURED, Cause.NOT_SELECTED)
    verdict = overall(findings)
    if verdict is Verdict.NOT_MEASURED:
        first = next(
            f
            for f in findings
            if f.verdict is Verdict.NOT_MEASURED and f.requirement.level is Level.REQUIRED
        )
        return AreaResult(name, verdict, first.cause)
    return AreaResult(name, verdict, Cause.MEASURED)


def overall(findings: Iterable[Finding]) -> Verdict:
    findings = list(findings)
    required = [f.verdict for f in findings if f.requirement.level is Level.REQUIRED]
    every = [f.verdict for f in findings]
    if Verdict.FAIL in required:
        return Verdict.FAIL
    if Verdict.NOT_MEASURED in required:
        return Verdict.NOT_MEASURED
    if Verdict.WARN in every or Verdict.FAIL in every:
        return Verdict.WARN
    return Verdict.PASS


def _finding(req: Requirement, results: Sequence[ProbeResult]) -> Finding:
    measurement = _find(req.metric, results)
    if measurement is None:
        reason, cause = _missing(req.metric, results)
        advice = NOT_SELECTED_ADVICE if cause is Cause.NOT_SELECTED else ""
        return Finding(req, Verdict.NOT_MEASURED, cause, None, reason, advice)
    verdict, reason = _compare(req, measurement)
    if verdict is Verdict.FAIL and req.level is Level.RECOMMENDED:
        verdict = Verdict.WARN
    advice = "" if verdict is Verdict.PASS else req.advice
    return Finding(req, verdict, Cause.MEASURED, measurement, reason, advice)


def _find(metric: str, results: Sequence[ProbeResult]) -> Measurement | None:
    for result in results:
        found = result.measurement(metric)
        if found is not None:
            return found
    return None


def _missing(metric: str, results: Sequence[ProbeResult]) -> tuple[str, Cause]:
    for result in results:
        for unmeasured in result.unmeasured:
            if unmeasured.metric == metric:
                return unmeasured.reason, unmeasured.cause
    for result in results:
        if result.probe == area(metric):
            if result.reason:
                return result.reason, result.cause
            return NOT_REPORTED, Cause.NOT_REPORTED
    return NOT_SELECTED, Cause.NOT_SELECTED


def _compare(req: Requirement, m: Measurement) -> tuple[Verdict, str]:
    unit = f" {m.unit}" if m.unit else ""
    value = m.value
    if req.allowed:
        if value in req.allowed and type(value) in {type(a) for a in req.allowed}:
            return Verdict.PASS, "as required"
        return Verdict.FAIL, f"is {_show(value)}, needs {req.describe(m.unit)}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = BY_ID[req.metric].kind.value if req.metric in BY_ID else "value"
        return Verdict.FAIL, f"measured a {kind} ({value!r}) where a number was required"
    if req.min is not None and value < req.min:
        return Verdict.FAIL, f"{req.min - value:.3g}{unit} below the minimum of {req.min:g}{unit}"
    if req.max is not None and value > req.max:
        return Verdict.FAIL, f"{value - req.max:.3g}{unit} above the maximum of {req.max:g}{unit}"
    if req.warn_min is not None and value < req.warn_min:
        return Verdict.WARN, f"enough, but below the recommended {req.warn_min:g}{unit}"
    if req.warn_max is not None and value > req.warn_max:
        return Verdict.WARN, f"acceptable, but above the recommended {req.warn_max:g}{unit}"
    return Verdict.PASS, "within limits"


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
