#!/usr/bin/env python3
"""Audio probe accuracy on the virtual microphone: set vs measured, and the wall time.

Run by hand (not part of the test suite), from the repository root:

    .venv/bin/python bench/audio_accuracy.py [--quick]

It starts a private PulseAudio (labs/audio/virtual_mic.py), plays known signals into its
null sink and runs the real AudioProbe with its default durations (5 s of room, 2 s to get ready,
6 s of speech) through PortAudio. Signals are generated in memory; nothing is written to disk.

Tables:
1. Level: white noise at -70..-20 dBFS; the background (L90) and the energy average (Leq).
2. Spectra at -40 dBFS: white, pink, brown (low-frequency rumble), 1 kHz sine; plain and
   A-weighted floor against the same analysis of the digital signal before playback.
3. Mains hum: 50/60 Hz over pink noise; ECMA-74 tone-to-noise ratio, expected from the
   signal's construction.
4. Speech-to-noise ratio: espeak-ng speech scaled to an ITU-T P.56 active level over pink noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from homecheck.model import ProbeResult  # noqa: E402
from homecheck.probe import ProbeContext, ProbeOptions  # noqa: E402
from labs.audio import signals  # noqa: E402
from labs.audio.virtual_mic import Player, VirtualMic  # noqa: E402
from probes.audio import AudioProbe  # noqa: E402
from probes.audio import analysis as audio_analysis  # noqa: E402

PLAY_S = 14.0


def number(result: ProbeResult, metric: str) -> float:
    found = result.measurement(metric)
    if found is None or not isinstance(found.value, float):
        reasons = {u.metric: u.reason for u in result.unmeasured}
        raise RuntimeError(f"{metric} not measured: {result.reason or reasons.get(metric)}")
    return found.value


def run_room(mic: VirtualMic, signal: np.ndarray) -> tuple[ProbeResult, float]:
    started = time.monotonic()
    with mic.play(signal):
        result = AudioProbe().run(ProbeContext(options=ProbeOptions(speech=False)))
    return result, time.monotonic() - started


def run_speech(mic: VirtualMic, voice: np.ndarray, room: np.ndarray) -> tuple[ProbeResult, float]:
    players: list[Player] = []

    def progress(fraction: float, message: str) -> None:
        if message.startswith("Read aloud now") and not players:
            players.append(mic.play(voice))

    started = time.monotonic()
    with mic.play(room):
        try:
            result = AudioProbe().run(
                ProbeContext(options=ProbeOptions(speech=True), progress=progress)
            )
        finally:
            for player in players:
                player.stop()
    return result, time.monotonic() - started


def table(title: str, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    print("  ".join(str(h).rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))


def f(value: float) -> str:
    return f"{value:+.2f}"


def levels(mic: VirtualMic, quick: bool) -> None:
    rows = []
    for level in (-60.0, -40.0) if quick else (-70.0, -60.0, -50.0, -40.0, -30.0, -20.0):
        result, wall = run_room(mic, signals.white(PLAY_S, level))
        floor = number(result, "audio.noise_floor_dbfs")
        leq = float(result.details["noise_leq_dbfs"])  # type: ignore[arg-type]
        rows.append(
            (f"{level:.0f}", f(floor), f(floor - level), f(leq), f(leq - level), f"{wall:.1f}")
        )
    table(
        "1. White noise level (dBFS)",
        ("set", "L90", "L90 err", "Leq", "Leq err", "wall s"),
        rows,
    )


def spectra(mic: VirtualMic) -> None:
    rows = []
    made = {
        "white": signals.white(PLAY_S, -40.0),
        "pink": signals.pink(PLAY_S, -40.0),
        "brown": signals.brown(PLAY_S, -40.0),
        "sine 1 kHz": signals.sine(PLAY_S, -40.0, 1000.0),
    }
    for name, signal in made.items():
        digital = audio_analysis.analyse_room(signal[: 5 * signals.RATE], signals.RATE)
        result, wall = run_room(mic, signal)
        floor = number(result, "audio.noise_floor_dbfs")
        floor_a = number(result, "audio.noise_floor_dbfs_a")
        rows.append(
            (
                name,
                "-40.00",
                f(float(result.details["noise_leq_dbfs"])),  # type: ignore[arg-type]
                f(digital.floor_dbfs),
                f(floor),
                f(digital.floor_a_dbfs),
                f(floor_a),
                f(floor_a - digital.floor_a_dbfs),
                f(number(result, "audio.hum_db")),
                f"{wall:.1f}",
            )
        )
    table(
        "2. Spectra at -40 dBFS RMS (dBFS; 'digital': the same analysis of the signal before "
        "playback)",
        (
            "signal",
            "set RMS",
            "Leq",
            "L90 digital",
            "L90",
            "L90(A) digital",
            "L90(A)",
            "A err",
            "hum dB",
            "wall s",
        ),
        rows,
    )


def hum(mic: VirtualMic) -> None:
    rows = []
    for mains in (50.0, 60.0):
        for tone in (-50.0, -55.0, -60.0):
            signal = signals.pink(PLAY_S, -60.0) + signals.hum(PLAY_S, mains, tone)
            # ECMA-74: tone power over the pink noise power in the 100 Hz band around the tone
            # (the pink noise spans 20 Hz..20 kHz, so the band starts at 20 Hz).
            share = np.log((mains + 50) / 20) / np.log(20000 / 20)
            expected = tone - (-60.0 + 10 * np.log10(share))
            result, wall = run_room(mic, signal)
            measured = number(result, "audio.hum_db")
            found = result.details["hum_mains_hz"]
            rows.append(
                (
                    f"{mains:.0f}",
                    f"{tone:.0f}",
                    f(expected),
                    f(measured),
                    f(measured - expected),
                    found,
                    f"{wall:.1f}",
                )
            )
    table(
        "3. Mains hum over pink noise at -60 dBFS (tone-to-noise ratio, dB)",
        ("mains Hz", "tone dBFS", "set TNR", "measured", "error", "found Hz", "wall s"),
        rows,
    )


def speech(mic: VirtualMic, quick: bool) -> None:
    voice = signals.speech()
    active = signals.p56_active_level_dbfs(voice)
    noise_level = -50.0
    rows = []
    for snr in (10.0, 30.0) if quick else (5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0):
        gain = 10 ** ((noise_level + snr - active) / 20)
        result, wall = run_speech(mic, voice * gain, signals.pink(25.0, noise_level, seed=7))
        measured = number(result, "audio.speech_snr_db")
        rows.append((f"{snr:.0f}", f(measured), f(measured - snr), f"{wall:.1f}"))
    table(
        "4. Speech-to-noise ratio (espeak-ng, P.56 active level) over pink noise at "
        f"{noise_level:.0f} dBFS",
        ("set dB", "measured", "error", "wall s"),
        rows,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer points")
    args = parser.parse_args()
    started = time.monotonic()
    with VirtualMic() as mic, mic.in_this_process():
        print("Audio probe accuracy on the virtual microphone (PulseAudio null sink, 48 kHz)")
        levels(mic, args.quick)
        spectra(mic)
        hum(mic)
        speech(mic, args.quick)
    print(f"\nTotal wall time: {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
