"""The computer: CPU, memory, disk, operating system and power.

What it measures
- CPU: model, physical and logical cores, top clock speed (MHz, from the OS; absent in many VMs);
  utilisation sampled every 0.5 s for a few seconds (default 3 s), per core and in total, while the
  machine runs as it usually does. Headroom (%) = 100 - mean total utilisation. A softphone, a
  browser-based CRM and a video call together need about one free core; on a 4-thread machine that
  is ~25-30 % headroom, hence the default minimum of 30 % (warn below 50 %).
- The processes that used the most CPU over the same window and the most memory at its end,
  grouped by process name (names only: no command lines, no user names), so the advice can say
  "close X". CPU % of a process is % of the whole machine (100 % = every core busy). Process 0
  is never listed: on Windows it is the "System Idle Process", whose CPU time is idle time.
- Memory: total and available (GB, 10^9 bytes), swap in use. Available is what can be used without
  swapping (psutil `available`: free + reclaimable cache).
- Disk: free space on the volume that holds the user's home folder (GB); only the number is kept,
  not the path.
- OS: name, version, architecture; "supported" means Windows 10 or later, macOS 11 or later, or
  Linux (what current softphones and browsers support). Windows 11 still calls itself release
  "10" to Python before 3.12 (cpython bpo-45382); its build number (22000 or later) names it.
- Power: whether a battery is present, its charge and whether the charger is plugged in; a laptop on
  battery may throttle the CPU and die mid-shift.

How: psutil (https://psutil.readthedocs.io) and Python's `platform` module, injected so tests can
drive the boundary; the defaults are the real ones. Default thresholds live in the profiles
(homecheck/profiles/*.toml).
"""

from __future__ import annotations

import os
import platform
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import psutil

from homecheck.metrics import Metric, in_area, measured
from homecheck.model import (
    JSON,
    Cause,
    Measurement,
    ProbeResult,
    Series,
    SeriesName,
    Unmeasured,
    core_series,
)
from homecheck.probe import ProbeContext, ProbeOptions

GB = 1e9
TOP_N = 5
IDLE_PID = 0
NO_CPU_SPEED = "the OS does not report the CPU speed (common in VMs)"


@dataclass(frozen=True)
class _Usage:
    name: str
    cpu_pct: float
    rss_gb: float
    count: int


