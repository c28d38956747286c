"""The aggregator as tables: requirement + measurement -> verdict and cause, findings -> overall,
and an area's findings -> the area's verdict."""

from __future__ import annotations

import pytest

from homecheck.aggregator import NOT_REPORTED, NOT_SELECTED, area_results, judge, overall
from homecheck.model import (
    AreaResult,
    Cause,
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
    findings = judge(
        _profile(_req(level=level, **limits)), [_result("network", download_mbps=value)]
    ).findings
    assert findings[0].verdict is expected
    assert findings[0].cause is Cause.MEASURED
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
    assert judge(_profile(req), [result]).findings[0].verdict is expected


def test_a_category_where_a_number_is_required_fails() -> None:
    result = ProbeResult("network", (Measurement("network.download_mbps", "fast", ""),))
    assert judge(_profile(_req(min=1.0)), [result]).findings[0].verdict is F


STOP = "stopped by the user (Ctrl-C) before this was measured"


@pytest.mark.parametrize(
    ("results", "reason", "cause"),
    [
        ([], NOT_SELECTED, Cause.NOT_SELECTED),
        ([_result("system", ram_total_gb=8.0)], NOT_SELECTED, Cause.NOT_SELECTED),
        (
            [ProbeResult("network", reason="no route to the server")],
            "no route to the server",
            Cause.PROBE_FAILED,
        ),
        ([ProbeResult("network", reason=STOP, cause=Cause.STOPPED)], STOP, Cause.STOPPED),
        (
            [ProbeResult("network", unmeasured=(Unmeasured("network.download_mbps", "UDP only"),))],
            "UDP only",
            Cause.PROBE_FAILED,
        ),
        (
            [
                ProbeResult(
                    "network",
                    unmeasured=(Unmeasured("network.download_mbps", STOP, Cause.STOPPED),),
                )
            ],
            STOP,
            Cause.STOPPED,
        ),
        (
            [
                ProbeResult(
                    "network",
                    unmeasured=(
                        Unmeasured(
                            "network.download_mbps", "use --duration", Cause.NEEDS_LONGER_RUN
                        ),
                    ),
                    reason="the probe's own reason comes second",
                )
            ],
            "use --duration",
            Cause.NEEDS_LONGER_RUN,
        ),
        ([ProbeResult("network")], NOT_REPORTED, Cause.NOT_REPORTED),
    ],
)
def test_missing_measurement_is_not_measured_with_the_reason_and_cause(
    results: list[ProbeResult], reason: str, cause: Cause
) -> None:
    judgement = judge(_profile(_req(min=1.0)), results)
    finding = judgement.findings[0]
    assert (finding.verdict, finding.reason, finding.cause) == (N, reason, cause)
    assert (finding.advice != "") is (cause is Cause.NOT_SELECTED)
    assert judgement.overall is N
    assert judgement.areas == (AreaResult("network", N, cause),)


def _finding(
    verdict: Verdict, level: Level, cause: Cause | None = None, metric: str = "network.mos"
) -> Finding:
    if cause is None:
        cause = Cause.PROBE_FAILED if verdict is N else Cause.MEASURED
    return Finding(_req(metric, level, min=1.0), verdict, cause, None, "", "")


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


ML, NS, PF, ST = Cause.MEASURED, Cause.NOT_SELECTED, Cause.PROBE_FAILED, Cause.STOPPED


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # the overall rule, applied to one area's lines
        ([(P, REQ, ML), (P, REC, ML)], (P, ML)),
        ([(P, REQ, ML), (W, REC, ML)], (W, ML)),
        ([(P, REQ, ML), (F, REQ, ML), (N, REQ, PF)], (F, ML)),
        ([(W, REQ, ML), (N, REQ, PF)], (N, PF)),
        ([(P, REQ, ML), (N, REQ, ST), (N, REQ, PF)], (N, ST)),  # the first line not measured
        ([(W, REQ, ML), (N, REC, PF)], (W, ML)),
        # review defect D5: a recommended line that could not be measured does not block,
        # so the area passes as the overall verdict does (the old HTML badge said not measured)
        ([(P, REQ, ML), (N, REC, PF)], (P, ML)),
        ([(N, REC, PF)], (P, ML)),
        # an area left out with --only
        ([(N, REQ, NS), (N, REC, NS)], (N, NS)),
        ([(N, REC, NS)], (N, NS)),
    ],
)
def test_area_verdict(
    lines: list[tuple[Verdict, Level, Cause]], expected: tuple[Verdict, Cause]
) -> None:
    findings = [_finding(v, level, cause) for v, level, cause in lines]
    assert area_results(findings) == (AreaResult("network", *expected),)
    if expected[1] is not NS:
        assert expected[0] is overall(findings)


def test_areas_in_catalogue_order_then_others() -> None:
    findings = [
        _finding(P, REQ, metric="webcam.fps"),
        _finding(F, REQ, metric="audio.hum_db"),
        _finding(N, REQ, NS, metric="network.mos"),
        _finding(W, REQ, metric="system.ram_total_gb"),
        _finding(P, REQ, metric="audio.clipping_pct"),
    ]
    assert area_results(findings) == (
        AreaResult("system", W, ML),
        AreaResult("network", N, NS),
        AreaResult("audio", F, ML),
        AreaResult("webcam", P, ML),
    )


def test_judge_keeps_profile_order_and_uses_first_measurement() -> None:
    reqs = (_req("system.ram_total_gb", min=4.0), _req("network.download_mbps", min=10.0))
    results = [_result("network", download_mbps=5.0), _result("system", ram_total_gb=8.0)]
    judgement = judge(_profile(*reqs), results)
    findings = judgement.findings
    assert [f.requirement.metric for f in findings] == [
        "system.ram_total_gb",
        "network.download_mbps",
    ]
    assert [f.verdict for f in findings] == [P, F]
    assert judgement.overall is F
    assert judgement.areas == (AreaResult("system", P, ML), AreaResult("network", F, ML))
    assert "below the minimum" in findings[1].reason
