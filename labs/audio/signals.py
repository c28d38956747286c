"""Known test signals, generated in memory, and an independent ITU-T P.56 reference.

Levels are RMS dBFS, 20*log10(rms) (full-scale square = 0 dBFS), the convention of the probe.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np

RATE = 48000
SENTENCE_TO_SPEAK = "Thank you for calling, my name is Sam. How can I help you today?"


def scaled(x: np.ndarray, level_dbfs: float) -> np.ndarray:
    """x scaled to an RMS of `level_dbfs`."""
    return x * (10 ** (level_dbfs / 20) / np.sqrt(np.mean(x**2)))


def shaped_noise(
    seconds: float,
    level_dbfs: float,
    slope: float,
    low_hz: float = 20.0,
    high_hz: float = 20000.0,
    seed: int = 1,
    rate: int = RATE,
) -> np.ndarray:
    """Gaussian noise with power density ~ 1/f**slope between low_hz and high_hz: slope 0 is
    white, 1 pink (equal power per octave), 2 brown (the rumble of traffic and ventilation)."""
    n = round(seconds * rate)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    band = (freqs >= low_hz) & (freqs <= high_hz)
    gain = np.where(band, 1.0 / np.maximum(freqs, low_hz) ** (slope / 2), 0.0)
    return scaled(np.fft.irfft(spectrum * gain, n), level_dbfs)


def white(seconds: float, level_dbfs: float, seed: int = 1) -> np.ndarray:
    return scaled(np.random.default_rng(seed).standard_normal(round(seconds * RATE)), level_dbfs)


def pink(seconds: float, level_dbfs: float, seed: int = 2) -> np.ndarray:
    return shaped_noise(seconds, level_dbfs, 1.0, seed=seed)


def brown(seconds: float, level_dbfs: float, seed: int = 3) -> np.ndarray:
    return shaped_noise(seconds, level_dbfs, 2.0, seed=seed)


def sine(seconds: float, level_dbfs: float, hz: float, phase: float = 0.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return np.sqrt(2) * 10 ** (level_dbfs / 20) * np.sin(2 * np.pi * hz * t + phase)


def hum(seconds: float, mains_hz: float, level_dbfs: float) -> np.ndarray:
    """Mains hum: the fundamental at `level_dbfs` and weaker 2nd and 3rd harmonics."""
    return (
        sine(seconds, level_dbfs, mains_hz)
        + sine(seconds, level_dbfs - 10, 2 * mains_hz, 0.7)
        + sine(seconds, level_dbfs - 14, 3 * mains_hz, 1.9)
    )


def clipped_sine(seconds: float, hz: float = 997.0, overdrive: float = 2.0) -> np.ndarray:
    """A sine driven to `overdrive` x full scale and cut at full scale, as an overloaded
    converter does: the share of clipped samples is 1 - 2/pi * arcsin(1/overdrive). 997 Hz (as
    in AES17) is not a divisor of the sample rate, so samples land on every phase of the sine."""
    t = np.arange(round(seconds * RATE)) / RATE
    return np.clip(overdrive * np.sin(2 * np.pi * hz * t), -1.0, 1.0)


def speech(text: str = SENTENCE_TO_SPEAK) -> np.ndarray:
    """espeak-ng speaking `text`, resampled by sox to 48 kHz, through pipes (no file)."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        raise FileNotFoundError("espeak-ng and sox are needed to make speech")
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-v", "en-us", "-s", "175", text],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    to_float = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(RATE)]
    raw = subprocess.run(
        ["sox", "-t", "wav", "-", *to_float, "-"],
        input=wav,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


def p56_active_level_dbfs(x: np.ndarray, rate: int = RATE) -> float:
    """ITU-T P.56 method B active speech level (dBFS), written independently of the probe:
    an envelope with a 30 ms time constant (two exponential stages), activity per threshold
    with 200 ms hangover, and the threshold where the active level sits 15.9 dB above it."""
    time_constant, hangover_s, margin_db = 0.03, 0.2, 15.9
    g = float(np.exp(-1.0 / (rate * time_constant)))
    magnitude = np.abs(x)
    envelope = np.empty_like(magnitude)
    p = q = 0.0
    for i, value in enumerate(magnitude):  # P.56 section B.2: p and q
        p = g * p + (1 - g) * value
        q = g * q + (1 - g) * p
        envelope[i] = q
    hangover = round(hangover_s * rate)
    index = np.arange(len(x))
    energy = float(np.sum(x * x))
    thresholds = 2.0 ** np.arange(-24, 1)
    levels, diffs = [], []
    for c in thresholds:
        above = envelope >= c
        last_above = np.maximum.accumulate(np.where(above, index, -(10**12)))
        active = int(np.count_nonzero(index - last_above <= hangover))
        if active == 0:
            break
        level = 10 * np.log10(energy / active)
        levels.append(level)
        diffs.append(level - 20 * np.log10(c))
    for j in range(1, len(diffs)):
        if diffs[j] <= margin_db:
            share = (diffs[j - 1] - margin_db) / (diffs[j - 1] - diffs[j])
            return float(levels[j - 1] + share * (levels[j] - levels[j - 1]))
    raise ValueError("no speech activity found")
