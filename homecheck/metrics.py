"""The catalogue of metric ids: the keys of profiles and of the JSON report.

An id is stable once published: renaming one breaks employers' profiles and stored reports. Each
entry says its unit and kind, so a profile line can be checked before anything is measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    NUMBER = "number"
    FLAG = "flag"
    CATEGORY = "category"


@dataclass(frozen=True)
class MetricInfo:
    metric: str
    unit: str
    kind: Kind
    label: str


def _m(metric: str, unit: str, kind: Kind, label: str) -> MetricInfo:
    return MetricInfo(metric, unit, kind, label)


N, F, C = Kind.NUMBER, Kind.FLAG, Kind.CATEGORY

CATALOGUE: tuple[MetricInfo, ...] = (
    # probes/system.py
    _m("system.cpu_cores_physical", "cores", N, "CPU cores (physical)"),
    _m("system.cpu_cores_logical", "threads", N, "CPU threads (logical cores)"),
    _m("system.cpu_max_mhz", "MHz", N, "CPU top speed"),
    _m("system.cpu_headroom_pct", "%", N, "CPU free (headroom)"),
    _m("system.ram_total_gb", "GB", N, "Memory installed"),
    _m("system.ram_available_gb", "GB", N, "Memory free to use"),
    _m("system.swap_used_gb", "GB", N, "Swap in use"),
    _m("system.disk_free_gb", "GB", N, "Disk space free"),
    _m("system.os", "", C, "Operating system"),
    _m("system.os_supported", "", F, "Operating system supported"),
    _m("system.on_battery", "", F, "Running on battery"),
    _m("system.battery_pct", "%", N, "Battery charge"),
    # probes/network/__init__.py
    _m("network.download_mbps", "Mbit/s", N, "Download speed"),
    _m("network.upload_mbps", "Mbit/s", N, "Upload speed"),
    _m("network.latency_ms", "ms", N, "Round-trip delay (median)"),
    _m("network.latency_p95_ms", "ms", N, "Round-trip delay (95th percentile)"),
    _m("network.jitter_up_ms", "ms", N, "Jitter, upstream"),
    _m("network.jitter_down_ms", "ms", N, "Jitter, downstream"),
    _m("network.loss_up_pct", "%", N, "Packet loss, upstream"),
    _m("network.loss_down_pct", "%", N, "Packet loss, downstream"),
    _m("network.loaded_latency_increase_ms", "ms", N, "Delay added under load (bufferbloat)"),
    _m("network.mos", "MOS", N, "Estimated call quality (MOS)"),
    _m("network.udp_ok", "", F, "Voice traffic (UDP) gets through"),
    _m("network.worst_window_loss_pct", "%", N, "Packet loss, worst 10 s"),
    _m("network.worst_window_jitter_ms", "ms", N, "Jitter, worst 10 s"),
    _m("network.worst_window_mos", "MOS", N, "Call quality, worst 10 s"),
    _m("network.connection", "", C, "Connection type"),
    _m("network.link_speed_mbps", "Mbit/s", N, "Network adapter link speed"),
    _m("network.wifi_signal_dbm", "dBm", N, "Wi-Fi signal strength"),
    _m("network.vpn", "", F, "Traffic goes through a VPN"),
    _m("network.dns_ms", "ms", N, "Name lookup (DNS) time"),
    # probes/audio/__init__.py
    _m("audio.input_present", "", F, "Microphone present"),
    _m("audio.input_live", "", F, "Microphone picks up sound (not muted)"),
    _m("audio.headset", "", C, "Headset type"),
    _m("audio.noise_floor_dbfs", "dBFS", N, "Room background noise"),
    _m("audio.noise_floor_dbfs_a", "dBFS(A)", N, "Room background noise (A-weighted)"),
    _m("audio.noise_l10_dbfs", "dBFS", N, "Room intermittent noise (L10)"),
    _m("audio.clipping_pct", "%", N, "Microphone clipping"),
    _m("audio.hum_db", "dB", N, "Electrical hum"),
    _m("audio.speech_snr_db", "dB", N, "Voice above background (speech-to-noise)"),
)

BY_ID: dict[str, MetricInfo] = {info.metric: info for info in CATALOGUE}

# The measured areas, in report order: the prefix of a metric id is the name of its probe.
AREAS: dict[str, str] = {"system": "Computer", "network": "Network", "audio": "Microphone and room"}


def area(metric: str) -> str:
    return metric.split(".", 1)[0]


def in_area(name: str) -> tuple[str, ...]:
    """The metric ids a probe answers for, in catalogue order: the catalogue is the one list."""
    return tuple(info.metric for info in CATALOGUE if area(info.metric) == name)


def info(metric: str) -> MetricInfo:
    return BY_ID[metric]
