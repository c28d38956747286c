"""Pure analysis of microphone recordings (numpy only, no I/O): levels, A-weighting, hum, speech.

Conventions
- Signals are float arrays in full-scale units: +/-1.0 is the largest value the converter can give.
- dBFS is the RMS level relative to a full-scale square wave, 20*log10(rms): a full-scale sine
  reads -3.01 dBFS (the convention of sox `stats` and most software meters; AES17 adds 3.01 dB).
- Frame levels are the RMS of consecutive 100 ms frames; the statistics on them follow acoustics
  practice for percentile levels (ISO 1996-1): L90 (the level exceeded 90 % of the time, here the
  10th percentile of frame levels) is the background; L10 the intermittent noise on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Signal = NDArray[np.float64]

FRAME_S = 0.1
# Levels below this are reported as this (the level of exact digital zero would be -inf).
LEVEL_FLOOR_DBFS = -150.0
# |sample| at or above this counts as clipped: 0.999 is -0.009 dBFS, so both int16 full scale
# (32767/32768) and 24-bit full scale count, while a loud but clean signal does not.
CLIP_LEVEL = 0.999
# AC level below which a microphone is dead or muted: even a good 24-bit microphone in a silent
# room has self-noise above -100 dBFS; a muted one gives exact zeros or a constant.
DEAD_AC_DBFS = -100.0
# ECMA-74 Annex D (tone-to-noise ratio): the critical band is 100 Hz wide below 500 Hz.
CRITICAL_BAND_HZ = 100.0
# Harmonics searched per mains frequency. 50 Hz x1..5 and 60 Hz x1..4 share no frequency
# (the first common one is 300 Hz), so a 50 Hz hum is never mistaken for a 60 Hz one.
MAINS_HARMONICS = {50.0: 5, 60.0: 4}
# A hum weaker than this (or no line at all) is reported as this value; a line over digital
# silence (no noise at all) as the ceiling.
HUM_FLOOR_DB = -20.0
HUM_CEILING_DB = 100.0
# ITU-T P.56 margin: speech counts as active down to 15.9 dB below the active speech level, and
# for 200 ms (the hangover, two 100 ms frames) after it was last that loud.
P56_MARGIN_DB = 15.9
P56_HANGOVER_FRAMES = 2


def db_power(power: float) -> float:
    """10*log10(power), floored at LEVEL_FLOOR_DBFS so it is always a finite number."""
    if power <= 0.0:
        return LEVEL_FLOOR_DBFS
    return max(LEVEL_FLOOR_DBFS, 10.0 * float(np.log10(power)))


def frame_powers(x: Signal, rate: int, frame_s: float = FRAME_S) -> Signal:
    """Mean square of each whole frame (an incomplete last frame is dropped)."""
    size = max(1, round(rate * frame_s))
    count = len(x) // size
    if count == 0:
        return np.zeros(0)
    frames = x[: count * size].reshape(count, size)
    return np.asarray(np.mean(frames * frames, axis=1), dtype=np.float64)


def levels_dbfs(powers: Signal) -> Signal:
    with np.errstate(divide="ignore"):
        levels = 10.0 * np.log10(powers)
    return np.maximum(levels, LEVEL_FLOOR_DBFS)


def a_weighting_db(freqs_hz: Signal) -> Signal:
    """IEC 61672-1:2013 A-weighting in dB (0 dB at 1 kHz), from the standard's analytic form."""
    f2 = np.asarray(freqs_hz, dtype=np.float64) ** 2
    c1, c2, c3, c4 = 20.598997**2, 107.65265**2, 737.86223**2, 12194.217**2
    with np.errstate(divide="ignore"):
        gain = (c4 * f2 * f2) / ((f2 + c1) * np.sqrt((f2 + c2) * (f2 + c3)) * (f2 + c4))
        # A1000 = -2.000 dB normalises the curve to 0 dB at 1 kHz (IEC 61672-1, E.6).
        return 20.0 * np.log10(gain) + 2.0


def a_weighted(x: Signal, rate: int) -> Signal:
    """The signal through the A-weighting magnitude response (zero phase, in the frequency domain).

    Applying the exact analytic magnitude avoids the error an IIR bilinear design has near the
    Nyquist frequency; the phase does not matter for levels.
    """
    if len(x) == 0:
        return x
    spectrum = np.fft.rfft(x)
    gain = 10.0 ** (a_weighting_db(_freqs(len(x), rate)) / 20.0)
    return np.asarray(np.fft.irfft(spectrum * gain, len(x)), dtype=np.float64)


def _freqs(size: int, rate: int) -> Signal:
    return np.asarray(np.fft.rfftfreq(size, 1.0 / rate), dtype=np.float64)


@dataclass(frozen=True)
class Spectrum:
    """Welch power spectral density: `psd[k]` in full-scale^2 per Hz at `freqs[k]` Hz."""

    freqs: Signal
    psd: Signal
    resolution_hz: float


