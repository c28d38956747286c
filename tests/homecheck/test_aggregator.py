"""The aggregator as tables: requirement + measurement -> verdict, and findings -> overall."""

from __future__ import annotations

import pytest

from homecheck.aggregator import NOT_SELECTED, judge, overall
from homecheck.model import (
    Finding,
    Level,
    Measurement,
    ProbeResult,
    Profile,
    Requirement,
    Unmeasured,
    Verdict,
)

P, W, F, N = Verdict.PASS, Verdict.WARN, Verdict.FAIL, Verdict.NOT_MEASURED
REQ, REC = Level.REQUIRED, Level.RECOMMENDED


def _profile(*requirements: Requirement) -> Profile:
    return Profile("t", "test", tuple(requirements), "0" * 64, "test.toml")


def _req(
    metric: str = "network.download_mbps", level: Level = REQ, **limits: object
) -> Requirement:
    return Requirement(metric=metric, label="x", advice="do this", level=level, **limits)  # type: ignore[arg-type]


def _result(probe: str, **values: float | bool | str) -> ProbeResult:
    return ProbeResult(
        probe=probe,
        measurements=tuple(
            Measurement(f"{probe}.{name}", value, "u") for name, value in values.items()
        ),
    )


@pytest.mark.parametrize(
    ("limits", "level", "value", "expected"),
    [
        # min: boundaries are inclusive
        ({"min": 10.0}, REQ, 9.99, F),
        ({"min": 10.0}, REQ, 10.0, P),
        ({"min": 10.0}, REQ, 10.01, P),
        # min with warn_min
        ({"min": 10.0, "warn_min": 25.0}, REQ, 9.0, F),
        ({"min": 10.0, "warn_min": 25.0}, REQ, 10.0, W),
        ({"min": 10.0, "warn_min": 25.0}, REQ, 24.99, W),
        ({"min": 10.0, "warn_min": 25.0}, REQ, 25.0, P),
        # max with warn_max
        ({"max": 30.0, "warn_max": 15.0}, REQ, 30.01, F),
        ({"max": 30.0, "warn_max": 15.0}, REQ, 30.0, W),
        ({"max": 30.0, "warn_max": 15.0}, REQ, 15.01, W),
        ({"max": 30.0, "warn_max": 15.0}, REQ, 15.0, P),
        ({"max": 30.0, "warn_max": 15.0}, REQ, 0.0, P),
        # a window: min and max together
        ({"min": -75.0, "max": -20.0}, REQ, -80.0, F),
        ({"min": -75.0, "max": -20.0}, REQ, -10.0, F),
        ({"min": -75.0, "max": -20.0}, REQ, -50.0, P),
        # only a warn limit: never fails
        ({"warn_min": 5.0}, REQ, 1.0, W),
        ({"warn_max": 5.0}, REQ, 6.0, W),
        # recommended: a failure only warns, a pass stays a pass
        ({"min": 10.0}, REC, 9.0, W),
        ({"min": 10.0, "warn_min": 25.0}, REC, 12.0, W),
        ({"min": 10.0}, REC, 11.0, P),
        # negative numbers (dBFS, dBm)
        ({"max": -40.0, "warn_max": -50.0}, REQ, -45.0, W),
        ({"max": -40.0, "warn_max": -50.0}, REQ, -39.0, F),
        ({"max": -40.0, "warn_max": -50.0}, REQ, -60.0, P),
    ],
)
def test_number_limits(
    limits: dict[str, float], level: Level, value: float, expected: Verdict
) -> None:
    findings, _ = judge(
        _profile(_req(level=level, **limits)), [_result("network", download_mbps=value)]
    )
    assert findings[0].verdict is expected
    assert (findings[0].advice == "") is (expected is P)


@pytest.mark.parametrize(
    ("metric", "allowed", "level", "value", "expected"),
    [
        ("network.udp_ok", (True,), REQ, True, P),
        ("network.udp_ok", (True,), REQ, False, F),
        ("network.udp_ok", (True,), REC, False, W),
        ("network.connection", ("wired",), REQ, "wifi", F),
        ("network.connection", ("wired", "wifi"), REQ, "wifi", P),
        ("network.connection", ("wired",), REC, "wifi", W),
        # a number where a flag is wanted never passes (1 == True in Python)
        ("network.udp_ok", (True,), REQ, 1.0, F),
    ],
)
def test_allowed_values(
    metric: str,
    allowed: tuple[bool | str, ...],
    level: Level,
    value: float | bool | str,
    expected: Verdict,
) -> None:
    req = _req(metric, level, allowed=allowed)
    result = ProbeResult("network", (Measurement(metric, value, ""),))
    findings, _ = judge(_profile(req), [result])
    assert findings[0].verdict is expected


def test_a_category_where_a_number_is_required_fails() -> None:
    result = ProbeResult("network", (Measurement("network.download_mbps", "fast", ""),))
    findings, _ = judge(_profile(_req(min=1.0)), [result])
    assert findings[0].verdict is F


@pytest.mark.parametrize(
    ("results", "reason"),
    [
        ([], NOT_SELECTED),
        ([ProbeResult("network", reason="no route to the server")], "no route to the server"),
        (
            [ProbeResult("network", unmeasured=(Unmeasured("network.download_mbps", "UDP only"),))],
            "UDP only",
        ),
        ([ProbeResult("network")], "this probe ran but did not report this value"),
    ],
)
def test_missing_measurement_is_not_measured_with_the_reason(
    results: list[ProbeResult], reason: str
) -> None:
    findings, verdict = judge(_profile(_req(min=1.0)), results)
    assert findings[0].verdict is N
    assert findings[0].reason == reason
    assert verdict is N


def _finding(verdict: Verdict, level: Level) -> Finding:
    return Finding(_req(level=level, min=1.0), verdict, None, "", "")


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], P),
        ([(P, REQ), (P, REC)], P),
        ([(P, REQ), (W, REQ)], W),
        ([(P, REQ), (W, REC)], W),
        ([(F, REQ), (N, REQ), (W, REQ)], F),
        ([(N, REQ), (W, REQ)], N),
        ([(N, REC), (P, REQ)], P),  # a recommended line that could not be measured does not block
        ([(N, REC), (W, REQ)], W),
        ([(F, REC), (P, REQ)], W),  # cannot happen via judge(), but overall() stays safe
        ([(F, REQ), (P, REC)], F),
    ],
)
def test_overall(lines: list[tuple[Verdict, Level]], expected: Verdict) -> None:
    assert overall(_finding(v, level) for v, level in lines) is expected


def test_judge_keeps_profile_order_and_uses_first_measurement() -> None:
    reqs = (_req("system.ram_total_gb", min=4.0), _req("network.download_mbps", min=10.0))
    results = [_result("network", download_mbps=5.0), _result("system", ram_total_gb=8.0)]
    findings, verdict = judge(_profile(*reqs), results)
    assert [f.requirement.metric for f in findings] == [
        "system.ram_total_gb",
        "network.download_mbps",
    ]
    assert [f.verdict for f in findings] == [P, F]
    assert verdict is F
    assert "below the minimum" in findings[1].reason
