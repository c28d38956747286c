"""The microphone and the room: what the customer will hear behind the agent's voice.

What it measures
- Microphones: every input device, the system default and the one tested (`--mic NAME|INDEX`,
  list them with `homecheck devices`), its native sample rate and channels, and what kind of
  microphone it probably is (audio.headset: usb_headset, wired_headset, bluetooth_headset, builtin
  or unknown), guessed from its name, its host API and, on Linux, the sound server's bus and form
  factor. A Bluetooth headset in hands-free mode is flagged as narrowband (telephone-band sound).
- The room, while the person stays quiet for about 5 s:
  - levels of consecutive 100 ms frames in dBFS (RMS relative to full scale: 0 dBFS is the
    loudest the microphone can give; a full-scale sine is -3 dBFS);
  - background noise (audio.noise_floor_dbfs) = L90, the 10th percentile of the frame levels,
    the steady noise of fans, traffic and appliances; also A-weighted (IEC 61672-1, the ear's
    sensitivity: low rumble counts less) as audio.noise_floor_dbfs_a;
  - intermittent noise (audio.noise_l10_dbfs) = L10, the 90th percentile (voices, a TV, a dog),
    and the spread L10 - L90;
  - peak level, DC offset (a faulty microphone or interface), clipping (audio.clipping_pct, the
    share of samples at full scale, over the whole recording including speech);
  - mains hum (audio.hum_db): 50/60 Hz and harmonics as an ECMA-74 tone-to-noise ratio, the
    strongest line's power over the noise in the 100 Hz critical band around it. Values at the
    floor (-20 dB) mean no line was found; ECMA-74 calls a tone prominent from about 14 dB.
  - a muted, switched-off or privacy-blocked microphone gives digital silence or a constant
    signal: it is reported as such (audio.input_live = no), never as "a very quiet room".
  - exact zeros at the start of the room recording (macOS hands them out until the person
    clicks "Allow" on its microphone prompt) are not the room: they are dropped and as much
    room is recorded again, so the figures come only from the live sound.
- Speech (on by default in a terminal, `--no-speech` skips it): the person reads a sentence shown
  on screen for about 6 s. Active speech level = the ITU-T P.56 idea (power averaged over the
  time speech is active: within 15.9 dB of that level, with a 200 ms hangover) on 100 ms frames
  with the background power subtracted; audio.speech_snr_db = active speech level - steady
  background level (the energy average of the quieter half of the room's frames). Checked
  against P.56 on synthetic speech over noise: within about 0.5 dB from 5 to 35 dB.

Why the speech-to-noise ratio comes first: a dBFS level depends on the microphone's gain (the
input volume slider moves it by tens of dB), so the same room reads -60 or -40 dBFS. The ratio of
the voice to the room is what the customer hears, so profiles judge audio.speech_snr_db first
(required) and the noise floor second (recommended).

Default thresholds (homecheck/profiles/*.toml, with their sources there): speech-to-noise at least
15 dB (ideally 25), background at most -40 dBFS (ideally -50), intermittent noise at most -30 dBFS,
clipping at most 1 % (ideally 0.1 %), hum at most 20 dB (ideally 10), a USB or wired headset.

Privacy: sound is analysed in memory while it is recorded and then discarded; it is never written
to disk or sent anywhere. Reports keep numbers only, and device names without owners' names.

How: sounddevice (PortAudio) at a rate the device runs at natively (resampling in the sound server
changes levels), numpy for the analysis (probes/audio/analysis.py), devices in
probes/audio/devices.py and probes/audio/headset.py, the in-memory recording in
probes/audio/recorder.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from homecheck.metrics import Metric, in_area, measured
from homecheck.model import (
    JSON,
    Cause,
    Measurement,
    Phase,
    ProbeResult,
    Series,
    SeriesName,
    Unmeasured,
)
from homecheck.probe import ProbeContext, ProbeError, ProbeOptions
from probes.audio import analysis, devices
from probes.audio.recorder import Recorder

# Short enough to show whole beside the progress bar on an 80-column terminal.
SENTENCE = "Thank you for calling. How can I help you today?"
# A run of exact zeros this long at the start of the room is not a microphone's sound (even a
# quiet 16-bit one toggles its last bit): it is a device still starting or still blocked.
MIN_ZERO_RUN_S = 0.05
# Reading the sentence takes about 4 s: less than 10 % of the window active is not the sentence.
MIN_SPEECH_FRACTION = 0.1
ROOM_METRICS = (
    Metric.NOISE_FLOOR_DBFS,
    Metric.NOISE_FLOOR_DBFS_A,
    Metric.NOISE_L10_DBFS,
    Metric.CLIPPING_PCT,
    Metric.HUM_DB,
)


class AudioProbe:
    name: ClassVar[str] = "audio"
    title: ClassVar[str] = "Microphone and room"
    metrics: ClassVar[tuple[str, ...]] = in_area("audio")

    def __init__(
        self, room_seconds: float = 5.0, speech_seconds: float = 6.0, ready_seconds: float = 2.0
    ) -> None:
        self.room_seconds = room_seconds
        self.speech_seconds = speech_seconds
        self.ready_seconds = ready_seconds

    def expected_seconds(self, options: ProbeOptions) -> float:
        speech = self.ready_seconds + self.speech_seconds if options.speech else 0.0
        return 1.5 + self.room_seconds + speech

    def timeout_seconds(self, options: ProbeOptions) -> float:
        return self.expected_seconds(options) + 20.0

    def run(self, context: ProbeContext) -> ProbeResult:
        started = time.monotonic()
        details: dict[str, JSON] = {}
        try:
            result = self._measure(context, details)
        except ProbeError as exc:
            result = ProbeResult(probe=self.name, details=details, reason=str(exc))
        return _with_duration(result, time.monotonic() - started)

    def _measure(self, context: ProbeContext, details: dict[str, JSON]) -> ProbeResult:
        context.progress(0.0, "looking for microphones")
        sd = devices.load_sounddevice()
        inputs = devices.list_inputs(sd)
        details["devices"] = [_device_details(d) for d in inputs]
        if not inputs:
            why = "no microphone was found"
            return ProbeResult(
                probe=self.name,
                measurements=(
                    measured(Metric.INPUT_PRESENT, False, method="no input device found"),
                ),
                unmeasured=tuple(
                    Unmeasured(m, why) for m in self.metrics if m != Metric.INPUT_PRESENT
                ),
                details=details,
            )
        device = devices.choose(inputs, context.options.mic)
        if device is None:
            raise ProbeError(
                f"--mic {context.options.mic!r}: no such microphone "
                f"({devices.describe_choices(inputs)})"
            )
        rate, channels = devices.capture_settings(sd, device)
        details["tested_device"] = {
            **_device_details(device),
            "capture_rate_hz": rate,
            "capture_channels": channels,
            "narrowband": device.narrowband,
            "hint": device.hint,
        }
        measurements = [
            measured(Metric.INPUT_PRESENT, True),
            measured(Metric.HEADSET, device.kind, method=device.hint),
        ]
        take = self._record(sd, device, rate, channels, context)
        return self._result(take, device, measurements, details, context.options.speech)

    def _record(
        self,
        sd: ModuleType,
        device: devices.InputDevice,
        rate: int,
        channels: int,
        context: ProbeContext,
    ) -> _Take:
        speech = context.options.speech
        phases = self.room_seconds + (self.ready_seconds + self.speech_seconds if speech else 0.0)

        def show(offset_s: float, seconds: float, message: str) -> Callable[[float], None]:
            return lambda done: context.progress(
                0.1 + 0.9 * (offset_s + done * seconds) / phases, message
            )

        take = _Take(rate=rate)
        with Recorder(sd, device.index, rate, channels, device.host_api) as recorder:
            context.progress(0.02, "starting the microphone")
            recorder.wait_for_sound(context.cancelled)
            quiet = "measuring the room: please stay quiet"
            context.progress(0.1, quiet)
            take.room = recorder.record(
                self.room_seconds, context.cancelled, show(0.0, self.room_seconds, quiet)
            )
            take.room = _without_leading_zeros(take, recorder, context)
            take.room_complete = len(take.room) >= round(self.room_seconds * rate)
            if speech and take.room_complete and not _is_dead(take.room):
                ready = f'Get ready to read: "{SENTENCE}"'
                context.progress(0.1 + 0.9 * self.room_seconds / phases, ready)
                waited = recorder.record(
                    self.ready_seconds,
                    context.cancelled,
                    show(self.room_seconds, self.ready_seconds, ready),
                )
                take.speech_start_s = (len(take.room) + len(waited)) / rate
                prompt = f'Read aloud now: "{SENTENCE}"'
                context.progress(take.speech_start_s / phases, prompt)
                take.speech = recorder.record(
                    self.speech_seconds,
                    context.cancelled,
                    show(self.room_seconds + self.ready_seconds, self.speech_seconds, prompt),
                )
            take.overflows = recorder.overflows
        context.progress(1.0, "analysing")
        take.cancelled = context.cancelled.is_set()
        return take

    def _result(
        self,
        take: _Take,
        device: devices.InputDevice,
        measurements: list[Measurement],
        details: dict[str, JSON],
        speech_wanted: bool,
    ) -> ProbeResult:
        unmeasured: list[Unmeasured] = []
        series: list[Series] = []
        room, speech = _loudest_channel(take.room, take.speech)
        details["input_overflows"] = take.overflows
        if take.leading_zeros_s:
            details["room_leading_zeros_s"] = round(take.leading_zeros_s, 2)
        dead = analysis.dead_signal(room)
        if dead is not None and len(room) >= take.rate * analysis.FRAME_S:
            muted = device.server_source is not None and device.server_source.muted
            why = _dead_reason(dead, muted, device.host_api)
            measurements.append(measured(Metric.INPUT_LIVE, False, method=why))
            unmeasured += [Unmeasured(m, why) for m in (*ROOM_METRICS, Metric.SPEECH_SNR_DB)]
            details["dead_signal"] = dead
            return self._finish(take, measurements, unmeasured, series, details)
        if len(room) < take.rate * analysis.FRAME_S:
            why = "stopped before the room was recorded"
            missing = (Metric.INPUT_LIVE, *ROOM_METRICS, Metric.SPEECH_SNR_DB)
            unmeasured += [Unmeasured(m, why, Cause.STOPPED) for m in missing]
            return self._finish(take, measurements, unmeasured, series, details)

        measurements.append(measured(Metric.INPUT_LIVE, True))
        noise = analysis.analyse_room(room, take.rate)
        measurements += _room_measurements(noise, room, speech, len(room) / take.rate)
        details.update(_room_details(noise))
        levels = tuple(
            (round((i + 1) * analysis.FRAME_S, 2), v) for i, v in enumerate(noise.frame_levels_dbfs)
        )
        phases = [(Phase.ROOM, 0.0, round(len(room) / take.rate, 2))]
        if len(speech):
            speech_levels = analysis.levels_dbfs(analysis.frame_powers(speech, take.rate))
            start = take.speech_start_s
            levels += tuple(
                (round(start + (i + 1) * analysis.FRAME_S, 2), round(float(v), 2))
                for i, v in enumerate(speech_levels)
            )
            phases.append(
                (Phase.SPEECH, round(start, 2), round(start + len(speech) / take.rate, 2))
            )
        series.append(Series(SeriesName.LEVEL_DBFS, "dBFS", levels, phases=tuple(phases)))
        spectrum = analysis.spectrum_points(noise.spectrum)
        series.append(Series(SeriesName.SPECTRUM_DBFS, "dBFS/Hz", spectrum, x_unit="Hz"))
        measurements_speech, why_not = _speech(speech, take, noise, speech_wanted)
        if measurements_speech is not None:
            measurements.append(measurements_speech[0])
            details.update(measurements_speech[1])
        else:
            cause = (
                Cause.SKIPPED_BY_USER
                if not speech_wanted
                else Cause.STOPPED
                if not take.room_complete or len(speech) < take.rate
                else Cause.PROBE_FAILED
            )
            unmeasured.append(Unmeasured(Metric.SPEECH_SNR_DB, why_not, cause))
        return self._finish(take, measurements, unmeasured, series, details)

    def _finish(
        self,
        take: _Take,
        measurements: list[Measurement],
        unmeasured: list[Unmeasured],
        series: list[Series],
        details: dict[str, JSON],
    ) -> ProbeResult:
        return ProbeResult(
            probe=self.name,
            measurements=tuple(measurements),
            unmeasured=tuple(unmeasured),
            series=tuple(series),
            details=details,
            partial=take.cancelled,
        )


@dataclass
class _Take:
    """What was recorded, in memory only."""

    rate: int
    room: np.ndarray[Any, np.dtype[np.float64]] = field(default_factory=lambda: np.zeros((0, 1)))
    speech: np.ndarray[Any, np.dtype[np.float64]] = field(default_factory=lambda: np.zeros((0, 1)))
    room_complete: bool = False
    speech_start_s: float = 0.0
    overflows: int = 0
    cancelled: bool = False
    leading_zeros_s: float = 0.0  # exact zeros dropped from the start of the room recording


def _without_leading_zeros(
    take: _Take, recorder: Recorder, context: ProbeContext
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The room recording without the exact zeros at its start, made up to its length again from
    the live microphone. A late "Allow" on macOS's microphone prompt leaves seconds of zeros
    that the recorder's short grace did not skip; kept, they would set the background level to
    the -150 dBFS floor and inflate the speech-to-noise ratio. All zeros stay: that is a dead
    microphone, reported as such."""
    lead = analysis.leading_zeros(take.room)
    if lead == len(take.room) or lead < MIN_ZERO_RUN_S * take.rate:
        return take.room
    take.leading_zeros_s = lead / take.rate
    more = recorder.record(lead / take.rate, context.cancelled, None)
    return np.concatenate([take.room[lead:], more])


