"""The E-model (ITU-T G.107) against published reference points."""

from __future__ import annotations

import pytest

from probes.network.analysis import emodel


def test_default_parameters_give_the_r_g107_quotes() -> None:
    # G.107: "with all parameters at their default values ... R = 93.2".
    assert emodel.r_factor(0.0, 0.0) == pytest.approx(93.2, abs=0.05)


@pytest.mark.parametrize(
    ("r", "mos"),
    # ITU-T G.109 Table 1 / G.107 Annex B: the R to MOS conversion at the quality class edges.
    [(90, 4.34), (80, 4.03), (70, 3.60), (60, 3.10), (50, 2.58)],
)
def test_mos_from_r_matches_g109(r: float, mos: float) -> None:
    assert emodel.mos_from_r(r) == pytest.approx(mos, abs=0.01)


def test_mos_is_bounded() -> None:
    assert emodel.mos_from_r(-5) == 1.0
    assert emodel.mos_from_r(120) == 4.5


@pytest.mark.parametrize(
    ("loss_pct", "burst_r", "expected"),
    [
        # G.711 with PLC: Ie = 0, Bpl = 25.1 (G.113 Appendix I); Ie,eff = 95 Ppl / (Ppl/BurstR + Bpl)
        (0.0, 1.0, 0.0),
        (1.0, 1.0, 95 * 1 / (1 + 25.1)),  # 3.64
        (2.0, 1.0, 95 * 2 / (2 + 25.1)),  # 7.01
        (5.0, 2.0, 95 * 5 / (2.5 + 25.1)),  # bursty loss hurts more
    ],
)
def test_ie_eff_for_g711_with_plc(loss_pct: float, burst_r: float, expected: float) -> None:
    assert emodel.ie_eff(loss_pct, burst_r) == pytest.approx(expected, rel=1e-9)


def test_absolute_delay_impairment() -> None:
    # Idd is zero up to mT = 100 ms; at 200 ms X = 1 and the G.107 formula gives
    # 25 (2^(1/6) - 3 (1 + 3^-6)^(1/6) + 2) = 3.04.
    assert emodel.absolute_delay_impairment(100) == 0.0
    expected = 25 * (2 ** (1 / 6) - 3 * (1 + 3**-6) ** (1 / 6) + 2)
    assert emodel.absolute_delay_impairment(200) == pytest.approx(expected)
    assert expected == pytest.approx(3.04, abs=0.01)


@pytest.mark.parametrize("delay_ms", [0, 50, 100, 150, 200, 250, 300])
def test_delay_curve_agrees_with_the_published_approximation(delay_ms: float) -> None:
    # Cole & Rosenbluth, "Voice over IP performance monitoring" (ACM CCR 2001), fitted to G.107 for
    # G.711: R = 94.2 - 0.024 d - 0.11 (d - 177.3) H(d - 177.3). Their constant is 1 point above
    # G.107's 93.2, so the full model sits about 1 point lower; it never departs by more than 1.5.
    approx = 94.2 - 0.024 * delay_ms - 0.11 * max(0.0, delay_ms - 177.3)
    assert emodel.r_factor(delay_ms, 0.0) == pytest.approx(approx, abs=1.5)


def test_quality_falls_with_delay_jitter_and_loss() -> None:
    clean = emodel.call_quality(rtt_ms=20, jitter_ms=1, loss_pct=0)
    assert clean.mos >= 4.3  # a good wired line: "very satisfied" (R > 90)
    assert emodel.call_quality(300, 1, 0).mos < clean.mos
    assert emodel.call_quality(20, 40, 0).mos < clean.mos  # a deeper jitter buffer adds delay
    assert emodel.call_quality(20, 1, 3).mos < clean.mos
    assert emodel.call_quality(20, 1, 3, burst_r=3).mos < emodel.call_quality(20, 1, 3).mos


def test_mouth_to_ear_delay_model() -> None:
    # Half the round trip + one 20 ms frame + a jitter buffer of 2 x jitter (at least 20 ms).
    assert emodel.mouth_to_ear_ms(100, 5) == pytest.approx(50 + 20 + 20)
    assert emodel.mouth_to_ear_ms(100, 30) == pytest.approx(50 + 20 + 60)
