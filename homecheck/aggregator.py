"""Apply a profile to measurements: a pure function, no I/O.

Per requirement:
- no measurement -> NOT_MEASURED, with the probe's reason;
- a number outside `min`/`max`, or a flag/category not in `allowed` -> FAIL;
- a number past `warn_min`/`warn_max` -> WARN;
- otherwise PASS.
A `recommended` requirement never fails: its FAIL becomes WARN.

Overall: FAIL if any required line fails; otherwise NOT_MEASURED ("incomplete") if any required line
could not be measured; otherwise WARN if any line warns; otherwise PASS.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from homecheck.metrics import BY_ID, area
from homecheck.model import Finding, Level, Measurement, ProbeResult, Profile, Requirement, Verdict

NOT_SELECTED = "not checked in this run (the area was left out with --only)"
NOT_SELECTED_ADVICE = "Run homecheck without --only to check it."


def judge(profile: Profile, results: Sequence[ProbeResult]) -> tuple[tuple[Finding, ...], Verdict]:
    findings = tuple(_finding(req, results) for req in profile.requirements)
    return findings, overall(findings)


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
        reason = _missing_reason(req.metric, results)
        advice = NOT_SELECTED_ADVICE if reason == NOT_SELECTED else ""
        return Finding(req, Verdict.NOT_MEASURED, None, reason, advice)
    verdict, reason = _compare(req, measurement)
    if verdict is Verdict.FAIL and req.level is Level.RECOMMENDED:
        verdict = Verdict.WARN
    advice = "" if verdict is Verdict.PASS else req.advice
    return Finding(req, verdict, measurement, reason, advice)


def _find(metric: str, results: Sequence[ProbeResult]) -> Measurement | None:
    for result in results:
        found = result.measurement(metric)
        if found is not None:
            return found
    return None


def _missing_reason(metric: str, results: Sequence[ProbeResult]) -> str:
    for result in results:
        for unmeasured in result.unmeasured:
            if unmeasured.metric == metric:
                return unmeasured.reason
    for result in results:
        if result.probe == area(metric):
            return result.reason or "this probe ran but did not report this value"
    return NOT_SELECTED


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