def _is_dead(room: np.ndarray[Any, np.dtype[np.float64]]) -> bool:
    return analysis.dead_signal(_loudest_channel(room, room[:0])[0]) is not None


def _loudest_channel(
    room: np.ndarray[Any, np.dtype[np.float64]], speech: np.ndarray[Any, np.dtype[np.float64]]
) -> tuple[analysis.Signal, analysis.Signal]:
    """One channel to analyse: the one with the most signal (a laptop's second channel can be
    dead or inverted, so averaging them could cancel the voice)."""
    if room.ndim == 1:
        return room.astype(np.float64), speech.astype(np.float64).reshape(-1)
    whole = np.concatenate([room, speech]) if len(speech) else room
    best = int(np.argmax(np.var(whole, axis=0))) if len(whole) else 0
    speech_channel = speech[:, best] if len(speech) else np.zeros(0)
    return room[:, best].astype(np.float64), speech_channel.astype(np.float64)


def _room_measurements(
    noise: analysis.RoomNoise,
    room: analysis.Signal,
    speech: analysis.Signal,
    seconds: float,
) -> list[Measurement]:
    frames = noise.frame_levels_dbfs
    method = f"10th percentile (L90) of {len(frames)} levels of 100 ms over {seconds:.1f} s"
    gain_note = "; depends on the microphone's input volume, judged after the speech-to-noise ratio"
    everything = np.concatenate([room, speech]) if len(speech) else room
    return [
        measured(
            Metric.NOISE_FLOOR_DBFS,
            noise.floor_dbfs,
            samples=frames,
            method=method + gain_note,
        ),
        measured(
            Metric.NOISE_FLOOR_DBFS_A,
            noise.floor_a_dbfs,
            method=method + ", A-weighted (IEC 61672-1)" + gain_note,
        ),
        measured(
            Metric.NOISE_L10_DBFS,
            noise.l10_dbfs,
            method=f"90th percentile (L10) of {len(frames)} levels of 100 ms",
        ),
        measured(
            Metric.CLIPPING_PCT,
            analysis.clipping_pct(everything),
            method="share of samples at full scale, room and speech recordings",
        ),
        measured(
            Metric.HUM_DB,
            noise.hum.tnr_db,
            samples=tuple(tnr for _, tnr in noise.hum.lines),
            method="tone-to-noise ratio (ECMA-74) of the strongest 50/60 Hz mains line",
        ),
    ]


