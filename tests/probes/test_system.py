"""The system probe against the real machine: the numbers agree with the OS, and CPU burners the
test starts make the headroom fall and show up, by name, among the top consumers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from homecheck.model import ProbeResult
from homecheck.probe import ProbeContext
from probes.system import SystemProbe

BURNER_NAME = "hcburner"
# Names itself (Linux comm, what psutil reports as name()) and spins.
BURNER = (
    "import ctypes, ctypes.util\n"
    f"ctypes.CDLL(ctypes.util.find_library('c')).prctl(15, b'{BURNER_NAME}', 0, 0, 0)\n"
    "while True: pass\n"
)


def _run(probe: SystemProbe, context: ProbeContext | None = None) -> ProbeResult:
    return probe.run(context or ProbeContext())


def _value(result: ProbeResult, metric: str) -> float | bool | str:
    found = result.measurement(metric)
    assert found is not None, f"{metric} missing: {result.unmeasured}"
    return found.value


@pytest.fixture(scope="module")
def idle_result() -> ProbeResult:
    return _run(SystemProbe(sample_seconds=1.5))


def test_static_facts_match_the_os(idle_result: ProbeResult) -> None:
    assert _value(idle_result, "system.cpu_cores_logical") == os.cpu_count()
    total = _value(idle_result, "system.ram_total_gb")
    assert total == pytest.approx(psutil.virtual_memory().total / 1e9, abs=0.01)
    available = _value(idle_result, "system.ram_available_gb")
    assert isinstance(available, float) and 0 < available <= total
    free = _value(idle_result, "system.disk_free_gb")
    assert free == pytest.approx(psutil.disk_usage(str(Path.home())).free / 1e9, abs=1.0)
    assert _value(idle_result, "system.os_supported") is (
        sys.platform in {"linux", "darwin", "win32"}
    )
    assert isinstance(_value(idle_result, "system.on_battery"), bool)


def test_samples_and_series_are_kept(idle_result: ProbeResult) -> None:
    headroom = idle_result.measurement("system.cpu_headroom_pct")
    assert headroom is not None and headroom.unit == "%"
    assert len(headroom.samples) == 3  # 1.5 s at 0.5 s
    assert all(0 <= s <= 100 for s in headroom.samples)
    assert headroom.value == pytest.approx(sum(headroom.samples) / 3, abs=0.11)
    names = {s.name for s in idle_result.series}
    assert "cpu_busy_pct" in names and "cpu0_busy_pct" in names


def test_no_private_data_in_details(idle_result: ProbeResult) -> None:
    text = repr(idle_result)
    import socket

    assert socket.gethostname() not in text
    assert str(Path.home()) not in text
    for row in idle_result.details["top_cpu"]:  # type: ignore[union-attr]
        assert set(row) == {"name", "cpu_pct", "processes"}  # type: ignore[arg-type]


@pytest.fixture
def burners() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(os.cpu_count() or 1)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_cpu_burners_lower_headroom_and_are_named(
    idle_result: ProbeResult, burners: list[subprocess.Popen[bytes]]
) -> None:
    threading.Event().wait(0.5)  # let them start spinning
    loaded = _run(SystemProbe(sample_seconds=2.0))
    idle = _value(idle_result, "system.cpu_headroom_pct")
    busy = _value(loaded, "system.cpu_headroom_pct")
    assert isinstance(idle, float) and isinstance(busy, float)
    # One burner per logical core: the machine is saturated.
    assert busy <= 25.0
    assert busy < idle - 20.0
    top = loaded.details["top_cpu"]
    assert isinstance(top, list) and top
    first = top[0]
    assert isinstance(first, dict)
    assert first["name"] == BURNER_NAME
    assert first["processes"] == len(burners)
    assert isinstance(first["cpu_pct"], float) and first["cpu_pct"] >= 40.0


def test_cancel_returns_partial_result_quickly() -> None:
    context = ProbeContext()
    timer = threading.Timer(0.6, context.cancelled.set)
    timer.start()
    result = _run(SystemProbe(sample_seconds=10.0), context)
    assert result.partial
    assert result.duration_s < 3.0
    assert result.measurement("system.ram_total_gb") is not None  # the rest is still measured


# --- Windows and macOS at the boundary: psutil and `platform` as those systems answer ---------


class PsutilWhoseCpuFreq:
    """The real psutil, except cpu_freq(), which fails or answers as it does on other machines."""

    def __init__(self, answer: BaseException | None) -> None:
        self._answer = answer

    def cpu_freq(self) -> None:
        if self._answer is not None:
            raise self._answer
        return None

    def __getattr__(self, name: str) -> object:
        return getattr(psutil, name)


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        # Apple Silicon, psutil #2382 (arm64 Macs, macOS VMs).
        (RuntimeError("'pmgr' entry was not found in AppleARMIODevice service"), "pmgr"),
        # M4/M5, psutil #2841: the RuntimeError surfaces as a SystemError.
        (
            SystemError("<built-in function cpu_freq> returned a result with an exception set"),
            "SystemError",
        ),
        # Intel-era psutil on an M1 (tiptop #30): the sysctl is gone.
        (
            FileNotFoundError(
                2, "No such file or directory (originated from sysctlbyname('hw.cpufrequency'))"
            ),
            "hw.cpufrequency",
        ),
        (None, "does not report the CPU speed"),  # many VMs: psutil returns None
    ],
)
def test_cpu_speed_failure_loses_only_that_line(answer: BaseException | None, shown: str) -> None:
    result = _run(SystemProbe(ps=PsutilWhoseCpuFreq(answer), sample_seconds=0.5))
    assert result.reason is None
    assert result.measurement("system.cpu_max_mhz") is None
    reasons = {u.metric: u.reason for u in result.unmeasured}
    assert shown in reasons["system.cpu_max_mhz"]
    for metric in ("system.cpu_headroom_pct", "system.ram_total_gb", "system.os"):
        assert result.measurement(metric) is not None, metric


class WindowsIdleProcess:
    """Process 0 as psutil shows it on Windows: "System Idle Process", whose CPU times are the
    machine's idle time, so its cpu_percent() is the idle share of every core (up to 100 % per
    core). Here its times are this machine's real idle time (psutil.cpu_times().idle)."""

    pid = 0

    def __init__(self) -> None:
        self.info = {
            "name": "System Idle Process",
            "memory_info": psutil.Process().memory_info()._replace(rss=8192),
        }
        self._last: tuple[float, float] | None = None
        self.readings: list[float] = []

    def cpu_percent(self, interval: float | None = None) -> float:
        now = (time.monotonic(), psutil.cpu_times().idle)
        last, self._last = self._last, now
        if last is None or now[0] <= last[0]:
            return 0.0
        self.readings.append(100.0 * (now[1] - last[1]) / (now[0] - last[0]))
        return self.readings[-1]


