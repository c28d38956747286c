"""The catalogue of metric ids: the keys of profiles and of the JSON report.

An id is stable once published: renaming one breaks employers' profiles and stored reports. Each
entry says its unit, kind and label and, for a category, its closed set of values, so a profile line
can be checked before anything is measured and a probe's output can be checked against it
(`check`). Producers build measurements with `measured`, which takes the unit from here.

`Metric` names every id; a member's name is the id after the area, upper-cased
(`Metric.DOWNLOAD_MBPS` is "network.download_mbps"), so grep finds the producers of an id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from homecheck.model import Measurement, ProbeResult, Value


class Kind(StrEnum):
    NUMBER = "number"
    FLAG = "flag"
    # One of a closed set of values (`MetricInfo.values`); profiles list the acceptable ones.
    CATEGORY = "category"
    # Free text shown to the reader (e.g. "Windows 11"); not a limit a profile can set.
    TEXT = "text"


class ConnectionKind(StrEnum):
    """The adapter that carries the traffic (probes/network/connection.py)."""

    WIRED = "wired"
    WIFI = "wifi"
    CELLULAR = "cellular"
    UNKNOWN = "unknown"


class HeadsetKind(StrEnum):
    """What kind of microphone the tested input is (probes/audio/headset.py)."""

    USB_HEADSET = "usb_headset"
    WIRED_HEADSET = "wired_headset"
    BLUETOOTH_HEADSET = "bluetooth_headset"
    BUILTIN = "builtin"
    UNKNOWN = "unknown"


class Metric(StrEnum):
    # probes/system.py
    CPU_CORES_PHYSICAL = "system.cpu_cores_physical"
    CPU_CORES_LOGICAL = "system.cpu_cores_logical"
    CPU_MAX_MHZ = "system.cpu_max_mhz"
    CPU_HEADROOM_PCT = "system.cpu_headroom_pct"
    RAM_TOTAL_GB = "system.ram_total_gb"
    RAM_AVAILABLE_GB = "system.ram_available_gb"
    SWAP_USED_GB = "system.swap_used_gb"
    DISK_FREE_GB = "system.disk_free_gb"
    OS = "system.os"
    OS_SUPPORTED = "system.os_supported"
    ON_BATTERY = "system.on_battery"
    BATTERY_PCT = "system.battery_pct"
    # probes/network/employer/result.py against `homecheck serve`, probes/network/public/backend.py
    # against speedtest.net; the delay/jitter/loss/MOS figures through
    # probes/network/analysis/callquality.py in both cases
    DOWNLOAD_MBPS = "network.download_mbps"
    UPLOAD_MBPS = "network.upload_mbps"
    LATENCY_MS = "network.latency_ms"
    LATENCY_P95_MS = "network.latency_p95_ms"
    JITTER_UP_MS = "network.jitter_up_ms"
    JITTER_DOWN_MS = "network.jitter_down_ms"
    LOSS_UP_PCT = "network.loss_up_pct"
    LOSS_DOWN_PCT = "network.loss_down_pct"
    LOADED_LATENCY_INCREASE_MS = "network.loaded_latency_increase_ms"
    MOS = "network.mos"
    UDP_OK = "network.udp_ok"
    WORST_WINDOW_LOSS_PCT = "network.worst_window_loss_pct"
    WORST_WINDOW_JITTER_MS = "network.worst_window_jitter_ms"
    WORST_WINDOW_MOS = "network.worst_window_mos"
    # probes/network/connection.py
    CONNECTION = "network.connection"
    LINK_SPEED_MBPS = "network.link_speed_mbps"
    WIFI_SIGNAL_DBM = "network.wifi_signal_dbm"
    VPN = "network.vpn"
    DNS_MS = "network.dns_ms"
    # probes/audio/__init__.py
    INPUT_PRESENT = "audio.input_present"
    INPUT_LIVE = "audio.input_live"
    HEADSET = "audio.headset"
    NOISE_FLOOR_DBFS = "audio.noise_floor_dbfs"
    NOISE_FLOOR_DBFS_A = "audio.noise_floor_dbfs_a"
    NOISE_L10_DBFS = "audio.noise_l10_dbfs"
    CLIPPING_PCT = "audio.clipping_pct"
    HUM_DB = "audio.hum_db"
    SPEECH_SNR_DB = "audio.speech_snr_db"


@dataclass(frozen=True)
class MetricInfo:
    metric: Metric
    unit: str
    kind: Kind
    label: str
    # The closed set of values of a CATEGORY metric; empty for every other kind.
    values: tuple[str, ...] = ()


CATALOGUE: tuple[MetricInfo, ...] = (
    MetricInfo(Metric.CPU_CORES_PHYSICAL, "cores", Kind.NUMBER, "CPU cores (physical)"),
    MetricInfo(Metric.CPU_CORES_LOGICAL, "threads", Kind.NUMBER, "CPU threads (logical cores)"),
    MetricInfo(Metric.CPU_MAX_MHZ, "MHz", Kind.NUMBER, "CPU top speed"),
    MetricInfo(Metric.CPU_HEADROOM_PCT, "%", Kind.NUMBER, "CPU free (headroom)"),
    MetricInfo(Metric.RAM_TOTAL_GB, "GB", Kind.NUMBER, "Memory installed"),
    MetricInfo(Metric.RAM_AVAILABLE_GB, "GB", Kind.NUMBER, "Memory free to use"),
    MetricInfo(Metric.SWAP_USED_GB, "GB", Kind.NUMBER, "Swap in use"),
    MetricInfo(Metric.DISK_FREE_GB, "GB", Kind.NUMBER, "Disk space free"),
    MetricInfo(Metric.OS, "", Kind.TEXT, "Operating system"),
    MetricInfo(Metric.OS_SUPPORTED, "", Kind.FLAG, "Operating system supported"),
    MetricInfo(Metric.ON_BATTERY, "", Kind.FLAG, "Running on battery"),
    MetricInfo(Metric.BATTERY_PCT, "%", Kind.NUMBER, "Battery charge"),
    MetricInfo(Metric.DOWNLOAD_MBPS, "Mbit/s", Kind.NUMBER, "Download speed"),
    MetricInfo(Metric.UPLOAD_MBPS, "Mbit/s", Kind.NUMBER, "Upload speed"),
    MetricInfo(Metric.LATENCY_MS, "ms", Kind.NUMBER, "Round-trip delay (median)"),
    MetricInfo(Metric.LATENCY_P95_MS, "ms", Kind.NUMBER, "Round-trip delay (95th percentile)"),
    MetricInfo(Metric.JITTER_UP_MS, "ms", Kind.NUMBER, "Jitter, upstream"),
    MetricInfo(Metric.JITTER_DOWN_MS, "ms", Kind.NUMBER, "Jitter, downstream"),
    MetricInfo(Metric.LOSS_UP_PCT, "%", Kind.NUMBER, "Packet loss, upstream"),
    MetricInfo(Metric.LOSS_DOWN_PCT, "%", Kind.NUMBER, "Packet loss, downstream"),
    MetricInfo(
        Metric.LOADED_LATENCY_INCREASE_MS,
        "ms",
        Kind.NUMBER,
        "Delay added under load (bufferbloat)",
    ),
    MetricInfo(Metric.MOS, "MOS", Kind.NUMBER, "Estimated call quality (MOS)"),
    MetricInfo(Metric.UDP_OK, "", Kind.FLAG, "Voice traffic (UDP) gets through"),
    MetricInfo(Metric.WORST_WINDOW_LOSS_PCT, "%", Kind.NUMBER, "Packet loss, worst 10 s"),
    MetricInfo(Metric.WORST_WINDOW_JITTER_MS, "ms", Kind.NUMBER, "Jitter, worst 10 s"),
    MetricInfo(Metric.WORST_WINDOW_MOS, "MOS", Kind.NUMBER, "Call quality, worst 10 s"),
    MetricInfo(
        Metric.CONNECTION,
        "",
        Kind.CATEGORY,
        "Connection type",
        tuple(k.value for k in ConnectionKind),
    ),
    MetricInfo(Metric.LINK_SPEED_MBPS, "Mbit/s", Kind.NUMBER, "Network adapter link speed"),
    MetricInfo(Metric.WIFI_SIGNAL_DBM, "dBm", Kind.NUMBER, "Wi-Fi signal strength"),
    MetricInfo(Metric.VPN, "", Kind.FLAG, "Traffic goes through a VPN"),
    MetricInfo(Metric.DNS_MS, "ms", Kind.NUMBER, "Name lookup (DNS) time"),
    MetricInfo(Metric.INPUT_PRESENT, "", Kind.FLAG, "Microphone present"),
    MetricInfo(Metric.INPUT_LIVE, "", Kind.FLAG, "Microphone picks up sound (not muted)"),
    MetricInfo(
        Metric.HEADSET, "", Kind.CATEGORY, "Headset type", tuple(k.value for k in HeadsetKind)
    ),
    MetricInfo(Metric.NOISE_FLOOR_DBFS, "dBFS", Kind.NUMBER, "Room background noise"),
    MetricInfo(
        Metric.NOISE_FLOOR_DBFS_A, "dBFS(A)", Kind.NUMBER, "Room background noise (A-weighted)"
    ),
    MetricInfo(Metric.NOISE_L10_DBFS, "dBFS", Kind.NUMBER, "Room intermittent noise (L10)"),
    MetricInfo(Metric.CLIPPING_PCT, "%", Kind.NUMBER, "Microphone clipping"),
    MetricInfo(Metric.HUM_DB, "dB", Kind.NUMBER, "Electrical hum"),
    MetricInfo(Metric.SPEECH_SNR_DB, "dB", Kind.NUMBER, "Voice above background (speech-to-noise)"),
)

# Keyed by `Metric`, which is a str: a plain id string finds its entry too.
BY_ID: dict[str, MetricInfo] = {info.metric: info for info in CATALOGUE}

# The measured areas, in report order: the prefix of a metric id is the name of its probe.
AREAS: dict[str, str] = {"system": "Computer", "network": "Network", "audio": "Microphone and room"}


def area(metric: str) -> str:
    return metric.split(".", 1)[0]


def in_area(name: str) -> tuple[Metric, ...]:
    """The metric ids a probe answers for, in catalogue order: the catalogue is the one list."""
    return tuple(info.metric for info in CATALOGUE if area(info.metric) == name)


def info(metric: str) -> MetricInfo:
    return BY_ID[metric]


def measured(
    metric: Metric, value: Value, *, samples: Sequence[float] = (), method: str = ""
) -> Measurement:
    """A measurement of `metric`, with the catalogue's unit."""
    return Measurement(metric, value, BY_ID[metric].unit, tuple(samples), method)


