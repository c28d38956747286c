"""The one set of canned reports the renderer tests share (pip-audit's test/format/conftest.py
pattern); tests/reports/conftest.py offers them as fixtures.

Built from the model dataclasses with the series names the probes use (homecheck.model.Series),
judged by the real aggregator against the built-in voice profile:
- `full_report`: system, network and audio with series and details; an audio device name and a
  process name carry HTML/script injections, which must come out as text;
- `system_only_report`: `homecheck run --only system`; network and audio are left out;
- `interrupted_report`: Ctrl-C during the network test: a partial network result, audio never ran;
- `failed_probe_report`: the audio probe could not run (no PortAudio), the upload test timed out,
  and a process name is rich markup, which the terminal must print as text.
"""

from __future__ import annotations

import math
from dataclasses import replace

from homecheck import aggregator, profiles
from homecheck.model import JSON, Cause, Measurement, ProbeResult, Report, Series, Unmeasured
from homecheck.probe import STOPPED_REASON

HOSTILE_DEVICE = 'Headset <script>window.__pwned = 1; document.title = "pwned"</script> USB'
HOSTILE_PROCESS = '<img src="http://127.0.0.1:9/x.png" onerror="window.__pwned = 2">'
HOSTILE_MARKUP = "[bold red]<script>alert(1)</script>"  # rich markup, for the terminal
STARTED, FINISHED = "2025-03-14T09:26:53+00:00", "2025-03-14T09:27:58+00:00"


def _cpu_series(seconds: float = 3.0, cores: int = 4) -> tuple[Series, ...]:
    steps = [round(0.5 * (i + 1), 2) for i in range(int(seconds / 0.5))]
    per_core = [
        tuple((t, round(20 + 15 * math.sin(t + core) + 10 * core, 1)) for t in steps)
        for core in range(cores)
    ]
    total = tuple(
        (t, round(sum(c[i][1] for c in per_core) / cores, 1)) for i, t in enumerate(steps)
    )
    return (
        Series("cpu_busy_pct", "%", total),
        *(Series(f"cpu{n}_busy_pct", "%", points) for n, points in enumerate(per_core)),
    )


def system_result(partial: bool = False) -> ProbeResult:
    return ProbeResult(
        probe="system",
        measurements=(
            Measurement("system.cpu_cores_physical", 2.0, "cores"),
            Measurement("system.cpu_cores_logical", 4.0, "threads"),
            Measurement("system.cpu_max_mhz", 3400, "MHz"),
            Measurement(
                "system.cpu_headroom_pct",
                62.5,
                "%",
                samples=(60.1, 63.0, 64.4),
                method="CPU use sampled every 0.5 s for 3 s",
            ),
            Measurement("system.ram_total_gb", 7.7, "GB"),
            Measurement("system.ram_available_gb", 1.6, "GB"),
            Measurement("system.swap_used_gb", 0.4, "GB"),
            Measurement("system.disk_free_gb", 41.3, "GB"),
            Measurement("system.os", "Debian GNU/Linux 12 (bookworm)", ""),
            Measurement("system.os_supported", True, ""),
            Measurement("system.on_battery", True, ""),
            Measurement("system.battery_pct", 64.0, "%"),
        ),
        series=_cpu_series(),
        details={
            "cpu_model": "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz",
            "os_kernel": "6.1.0-18-amd64",
            "architecture": "x86_64",
            "battery_present": True,
            "top_cpu": [
                {"name": "firefox-esr", "cpu_pct": 21.4, "processes": 9},
                {"name": HOSTILE_PROCESS, "cpu_pct": 6.2, "processes": 1},
                {"name": "Xorg", "cpu_pct": 2.0, "processes": 1},
            ],
            "top_memory": [
                {"name": "firefox-esr", "rss_gb": 2.31, "processes": 9},
                {"name": "teams-for-linux", "rss_gb": 0.92, "processes": 4},
            ],
        },
        duration_s=3.4,
        partial=partial,
    )


def _rtt(t: float) -> float:
    base = 24 + 3 * math.sin(7 * t)
    if 5 <= t < 13:  # download load: the buffer fills (bufferbloat)
        return base + min(120.0, 40 * (t - 5))
    if 13 <= t < 21:  # upload load
        return base + min(240.0, 60 * (t - 13))
    return base