class PsutilOnWindows:
    """The real psutil whose process table also holds Windows' process 0."""

    def __init__(self) -> None:
        self.idle = WindowsIdleProcess()

    def process_iter(self, attrs: list[str]) -> Iterator[object]:
        yield self.idle
        yield from psutil.process_iter(attrs)

    def __getattr__(self, name: str) -> object:
        return getattr(psutil, name)


def test_the_idle_process_is_never_a_top_cpu_user() -> None:
    table = PsutilOnWindows()
    result = _run(SystemProbe(ps=table, sample_seconds=1.0))
    names = [row["name"] for row in result.details["top_cpu"]]  # type: ignore[index,union-attr]
    assert "System Idle Process" not in names
    # It is a real contender: over the same kind of window it reads as the machine's idle share.
    table.idle.cpu_percent()
    threading.Event().wait(0.5)
    assert table.idle.cpu_percent() > 0.0


class WindowsPlatform:
    """Python's `platform` module as it answers on Windows: release() is win32_ver()[0]."""

    def __init__(self, win32_ver: tuple[str, str, str, str]) -> None:
        self._win32_ver = win32_ver

    def system(self) -> str:
        return "Windows"

    def machine(self) -> str:
        return "AMD64"

    def release(self) -> str:
        return self._win32_ver[0]

    def win32_ver(self) -> tuple[str, str, str, str]:
        return self._win32_ver


@pytest.mark.parametrize(
    ("win32_ver", "name"),
    [
        # platform.win32_ver() on Windows 10 22H2 (build 19045), Python 3.11.
        (("10", "10.0.19045", "SP0", "Multiprocessor Free"), "Windows 10"),
        # Windows 11 21H2 (build 22000) and 23H2 (22631) on Python 3.11 still say "10"
        # (cpython bpo-45382); Python 3.12 says "11" (24H2, build 26100).
        (("10", "10.0.22000", "SP0", "Multiprocessor Free"), "Windows 11"),
        (("10", "10.0.22631", "SP0", "Multiprocessor Free"), "Windows 11"),
        (("11", "10.0.26100", "SP0", "Multiprocessor Free"), "Windows 11"),
        # Windows 8.1 (build 9600): named, and not supported.
        (("8.1", "6.3.9600", "SP0", "Multiprocessor Free"), "Windows 8.1"),
    ],
)
def test_windows_is_named_by_its_build(win32_ver: tuple[str, str, str, str], name: str) -> None:
    result = _run(SystemProbe(sample_seconds=0.5, os_platform=WindowsPlatform(win32_ver)))
    assert _value(result, "system.os") == name
    assert _value(result, "system.os_supported") is (name != "Windows 8.1")
    assert result.details["architecture"] == "AMD64"
