"""The pure analysis functions on numpy signals (no sound system involved)."""

from __future__ import annotations

import numpy as np
import pytest

from labs.audio import signals
from probes.audio import analysis

RATE = signals.RATE

# IEC 61672-1:2013 Table 3, A-weighting (dB); the table's values are for the exact base-ten
# frequencies 1000 * 10**(n/10) Hz behind the nominal labels (31.5 Hz is 31.62 Hz).
IEC_61672_A = [
    (-15, -39.4),  # 31.5 Hz
    (-12, -26.2),  # 63 Hz
    (-10, -19.1),  # 100 Hz
    (-6, -8.6),  # 250 Hz
    (-3, -3.2),  # 500 Hz
    (0, 0.0),  # 1 kHz
    (3, 1.2),  # 2 kHz
    (6, 1.0),  # 4 kHz
    (9, -1.1),  # 8 kHz
    (12, -6.6),  # 16 kHz
]


@pytest.mark.parametrize(("band", "expected"), IEC_61672_A)
def test_a_weighting_matches_the_standard_table(band: int, expected: float) -> None:
    hz = 1000.0 * 10 ** (band / 10)
    assert float(analysis.a_weighting_db(np.array([hz]))[0]) == pytest.approx(expected, abs=0.1)


def test_frame_levels_of_a_sine() -> None:
    tone = signals.sine(1.0, -20.0, 997.0)
    levels = analysis.levels_dbfs(analysis.frame_powers(tone, RATE))
    assert len(levels) == 10
    assert np.allclose(levels, -20.0, atol=0.02)


def test_room_statistics_of_noise_with_bursts() -> None:
    # Steady -60 dBFS with loud bursts (-30 dBFS) a fifth of the time: L90 stays at the
    # background, L10 rises to the bursts.
    x = signals.white(5.0, -60.0)
    burst = signals.white(5.0, -30.0, seed=9)
    mask = (np.arange(len(x)) // (RATE // 2)) % 5 == 0
    room = analysis.analyse_room(np.where(mask, x + burst, x), RATE)
    assert room.floor_dbfs == pytest.approx(-60.0, abs=0.3)
    assert room.l10_dbfs == pytest.approx(-30.0, abs=0.3)
    assert room.steady_power == pytest.approx(1e-6, rel=0.05)


def test_dc_offset_and_peak() -> None:
    x = signals.white(1.0, -50.0) + 0.01
    room = analysis.analyse_room(x, RATE)
    assert room.dc_offset == pytest.approx(0.01, abs=1e-4)
    # The DC does not count as noise in the A-weighted floor (it is removed first).
    assert room.floor_a_dbfs < -50.0


@pytest.mark.parametrize(
    ("signal", "why"),
    [
        (np.zeros(48000), "digital silence"),
        (np.full(48000, 0.25), "constant"),
        (np.tile([0.0, 1 / 32768], 24000), "constant"),  # one bit toggling: not a microphone
    ],
)
def test_dead_signals(signal: np.ndarray, why: str) -> None:
    assert why in (analysis.dead_signal(signal) or "")


def test_quiet_but_live_microphone_is_not_dead() -> None:
    assert analysis.dead_signal(signals.white(1.0, -90.0)) is None


def test_clipping_share() -> None:
    assert analysis.clipping_pct(signals.clipped_sine(1.0, overdrive=2.0)) == pytest.approx(
        100 * (1 - 2 / np.pi * np.arcsin(0.5)), abs=0.5
    )
    assert analysis.clipping_pct(0.99 * np.sin(np.linspace(0, 100, 48000))) == 0.0


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_hum_line_over_pink_noise(mains: float) -> None:
    x = signals.pink(5.0, -60.0) + signals.hum(5.0, mains, -50.0)
    hum = analysis.mains_hum(analysis.welch(x, RATE))
    assert hum.mains_hz == mains
    assert hum.tnr_db > 12.0


@pytest.mark.parametrize("seed", range(5))
def test_noise_alone_is_not_hum(seed: int) -> None:
    for noise in (signals.pink(5.0, -40.0, seed=seed), signals.brown(5.0, -40.0, seed=seed)):
        assert analysis.mains_hum(analysis.welch(noise, RATE)).tnr_db < 0.0


def test_pure_tone_without_noise_is_far_above_any_limit() -> None:
    hum = analysis.mains_hum(analysis.welch(signals.sine(5.0, -40.0, 50.0), RATE))
    assert 60.0 < hum.tnr_db <= analysis.HUM_CEILING_DB


def test_speech_level_over_noise_matches_p56() -> None:
    voice = signals.speech()
    level = signals.p56_active_level_dbfs(voice)
    noise = signals.white(len(voice) / RATE + 0.01, -45.0, seed=4)[: len(voice)]
    measured = analysis.speech_level(voice * 10 ** ((-25 - level) / 20) + noise, RATE, 10**-4.5)
    assert measured is not None
    assert measured.snr_db == pytest.approx(20.0, abs=1.0)


def test_no_speech_in_noise_is_none() -> None:
    noise = signals.white(5.0, -45.0)
    powers = analysis.frame_powers(noise, RATE)
    assert analysis.speech_level(noise, RATE, float(np.mean(powers)), float(np.std(powers))) is None


def test_spectrum_points_are_thinned_and_ordered() -> None:
    points = analysis.spectrum_points(analysis.welch(signals.white(2.0, -40.0), RATE))
    freqs = [f for f, _ in points]
    assert freqs == sorted(freqs)
    assert 100 < len(points) < 200
    # White noise: a flat density of -40 dBFS over 24 kHz = -40 - 10*log10(24000) dBFS/Hz.
    assert np.median([v for _, v in points]) == pytest.approx(-40 - 10 * np.log10(24000), abs=0.5)