def network_result(until_s: float = 21.0) -> ProbeResult:
    """The network probe; `until_s` < 21 cuts it short like Ctrl-C would."""
    stopped = until_s < 21.0
    phases = tuple(
        (name, start, min(end, until_s))
        for name, start, end in (
            ("idle", 0.0, 5.0),
            ("download", 5.0, 13.0),
            ("upload", 13.0, 21.0),
        )
        if start < until_s
    )
    # NaN: an echo that never came back (JSON null); the chart shows a gap there.
    rtt = tuple(
        (round(i / 50, 2), math.nan if i % 97 == 0 else round(_rtt(i / 50), 1))
        for i in range(int(until_s * 50))
    )
    download = tuple(
        (round(t, 2), round(42 + 6 * math.sin(3 * t), 1))
        for t in (5 + i * 0.25 for i in range(32))
        if t < until_s
    )
    upload = tuple(
        (round(t, 2), round(4.1 + 0.6 * math.cos(2 * t), 2))
        for t in (13 + i * 0.25 for i in range(32))
        if t < until_s
    )
    series = [Series("rtt_ms", "ms", rtt, phases=phases)]
    if download:
        # Like probes/network/employer/result.py: only the delay series carries the phases.
        series.append(Series("download_mbps", "Mbit/s", download))
    if upload:
        series.append(Series("upload_mbps", "Mbit/s", upload))
    measured = [
        Measurement("network.latency_ms", 24.6, "ms", method="UDP echo, 50 packets/s"),
        Measurement("network.latency_p95_ms", 29.8, "ms"),
        Measurement("network.jitter_down_ms", 2.1, "ms"),
        Measurement("network.jitter_up_ms", 2.6, "ms"),
        Measurement("network.loss_down_pct", 0.0, "%"),
        Measurement("network.loss_up_pct", 1.0, "%"),
        Measurement("network.udp_ok", True, ""),
        Measurement("network.connection", "wifi", ""),
        Measurement("network.wifi_signal_dbm", -71.0, "dBm"),
        Measurement("network.dns_ms", 18.0, "ms"),
    ]
    if not stopped:
        measured += [
            Measurement("network.download_mbps", 42.5, "Mbit/s"),
            Measurement("network.upload_mbps", 4.1, "Mbit/s"),
            Measurement("network.loaded_latency_increase_ms", 228.0, "ms"),
            Measurement("network.mos", 4.2, "MOS"),
            Measurement("network.worst_window_loss_pct", 1.4, "%"),
            Measurement("network.worst_window_mos", 3.9, "MOS"),
        ]
    unmeasured = (
        tuple(
            Unmeasured(metric, STOPPED_REASON, Cause.STOPPED)
            for metric in ("network.download_mbps", "network.upload_mbps", "network.mos")
        )
        if stopped
        else ()
    )
    return ProbeResult(
        probe="network",
        measurements=tuple(measured),
        unmeasured=unmeasured,
        series=tuple(series),
        details={"server": "homecheck serve (employer)", "streams": 4},
        duration_s=round(until_s, 1),
        partial=stopped,
    )


def _device(index: int, name: str, default: bool, kind: str) -> dict[str, JSON]:
    """One entry of the audio probe's `devices` detail (probes/audio.py `_device_details`)."""
    return {
        "index": index,
        "name": name,
        "host_api": "ALSA",
        "channels": 1 if default else 2,
        "default_rate_hz": 48000.0,
        "default": default,
        "kind": kind,
        "native_rate_hz": 48000 if default else None,
    }