def _room_details(noise: analysis.RoomNoise) -> dict[str, JSON]:
    return {
        "noise_leq_dbfs": noise.leq_dbfs,
        "noise_spread_db": round(noise.l10_dbfs - noise.floor_dbfs, 2),
        "peak_dbfs": noise.peak_dbfs,
        "dc_offset": noise.dc_offset,
        "dc_offset_dbfs": round(analysis.db_power(noise.dc_offset**2), 1),
        "hum_mains_hz": noise.hum.mains_hz,
        "hum_lines": [{"hz": f, "tnr_db": tnr} for f, tnr in noise.hum.lines],
        "spectrum_resolution_hz": round(noise.spectrum.resolution_hz, 3),
    }


def _speech(
    speech: analysis.Signal, take: _Take, noise: analysis.RoomNoise, wanted: bool
) -> tuple[tuple[Measurement, dict[str, JSON]] | None, str]:
    if not wanted:
        return None, (
            "the read-aloud check was skipped (--no-speech, or homecheck was not run in a "
            "terminal); run `homecheck run --speech` in a terminal to include it"
        )
    if not take.room_complete or len(speech) < take.rate:
        return None, "stopped before the read-aloud check"
    level = analysis.speech_level(speech, take.rate, noise.steady_power, noise.frame_power_sd)
    if level is None or level.active_fraction < MIN_SPEECH_FRACTION:
        return None, (
            "no voice was heard while you were asked to read the sentence: check that this is "
            "the microphone you speak into (see `homecheck devices`) and read at a normal volume"
        )
    measurement = measured(
        Metric.SPEECH_SNR_DB,
        level.snr_db,
        method="active speech level (ITU-T P.56 idea, 100 ms frames, background subtracted) "
        "over the steady background",
    )
    return (
        measurement,
        {
            "speech_active_level_dbfs": level.active_level_dbfs,
            "speech_active_pct": round(100 * level.active_fraction, 1),
            "speech_peak_dbfs": round(analysis.db_power(float(np.max(np.abs(speech))) ** 2), 2),
        },
    ), ""