class SystemProbe:
    name: ClassVar[str] = "system"
    title: ClassVar[str] = "Computer"
    metrics: ClassVar[tuple[str, ...]] = in_area("system")

    def __init__(
        self,
        ps: ModuleType | Any = psutil,
        sample_seconds: float = 3.0,
        interval_seconds: float = 0.5,
        os_platform: ModuleType | Any = platform,
    ) -> None:
        self.ps = ps
        self.os_platform = os_platform
        self.sample_seconds = sample_seconds
        self.interval_seconds = interval_seconds

    def expected_seconds(self, options: ProbeOptions) -> float:
        return self.sample_seconds + 0.5

    def timeout_seconds(self, options: ProbeOptions) -> float:
        return self.sample_seconds + 15.0

    def run(self, context: ProbeContext) -> ProbeResult:
        started = time.monotonic()
        measurements: list[Measurement] = []
        unmeasured: list[Unmeasured] = []
        details: dict[str, JSON] = {}

        context.progress(0.0, "CPU")
        physical = self.ps.cpu_count(logical=False)
        logical = self.ps.cpu_count(logical=True)
        if physical:
            measurements.append(measured(Metric.CPU_CORES_PHYSICAL, float(physical)))
        else:
            unmeasured.append(Unmeasured(Metric.CPU_CORES_PHYSICAL, "the OS does not say"))
        if logical:
            measurements.append(measured(Metric.CPU_CORES_LOGICAL, float(logical)))
        else:
            unmeasured.append(Unmeasured(Metric.CPU_CORES_LOGICAL, "the OS does not say"))
        freq, why_no_freq = _max_mhz(self.ps)
        if freq:
            measurements.append(measured(Metric.CPU_MAX_MHZ, round(freq)))
        else:
            unmeasured.append(Unmeasured(Metric.CPU_MAX_MHZ, why_no_freq))
        details["cpu_model"] = _cpu_model()

        per_core, totals, top_cpu, interrupted = self._sample_cpu(context, logical or 1)
        if totals:
            mean_busy = sum(totals) / len(totals)
            measurements.append(
                measured(
                    Metric.CPU_HEADROOM_PCT,
                    round(100.0 - mean_busy, 1),
                    samples=tuple(round(100.0 - t, 1) for t in totals),
                    method=f"CPU use sampled every {self.interval_seconds:g} s "
                    f"for {len(totals) * self.interval_seconds:g} s",
                )
            )
        else:
            unmeasured.append(
                Unmeasured(
                    Metric.CPU_HEADROOM_PCT, "stopped before CPU use was sampled", Cause.STOPPED
                )
            )
        details["top_cpu"] = [
            {"name": u.name, "cpu_pct": u.cpu_pct, "processes": u.count} for u in top_cpu
        ]
        series = [
            Series(
                SeriesName.CPU_BUSY_PCT,
                "%",
                tuple((round((i + 1) * self.interval_seconds, 2), t) for i, t in enumerate(totals)),
            )
        ]
        for core, values in enumerate(per_core):
            series.append(
                Series(
                    core_series(core),
                    "%",
                    tuple(
                        (round((i + 1) * self.interval_seconds, 2), v) for i, v in enumerate(values)
                    ),
                )
            )

        context.progress(0.85, "memory, disk, power")
        vm = self.ps.virtual_memory()
        measurements.append(measured(Metric.RAM_TOTAL_GB, round(vm.total / GB, 2)))
        measurements.append(measured(Metric.RAM_AVAILABLE_GB, round(vm.available / GB, 2)))
        swap = self.ps.swap_memory()
        measurements.append(measured(Metric.SWAP_USED_GB, round(swap.used / GB, 2)))
        details["top_memory"] = [
            {"name": u.name, "rss_gb": u.rss_gb, "processes": u.count} for u in self._top_memory()
        ]

        try:
            disk = self.ps.disk_usage(str(Path.home()))
            measurements.append(measured(Metric.DISK_FREE_GB, round(disk.free / GB, 1)))
        except (OSError, RuntimeError) as exc:
            unmeasured.append(Unmeasured(Metric.DISK_FREE_GB, f"cannot read the disk: {exc}"))

        os_name, supported, os_details = _os_facts(self.os_platform)
        details.update(os_details)
        measurements.append(measured(Metric.OS, os_name))
        measurements.append(measured(Metric.OS_SUPPORTED, supported))

        battery = self.ps.sensors_battery() if hasattr(self.ps, "sensors_battery") else None
        details["battery_present"] = battery is not None
        if battery is None:
            measurements.append(measured(Metric.ON_BATTERY, False, method="no battery found"))
            unmeasured.append(
                Unmeasured(Metric.BATTERY_PCT, "no battery (a desktop, or not reported)")
            )
        else:
            plugged = battery.power_plugged
            measurements.append(measured(Metric.ON_BATTERY, plugged is False))
            measurements.append(measured(Metric.BATTERY_PCT, round(float(battery.percent), 1)))

        context.progress(1.0, "done")
        return ProbeResult(
            probe=self.name,
            measurements=tuple(measurements),
            unmeasured=tuple(unmeasured),
            series=tuple(series),
            details=details,
            duration_s=round(time.monotonic() - started, 3),
            partial=interrupted,
        )

    def _sample_cpu(
        self, context: ProbeContext, logical: int
    ) -> tuple[list[list[float]], list[float], list[_Usage], bool]:
        """Sample utilisation per core, and per process over the same window."""
        procs = _prime_processes(self.ps)
        self.ps.cpu_percent(percpu=True)  # first call only sets the baseline (psutil docs)
        per_core: list[list[float]] = []
        totals: list[float] = []
        steps = max(1, round(self.sample_seconds / self.interval_seconds))
        interrupted = False
        for step in range(steps):
            if context.cancelled.wait(self.interval_seconds):
                interrupted = True
                break
            cores = [float(c) for c in self.ps.cpu_percent(percpu=True)]
            if not per_core:
                per_core = [[] for _ in cores]
            for series, value in zip(per_core, cores, strict=False):
                series.append(value)
            totals.append(round(sum(cores) / max(1, len(cores)), 1))
            context.progress(0.8 * (step + 1) / steps, "CPU use")
        return per_core, totals, _top_cpu(self.ps, procs, logical), interrupted

    def _top_memory(self) -> list[_Usage]:
        grouped: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        for proc in self.ps.process_iter(["name", "memory_info"]):
            info = proc.info
            mem = info.get("memory_info")
            if not info.get("name") or mem is None:
                continue
            grouped[info["name"]] += mem.rss / GB
            counts[info["name"]] += 1
        ranked = sorted(grouped.items(), key=lambda item: item[1], reverse=True)[:TOP_N]
        return [_Usage(name, 0.0, round(rss, 2), counts[name]) for name, rss in ranked]


