"""The audio probe on a real capture path: PulseAudio's null sink fed known signals."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from homecheck.model import ProbeResult
from homecheck.probe import ProbeContext, ProbeError, ProbeOptions
from labs.audio import signals
from labs.audio.virtual_mic import VirtualMic
from probes.audio import AudioProbe
from probes.audio import devices as audio_devices
from probes.audio.recorder import Recorder

pytestmark = pytest.mark.audio

ROOM_S = 3.0
# Long enough to outlast the stream start (up to ~2 s on PulseAudio) and the 3 s of room.
PLAY_S = 12.0


def measure(vmic: VirtualMic, signal: np.ndarray | None, mic: str | None = None) -> ProbeResult:
    probe = AudioProbe(room_seconds=ROOM_S)
    context = ProbeContext(options=ProbeOptions(mic=mic, speech=False))
    if signal is None:
        return probe.run(context)
    with vmic.play(signal):
        return probe.run(context)


def value(result: ProbeResult, metric: str) -> float:
    found = result.measurement(metric)
    assert found is not None, (metric, result.reason, result.unmeasured)
    assert isinstance(found.value, float)
    return found.value


@pytest.mark.parametrize("level", [-65.0, -45.0, -25.0])
def test_white_noise_level_reads_back_within_0_3_db(virtual_mic: VirtualMic, level: float) -> None:
    result = measure(virtual_mic, signals.white(PLAY_S, level))
    assert result.reason is None
    assert result.measurement("audio.input_present").value is True  # type: ignore[union-attr]
    assert result.measurement("audio.input_live").value is True  # type: ignore[union-attr]
    # L90 of white noise sits ~0.1 dB under its RMS (the spread of 100 ms frame levels).
    assert value(result, "audio.noise_floor_dbfs") == pytest.approx(level, abs=0.3)
    assert result.details["noise_leq_dbfs"] == pytest.approx(level, abs=0.1)
    assert value(result, "audio.noise_l10_dbfs") == pytest.approx(level, abs=0.3)
    assert value(result, "audio.clipping_pct") == 0.0
    # Captured at the sink's native 48 kHz, not the 44.1 kHz the device advertises.
    assert result.details["tested_device"]["capture_rate_hz"] == 48000  # type: ignore[index]


def test_a_weighting_leaves_1_khz_alone(virtual_mic: VirtualMic) -> None:
    result = measure(virtual_mic, signals.sine(PLAY_S, -30.0, 1000.0))
    plain = value(result, "audio.noise_floor_dbfs")
    assert plain == pytest.approx(-30.0, abs=0.05)
    assert value(result, "audio.noise_floor_dbfs_a") == pytest.approx(plain, abs=0.2)
    assert value(result, "audio.hum_db") < 0  # a 1 kHz tone is not mains hum


def test_a_weighting_lowers_low_frequency_noise(virtual_mic: VirtualMic) -> None:
    # Noise in the 100 Hz third-octave band: IEC 61672-1 gives A = -19.1 dB at 100 Hz
    # (-22.5 at 80, -16.1 at 125), so the A-weighted level is ~19 dB lower.
    low = signals.shaped_noise(PLAY_S, -30.0, slope=0.0, low_hz=89.0, high_hz=112.0)
    result = measure(virtual_mic, low)
    plain = value(result, "audio.noise_floor_dbfs")
    weighted = value(result, "audio.noise_floor_dbfs_a")
    assert plain - weighted == pytest.approx(19.1, abs=0.7)


def test_brown_noise_is_lowered_by_a_weighting_and_not_hum(virtual_mic: VirtualMic) -> None:
    result = measure(virtual_mic, signals.brown(PLAY_S, -40.0))
    assert value(result, "audio.noise_floor_dbfs") - value(result, "audio.noise_floor_dbfs_a") > 8
    assert value(result, "audio.hum_db") < 0


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_mains_hum_is_detected(virtual_mic: VirtualMic, mains: float) -> None:
    background = signals.pink(PLAY_S, -60.0)
    result = measure(virtual_mic, background + signals.hum(PLAY_S, mains, -50.0))
    # ECMA-74 tone-to-noise ratio: the -50 dBFS line over the pink noise power in the 100 Hz
    # band around it (20..f+50 Hz of 20 Hz..20 kHz pink noise at -60 dBFS): about 16 dB.
    band = np.log((mains + 50) / 20) / np.log(20000 / 20)
    expected = -50.0 - (-60.0 + 10 * np.log10(band))
    assert value(result, "audio.hum_db") == pytest.approx(expected, abs=2.0)
    assert result.details["hum_mains_hz"] == mains


def test_pink_noise_is_not_hum(virtual_mic: VirtualMic) -> None:
    result = measure(virtual_mic, signals.pink(PLAY_S, -40.0))
    assert value(result, "audio.hum_db") < 0
    assert value(result, "audio.noise_floor_dbfs") == pytest.approx(-40.0, abs=1.0)
    spectrum = next(s for s in result.series if s.name == "spectrum_dbfs")
    assert spectrum.x_unit == "Hz"
    # Pink noise falls 10 dB per decade of frequency.
    density = dict(spectrum.points)
    near = lambda hz: density[min(density, key=lambda f: abs(f - hz))]  # noqa: E731
    assert near(200.0) - near(2000.0) == pytest.approx(10.0, abs=1.5)


def test_clipped_signal_is_flagged(virtual_mic: VirtualMic) -> None:
    result = measure(virtual_mic, signals.clipped_sine(PLAY_S, overdrive=2.0))
    expected = 100 * (1 - 2 / np.pi * np.arcsin(1 / 2.0))  # 66.7 %
    assert value(result, "audio.clipping_pct") == pytest.approx(expected, abs=1.0)
    assert result.details["peak_dbfs"] > -0.01


def test_loud_clean_signal_is_not_clipping(virtual_mic: VirtualMic) -> None:
    result = measure(virtual_mic, signals.sine(PLAY_S, -4.0, 440.0))  # peak at -1 dBFS
    assert value(result, "audio.clipping_pct") == 0.0


def test_silence_is_a_dead_microphone_not_a_quiet_room(virtual_mic: VirtualMic) -> None:
    result = measure(virtual_mic, None)  # nothing playing: the monitor gives exact zeros
    live = result.measurement("audio.input_live")
    assert live is not None and live.value is False
    assert "no sound" in live.method
    assert result.measurement("audio.noise_floor_dbfs") is None
    reasons = {u.metric: u.reason for u in result.unmeasured}
    assert "muted" in reasons["audio.noise_floor_dbfs"]
    assert "audio.speech_snr_db" in reasons


def test_microphone_chosen_by_name(virtual_mic: VirtualMic) -> None:
    result = measure(virtual_mic, signals.white(PLAY_S, -40.0), mic="pulse")
    assert result.details["tested_device"]["name"] == "pulse"  # type: ignore[index]
    assert value(result, "audio.noise_floor_dbfs") == pytest.approx(-40.0, abs=0.3)


def test_stopped_early_keeps_what_was_recorded(virtual_mic: VirtualMic) -> None:
    cancelled = threading.Event()
    timers: list[threading.Timer] = []

    def progress(fraction: float, message: str) -> None:
        if message.startswith("measuring the room") and not timers:  # Ctrl-C 1.5 s into it
            timers.append(threading.Timer(1.5, cancelled.set))
            timers[0].start()

    context = ProbeContext(ProbeOptions(speech=True), cancelled, progress)
    with virtual_mic.play(signals.white(PLAY_S, -40.0)):
        result = AudioProbe(room_seconds=5.0).run(context)
    assert result.partial is True
    floor = result.measurement("audio.noise_floor_dbfs")
    assert floor is not None and floor.value == pytest.approx(-40.0, abs=0.5)
    assert 10 <= len(floor.samples) < 50  # about 1.5 s of frames, not the full 5 s
    reasons = {u.metric: u.reason for u in result.unmeasured}
    assert "stopped" in reasons["audio.speech_snr_db"]


def test_a_device_that_cannot_be_opened_gives_a_reason(virtual_mic: VirtualMic) -> None:
    sd = audio_devices.load_sounddevice()
    with pytest.raises(ProbeError, match="could not be opened"), Recorder(sd, 999, 48000, 1):
        pass


def test_zeros_before_a_late_allow_are_not_the_room(virtual_mic: VirtualMic) -> None:
    # macOS hands out exact zeros until the person clicks "Allow" on its microphone prompt;
    # here 3.5 s of them (longer than the recorder's 1.5 s grace), then the room's noise.
    late_allow = np.concatenate([np.zeros(round(3.5 * signals.RATE)), signals.white(PLAY_S, -45.0)])
    result = measure(virtual_mic, late_allow)
    assert result.measurement("audio.input_live").value is True  # type: ignore[union-attr]
    assert value(result, "audio.noise_floor_dbfs") == pytest.approx(-45.0, abs=0.3)
    assert value(result, "audio.noise_floor_dbfs_a") > -60.0
    floor = result.measurement("audio.noise_floor_dbfs")
    assert floor is not None and len(floor.samples) == round(ROOM_S / 0.1)  # a full room of sound
    assert min(floor.samples) > -60.0  # no frame of the zeros is left
    dropped = result.details["room_leading_zeros_s"]
    assert isinstance(dropped, float) and dropped > 0.5
