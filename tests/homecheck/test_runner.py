"""The runner: a probe that raises or hangs becomes NOT MEASURED and the others still run."""

from __future__ import annotations

import threading
import time
from typing import ClassVar

from homecheck.model import Measurement, ProbeResult
from homecheck.probe import STOPPED_REASON, ProbeContext, ProbeError, ProbeOptions
from homecheck.runner import run_probes


class _Probe:
    name: ClassVar[str] = "fine"
    title: ClassVar[str] = "Fine"
    metrics: ClassVar[tuple[str, ...]] = ("system.ram_total_gb",)
    timeout = 5.0

    def expected_seconds(self, options: ProbeOptions) -> float:
        return 0.1

    def timeout_seconds(self, options: ProbeOptions) -> float:
        return self.timeout

    def run(self, context: ProbeContext) -> ProbeResult:
        context.progress(0.5, "half")
        return ProbeResult(self.name, (Measurement("system.ram_total_gb", 8.0, "GB"),))


class _Raises(_Probe):
    name: ClassVar[str] = "raises"
    title: ClassVar[str] = "Raises"

    def run(self, context: ProbeContext) -> ProbeResult:
        raise ZeroDivisionError("division by zero")


class _Refuses(_Probe):
    name: ClassVar[str] = "refuses"
    title: ClassVar[str] = "Refuses"

    def run(self, context: ProbeContext) -> ProbeResult:
        raise ProbeError("no microphone permission: allow it in Settings")


class _Hangs(_Probe):
    name: ClassVar[str] = "hangs"
    title: ClassVar[str] = "Hangs"
    timeout = 0.5

    def run(self, context: ProbeContext) -> ProbeResult:
        threading.Event().wait(60)  # ignores cancellation, like a stuck driver call
        return ProbeResult(self.name)


class _Cooperative(_Probe):
    """Stops early when cancelled and keeps what it measured."""

    name: ClassVar[str] = "coop"
    title: ClassVar[str] = "Cooperative"

    def run(self, context: ProbeContext) -> ProbeResult:
        samples = []
        while not context.cancelled.wait(0.05):
            samples.append(1.0)
        return ProbeResult(
            self.name,
            (Measurement("system.cpu_headroom_pct", 50.0, "%", samples=tuple(samples)),),
            partial=True,
        )


class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def started(self, probe: object, expected_s: float) -> None:
        self.events.append(("started", probe.name))  # type: ignore[attr-defined]

    def progress(self, probe: object, fraction: float, message: str) -> None:
        self.events.append(("progress", message))

    def finished(self, probe: object, result: ProbeResult) -> None:
        self.events.append(("finished", result.probe))


def test_a_raising_probe_does_not_stop_the_run() -> None:
    outcome = run_probes([_Raises(), _Refuses(), _Probe()], ProbeOptions())
    raised, refused, fine = outcome.results
    assert raised.reason is not None and "ZeroDivisionError: division by zero" in raised.reason
    assert raised.reason.startswith("the raises check failed unexpectedly")
    assert refused.reason == "no microphone permission: allow it in Settings"
    assert fine.reason is None and fine.measurement("system.ram_total_gb") is not None
    assert not outcome.interrupted


def test_a_hanging_probe_is_abandoned_at_its_bound() -> None:
    started = time.monotonic()
    outcome = run_probes([_Hangs(), _Probe()], ProbeOptions())
    elapsed = time.monotonic() - started
    hung, fine = outcome.results
    assert hung.reason == "the hangs check did not finish within 0.5 s"
    assert fine.reason is None
    assert elapsed < 2.0


def test_listener_sees_start_progress_and_finish() -> None:
    recorder = _Recorder()
    run_probes([_Probe()], ProbeOptions(), recorder, poll_s=0.01)
    assert recorder.events[0] == ("started", "fine")
    assert recorder.events[-1] == ("finished", "fine")


def test_cancel_keeps_partial_results_and_marks_the_rest() -> None:
    import signal

    timer = threading.Timer(0.3, signal.raise_signal, (signal.SIGINT,))
    timer.start()
    outcome = run_probes([_Cooperative(), _Probe()], ProbeOptions())
    timer.join()
    coop, rest = outcome.results
    assert outcome.interrupted
    assert coop.partial and coop.measurement("system.cpu_headroom_pct") is not None
    assert rest.reason == STOPPED_REASON
    # the handler is restored: SIGINT outside a run is KeyboardInterrupt again
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