def _prime_processes(ps: Any) -> list[Any]:
    procs = []
    me = os.getpid()
    for proc in ps.process_iter(["name"]):
        # homecheck itself is not what the user should close; nor is process 0, which on Windows
        # is the "System Idle Process" whose CPU time is the machine's idle time (glances #149).
        if proc.pid in (me, IDLE_PID):
            continue
        try:
            proc.cpu_percent(None)  # baseline; the next call returns use since this one
            procs.append(proc)
        except (ps.NoSuchProcess, ps.AccessDenied, ps.ZombieProcess):
            continue
    return procs


def _top_cpu(ps: Any, procs: list[Any], logical: int) -> list[_Usage]:
    grouped: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for proc in procs:
        try:
            used = proc.cpu_percent(None)
        except (ps.NoSuchProcess, ps.AccessDenied, ps.ZombieProcess):
            continue
        name = proc.info.get("name") or "?"
        grouped[name] += used / logical
        counts[name] += 1
    ranked = sorted(grouped.items(), key=lambda item: item[1], reverse=True)[:TOP_N]
    return [_Usage(name, round(pct, 1), 0.0, counts[name]) for name, pct in ranked if pct > 0]


def _max_mhz(ps: Any) -> tuple[float | None, str]:
    """The top clock in MHz, or None and why not. psutil's cpu_freq() returns None in many VMs and
    raises on some Apple Silicon Macs: RuntimeError "'pmgr' entry was not found" (psutil #2382),
    SystemError wrapping "invalid CPU frequency data" on M4/M5 (psutil #2841). Only this line is
    lost then, never the rest of the Computer area."""
    try:
        freq = ps.cpu_freq()
    except (OSError, NotImplementedError, AttributeError, RuntimeError, SystemError) as exc:
        return None, f"{NO_CPU_SPEED}: {type(exc).__name__}: {exc}"
    if freq is None:
        return None, NO_CPU_SPEED
    best = float(freq.max or freq.current or 0.0)
    return (best, "") if best else (None, NO_CPU_SPEED)


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith(("model name", "Hardware", "Processor")) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def _os_facts(os_platform: Any = platform) -> tuple[str, bool, dict[str, JSON]]:
    """(name, supported, details) from the `platform` module (injected so tests can feed the values
    Windows and macOS return)."""
    system = os_platform.system()
    arch = os_platform.machine()
    if system == "Linux":
        try:
            release = os_platform.freedesktop_os_release()
            pretty = release.get("PRETTY_NAME") or release.get("NAME", "Linux")
        except OSError:
            pretty = "Linux"
        name, supported = pretty, True
    elif system == "Darwin":
        version = os_platform.mac_ver()[0]
        major = int(version.split(".")[0]) if version else 0
        name, supported = f"macOS {version}", major >= 11
    elif system == "Windows":
        win_release = windows_release(os_platform.win32_ver())
        name = f"Windows {win_release}"
        supported = win_release.isdigit() and int(win_release) >= 10
    else:
        name, supported = system or "unknown", False
    return name, supported, {"os_kernel": os_platform.release(), "architecture": arch}


WINDOWS_11_FIRST_BUILD = 22000


def windows_release(win32_ver: tuple[str, str, str, str]) -> str:
    """The Windows release from platform.win32_ver() (release, version "10.0.BUILD", csd, ptype).
    Windows 11 kept the version number 10.0, so Python before 3.12 reports its release as "10"
    (cpython bpo-45382); Microsoft tells the two apart by build: 22000 and later is Windows 11."""
    release, version = win32_ver[0], win32_ver[1]
    parts = version.split(".")
    build = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
    if release == "10" and build >= WINDOWS_11_FIRST_BUILD:
        return "11"
    return release
