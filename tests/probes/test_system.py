"""The system probe against the real machine: the numbers agree with the OS, and CPU burners the
test starts make the headroom fall and show up, by name, among the top consumers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
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