def check(measurement: Measurement) -> list[str]:
    """What is wrong with a measurement against the catalogue (nothing: an empty list)."""
    entry = BY_ID.get(measurement.metric)
    if entry is None:
        return [f"{measurement.metric}: not in the catalogue"]
    problems = []
    where = measurement.metric
    if measurement.unit != entry.unit:
        problems.append(f"{where}: unit {measurement.unit!r}, the catalogue says {entry.unit!r}")
    value = measurement.value
    match entry.kind:
        case Kind.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{where}: a number, got {value!r}")
            elif not math.isfinite(value):
                problems.append(f"{where}: a finite number, got {value!r}")
        case Kind.FLAG:
            if not isinstance(value, bool):
                problems.append(f"{where}: true or false, got {value!r}")
        case Kind.CATEGORY:
            if not isinstance(value, str) or value not in entry.values:
                problems.append(f"{where}: one of {', '.join(entry.values)}, got {value!r}")
        case Kind.TEXT:
            if not isinstance(value, str) or not value:
                problems.append(f"{where}: non-empty text, got {value!r}")
    return problems


def check_result(result: ProbeResult, metrics: Iterable[str]) -> list[str]:
    """What is wrong with a probe's result against the catalogue and the probe's `metrics`:
    every measurement is `check`ed and one of the probe's, every unmeasured id is one of the
    probe's, no id comes twice, and (unless the probe could not measure at all, `reason`) every
    one of the probe's metrics is reported, measured or not, so none falls through as a silent
    "not reported"."""
    own = set(metrics)
    problems = []
    seen: list[str] = []
    for m in result.measurements:
        problems += check(m)
        if m.metric not in own:
            problems.append(f"{m.metric}: measured, but not one of {result.probe}'s metrics")
        seen.append(m.metric)
    for u in result.unmeasured:
        if u.metric not in own:
            problems.append(f"{u.metric}: unmeasured, but not one of {result.probe}'s metrics")
        if not u.reason:
            problems.append(f"{u.metric}: unmeasured without a reason")
        seen.append(u.metric)
    twice = sorted({m for m in seen if seen.count(m) > 1})
    problems += [f"{m}: reported more than once" for m in twice]
    if result.reason is None:
        missing = [m for m in own if m not in seen]
        problems += [f"{m}: neither measured nor unmeasured" for m in sorted(missing)]
    return problems