def welch(x: Signal, rate: int) -> Spectrum:
    """Averaged Hann-windowed periodograms with 50 % overlap (Welch 1967).

    Segments of about 2/3 s (a power of two: 32768 samples at 48 kHz, ~1.5 Hz bins) keep the
    main lobes of 50 Hz and 60 Hz lines apart and still average ~13 periodograms in 5 s, so
    random noise does not look like a line.
    """
    size = int(2 ** np.ceil(np.log2(max(64.0, rate / 1.5))))
    if len(x) < size:
        size = max(64, int(2 ** np.floor(np.log2(max(64, len(x))))))
        x = np.pad(x, (0, max(0, size - len(x))))
    window = np.hanning(size)
    hop = size // 2
    starts = range(0, len(x) - size + 1, hop)
    acc = np.zeros(size // 2 + 1)
    for start in starts:
        segment = x[start : start + size]
        acc += np.abs(np.fft.rfft((segment - segment.mean()) * window)) ** 2
    psd = acc / len(starts) / (rate * float(np.sum(window**2)))
    psd[1:-1] *= 2.0  # one-sided: fold the negative frequencies in
    return Spectrum(_freqs(size, rate), psd, rate / size)


@dataclass(frozen=True)
class Hum:
    """Mains hum as an ECMA-74 tone-to-noise ratio: the strongest line's power over the noise
    power in the 100 Hz critical band around it (dB). `mains_hz` is 50, 60, or None if no line
    rises above the floor."""

    tnr_db: float
    mains_hz: float | None
    lines: tuple[tuple[float, float], ...]  # (frequency Hz, tone-to-noise dB) per harmonic


def mains_hum(spectrum: Spectrum) -> Hum:
    freqs, psd, df = spectrum.freqs, spectrum.psd, spectrum.resolution_hz
    nyquist = float(freqs[-1])
    best, best_mains = HUM_FLOOR_DB, None
    lines: list[tuple[float, float]] = []
    for mains, count in MAINS_HARMONICS.items():
        family = [mains * k for k in range(1, count + 1) if mains * k < nyquist - CRITICAL_BAND_HZ]
        # Bins near any line of this family stay out of the noise estimates.
        near_line = np.zeros(len(freqs), dtype=bool)
        for f in family:
            near_line |= np.abs(freqs - f) <= 3.5 * df
        for f in family:
            tnr = _tone_to_noise(freqs, psd, df, f, near_line)
            lines.append((f, round(tnr, 1)))
            if tnr > best:
                best, best_mains = tnr, mains
    return Hum(round(best, 1) + 0.0, best_mains, tuple(lines))  # + 0.0: no "-0"


def _tone_to_noise(
    freqs: Signal, psd: Signal, df: float, nominal_hz: float, near_line: NDArray[np.bool_]
) -> float:
    # The grid may drift by up to 1 % (EN 50160 allows 49.5-50.5 Hz); at least the nearest bin.
    search = max(0.6 * df, 0.01 * nominal_hz)
    candidates = np.flatnonzero(np.abs(freqs - nominal_hz) <= search)
    if len(candidates) == 0:
        return HUM_FLOOR_DB
    peak = int(candidates[np.argmax(psd[candidates])])
    lobe = slice(max(0, peak - 2), peak + 3)  # a Hann window's main lobe is +/-2 bins
    lobe_bins = lobe.stop - lobe.start
    # Local density right beside the line, for subtracting the noise under it.
    offset = np.abs(np.arange(len(psd)) - peak)
    beside = (offset >= 4) & (offset <= 10) & ~near_line & (freqs >= 20.0)
    band = (np.abs(freqs - freqs[peak]) <= CRITICAL_BAND_HZ / 2) & ~near_line & (freqs >= 20.0)
    if not beside.any() or not band.any():
        return HUM_FLOOR_DB
    local_density = float(np.median(psd[beside]))
    band_density = float(np.median(psd[band]))
    tone_power = (float(np.sum(psd[lobe])) - local_density * lobe_bins) * df
    noise_power = band_density * CRITICAL_BAND_HZ
    if tone_power <= 0.0:
        return HUM_FLOOR_DB
    if noise_power <= 0.0:
        return HUM_CEILING_DB
    ratio_db = 10.0 * float(np.log10(tone_power / noise_power))
    return min(HUM_CEILING_DB, max(HUM_FLOOR_DB, ratio_db))


def spectrum_points(spectrum: Spectrum, per_octave: int = 12) -> tuple[tuple[float, float], ...]:
    """The spectrum thinned for a chart: one point per 1/`per_octave` octave from 20 Hz (mean
    density of the bins in each band, dBFS/Hz); below ~100 Hz every bin is its own point, so hum
    lines stay visible."""
    freqs, psd = spectrum.freqs, spectrum.psd
    edges = [20.0]
    while edges[-1] < freqs[-1]:
        edges.append(edges[-1] * 2 ** (1.0 / per_octave))
    points: list[tuple[float, float]] = []
    index = int(np.searchsorted(freqs, 20.0))
    for upper in edges[1:]:
        stop = max(index + 1, int(np.searchsorted(freqs, upper)))
        if index >= len(freqs):
            break
        chunk = psd[index:stop]
        centre = float(np.sqrt(freqs[index] * freqs[min(stop, len(freqs)) - 1]))
        points.append((round(centre, 1), round(db_power(float(np.mean(chunk))), 1)))
        index = stop
    return tuple(points)


def leading_zeros(x: NDArray[np.floating]) -> int:
    """How many samples (rows, for several channels) at the start are exactly zero."""
    live = np.flatnonzero(np.any(x != 0, axis=1) if x.ndim > 1 else x != 0)
    return int(live[0]) if len(live) else len(x)


def dead_signal(x: Signal) -> str | None:
    """Why this recording cannot come from a working microphone, or None if it can."""
    if len(x) == 0:
        return "no sound data arrived"
    if not np.any(x):
        return "digital silence: every sample is exactly zero"
    ac_power = float(np.var(x))
    if db_power(ac_power) < DEAD_AC_DBFS or len(np.unique(x[: 1 << 16])) <= 2:
        return "a constant signal that never changes"
    return None


@dataclass(frozen=True)
class RoomNoise:
    """Background-noise statistics of a recording taken while the person is silent."""

    frame_levels_dbfs: tuple[float, ...]
    floor_dbfs: float  # L90
    floor_a_dbfs: float  # L90 of the A-weighted signal
    l10_dbfs: float
    leq_dbfs: float  # energy average
    steady_power: float  # mean square of the quieter half of the frames: the reference for SNR
    frame_power_sd: float  # how much the frames' power varies by chance: the bar speech must clear
    peak_dbfs: float
    clipping_pct: float
    dc_offset: float  # mean sample value, in full-scale units
    hum: Hum
    spectrum: Spectrum


def analyse_room(x: Signal, rate: int) -> RoomNoise:
    """Statistics of a background recording (at least one 100 ms frame)."""
    powers = frame_powers(x, rate)
    if len(powers) == 0:
        raise ValueError("the recording is shorter than one 100 ms frame")
    levels = levels_dbfs(powers)
    a_levels = levels_dbfs(frame_powers(a_weighted(x - np.mean(x), rate), rate))
    quiet = np.sort(powers)[: max(1, len(powers) // 2)]
    spectrum = welch(x, rate)
    return RoomNoise(
        frame_levels_dbfs=tuple(round(float(v), 2) for v in levels),
        floor_dbfs=round(float(np.percentile(levels, 10)), 2),
        floor_a_dbfs=round(float(np.percentile(a_levels, 10)), 2),
        l10_dbfs=round(float(np.percentile(levels, 90)), 2),
        leq_dbfs=round(db_power(float(np.mean(powers))), 2),
        steady_power=float(np.mean(quiet)),
        frame_power_sd=float(np.std(powers)),
        peak_dbfs=round(db_power(float(np.max(np.abs(x))) ** 2), 2),
        clipping_pct=clipping_pct(x),
        dc_offset=round(float(np.mean(x)), 6),
        hum=mains_hum(spectrum),
        spectrum=spectrum,
    )


def clipping_pct(x: Signal) -> float:
    """Percentage of samples at full scale."""
    if len(x) == 0:
        return 0.0
    return round(100.0 * float(np.count_nonzero(np.abs(x) >= CLIP_LEVEL)) / len(x), 4)


@dataclass(frozen=True)
class SpeechLevel:
    active_level_dbfs: float  # speech alone (noise power subtracted), over the active frames
    snr_db: float  # active speech level over the steady background
    active_fraction: float


def speech_level(
    x: Signal, rate: int, noise_power: float, noise_power_sd: float = 0.0
) -> SpeechLevel | None:
    """Active speech level and speech-to-noise ratio of a recording of someone reading aloud.

    The idea of ITU-T P.56 (active speech level: the power of speech averaged over the time it
    is active, where active means within 15.9 dB of that level, plus a 200 ms hangover after each
    active moment) applied to 100 ms frames after subtracting the background power measured just
    before, so the room's noise neither counts as speech nor inflates its level. A frame must also
    rise clearly (3 standard deviations of the background's own frame-to-frame spread) above the
    background. Returns None when no speech was heard.
    """
    powers = frame_powers(x, rate)
    speech = np.maximum(powers - noise_power, 0.0)
    floor = max(3.0 * noise_power_sd, 1e-15)
    active = speech > floor
    margin = 10.0 ** (-P56_MARGIN_DB / 10.0)
    for _ in range(100):  # a fixed point: the threshold depends on the level it selects
        if not active.any():
            return None
        level = float(np.mean(speech[active]))
        updated = _hang_over(speech >= max(level * margin, floor), P56_HANGOVER_FRAMES)
        if np.array_equal(updated, active):
            break
        active = updated
    if not active.any():
        return None
    level = float(np.mean(speech[active]))
    return SpeechLevel(
        active_level_dbfs=round(db_power(level), 2),
        snr_db=round(db_power(level) - db_power(noise_power), 2),
        active_fraction=round(float(np.mean(active)), 3),
    )


def _hang_over(active: NDArray[np.bool_], frames: int) -> NDArray[np.bool_]:
    held = active.copy()
    for shift in range(1, frames + 1):
        held[shift:] |= active[:-shift]
    return held