def _dead_reason(dead: str, muted: bool, host_api: str) -> str:
    if muted:
        return f"the microphone is muted in the sound settings: it gives {dead}; unmute it"
    if host_api == "Core Audio":
        # macOS opens the stream and hands out exact zeros while the app may not use the
        # microphone (python-sounddevice #267, #332): the privacy setting is the likely cause.
        return (
            f"the microphone gives no sound at all ({dead}): macOS gives silence to apps it "
            f"does not allow to use the microphone; allow it ({devices.permission_steps(host_api)}"
            "), then run homecheck again; otherwise it is muted or switched off"
        )
    return (
        f"the microphone gives no sound at all ({dead}): it is muted, switched off or blocked "
        f"by privacy settings ({devices.permission_steps(host_api)}); see the line "
        "'Microphone picks up sound'"
    )


def _device_details(device: devices.InputDevice) -> dict[str, JSON]:
    return {
        "index": device.index,
        "name": devices.report_name(device.name),
        "host_api": device.host_api,
        "channels": device.channels,
        "default_rate_hz": device.default_rate,
        "default": device.is_default,
        "kind": device.kind,
        "native_rate_hz": device.server_source.rate if device.server_source else None,
    }


def _with_duration(result: ProbeResult, seconds: float) -> ProbeResult:
    return replace(result, duration_s=round(seconds, 3))