def audio_result() -> ProbeResult:
    """The audio probe's shape: 3 s of room, then a read-aloud sentence (phases room/speech)."""
    room = tuple(
        (
            round((i + 1) * 0.1, 1),
            round(-58 + 4 * math.sin(i / 3) + (14 if i in (17, 18) else 0), 1),
        )
        for i in range(30)
    )
    speech = tuple(
        (
            round(3.5 + (i + 1) * 0.1, 1),
            round(-24 + 6 * math.sin(i * 1.7) - (18 if i % 9 == 8 else 0), 1),
        )
        for i in range(35)
    )
    # A quiet room: noise falling ~4 dB per octave, mains hum at 50 Hz and its harmonics.
    spectrum = tuple(
        (
            round(f, 2),
            round(
                -92
                - 13 * math.log10(f / 20)
                + sum(18 / h for h in (1, 2, 3) if abs(f - 50 * h) < 6)
                + 1.5 * math.sin(9 * math.log(f)),
                1,
            ),
        )
        for f in (i * 48000 / 4096 for i in range(1, 1707))
    )
    device = _device(3, HOSTILE_DEVICE, True, "usb_headset")
    return ProbeResult(
        probe="audio",
        measurements=(
            Measurement("audio.input_present", True, ""),
            Measurement("audio.input_live", True, ""),
            Measurement("audio.headset", "usb_headset", "", method="USB audio device"),
            Measurement(
                "audio.noise_floor_dbfs", -58.2, "dBFS", method="10th percentile of 100 ms frames"
            ),
            Measurement("audio.noise_l10_dbfs", -47.5, "dBFS"),
            Measurement("audio.clipping_pct", 0.0, "%"),
            Measurement("audio.hum_db", 14.0, "dB"),
            Measurement("audio.speech_snr_db", 31.0, "dB"),
        ),
        series=(
            Series(
                "level_dbfs",
                "dBFS",
                room + speech,
                phases=(("room", 0.0, 3.0), ("speech", 3.5, 7.0)),
            ),
            Series("spectrum_dbfs", "dBFS/Hz", spectrum, x_unit="Hz"),
        ),
        details={
            "devices": [device, _device(0, "Built-in Audio Analog Stereo", False, "builtin")],
            "tested_device": {**device, "capture_rate_hz": 48000, "capture_channels": 1},
            "noise_leq_dbfs": -55.1,
            "hum_mains_hz": 50,
            "hum_lines": [{"hz": 50.0, "tnr_db": 14.0}, {"hz": 100.0, "tnr_db": 7.2}],
        },
        duration_s=7.4,
    )


def make_report(results: tuple[ProbeResult, ...], *, interrupted: bool = False) -> Report:
    profile = profiles.load("voice")
    judgement = aggregator.judge(profile, results)
    return Report(
        tool_version="0.1.0",
        profile=profile,
        started_at=STARTED,
        finished_at=FINISHED,
        results=results,
        findings=judgement.findings,
        areas=judgement.areas,
        overall=judgement.overall,
        interrupted=interrupted,
    )


def full_report() -> Report:
    return make_report((system_result(), network_result(), audio_result()))


def system_only_report() -> Report:
    return make_report((system_result(),))


def interrupted_report() -> Report:
    stopped_audio = ProbeResult(
        probe="audio", reason=STOPPED_REASON, cause=Cause.STOPPED, partial=True
    )
    return make_report(
        (system_result(), network_result(until_s=9.0), stopped_audio), interrupted=True
    )


def failed_probe_report(*, interrupted: bool = False) -> Report:
    system = system_result()
    top_cpu = [{"name": HOSTILE_MARKUP, "cpu_pct": 61.0, "processes": 3}]
    system = replace(system, details={**system.details, "top_cpu": top_cpu})
    network = network_result()
    network = replace(
        network,
        measurements=tuple(m for m in network.measurements if m.metric != "network.upload_mbps"),
        unmeasured=(Unmeasured("network.upload_mbps", "the upload test timed out"),),
        partial=interrupted,
    )
    audio = ProbeResult(probe="audio", reason="PortAudio is not installed: install libportaudio2")
    return make_report((system, network, audio), interrupted=interrupted)


def recommended_unmeasured_report() -> Report:
    """Review defect D5: every required microphone line passes and a recommended one (hum) could not
    be measured, so the area passes, as the overall verdict would."""
    audio = audio_result()
    audio = replace(
        audio,
        measurements=tuple(m for m in audio.measurements if m.metric != "audio.hum_db"),
        unmeasured=(Unmeasured("audio.hum_db", "too little sound to find a hum"),),
    )
    return make_report((system_result(), network_result(), audio))


# Every canned report by name: tests/reports/conftest.py turns them into fixtures.
CANNED = {
    "full_report": full_report,
    "system_only_report": system_only_report,
    "interrupted_report": interrupted_report,
    "failed_probe_report": failed_probe_report,
    "recommended_unmeasured_report": recommended_unmeasured_report,
}
