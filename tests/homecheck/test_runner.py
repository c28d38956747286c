"""The runner: a probe that raises or hangs becomes NOT MEASURED and the others still run."""

from __future__ import annotations

import threading
import time
from typing import ClassVar

import pytest

from homecheck.model import Cause, Measurement, ProbeResult, Unmeasured
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


class _Overruns(_Probe):
    """Measures until told to stop, ignoring its own bound; then takes a moment to clean up."""

    name: ClassVar[str] = "overruns"
    title: ClassVar[str] = "Overruns"
    timeout = 0.3

    def __init__(self, log: list[tuple[str, float]]) -> None:
        self.log = log

    def run(self, context: ProbeContext) -> ProbeResult:
        samples = []
        while not context.cancelled.wait(0.02):
            samples.append(1.0)
            if len(samples) > 250:  # 5 s: never told to stop
                self.log.append(("overruns gave up waiting", time.monotonic()))
                break
        self.log.append(("overruns told to stop", time.monotonic()))
        time.sleep(0.1)  # closing sockets, a stream
        self.log.append(("overruns returned", time.monotonic()))
        return ProbeResult(
            self.name,
            (Measurement("system.cpu_headroom_pct", 50.0, "%", samples=tuple(samples)),),
            # What a probe says when its event is set: it cannot tell Ctrl-C from its bound.
            unmeasured=(Unmeasured("system.ram_total_gb", STOPPED_REASON, Cause.STOPPED),),
        )


class _Next(_Probe):
    """Notes when it starts and whether its own event is set."""

    name: ClassVar[str] = "next"
    title: ClassVar[str] = "Next"

    def __init__(self, log: list[tuple[str, float]]) -> None:
        self.log = log

    def run(self, context: ProbeContext) -> ProbeResult:
        self.log.append(("next started", time.monotonic()))
        set_at_start = context.cancelled.is_set()
        set_later = context.cancelled.wait(0.3)  # past the first probe's bound and grace
        self.log.append((f"next event set: {set_at_start or set_later}", time.monotonic()))
        return super().run(context)


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


def test_a_probe_past_its_bound_is_told_to_stop_and_stops_before_the_next() -> None:
    log: list[tuple[str, float]] = []
    first, second = _Overruns(log), _Next(log)
    started = time.monotonic()
    outcome = run_probes([first, second], ProbeOptions(), poll_s=0.01)
    overran, fine = outcome.results
    steps = [step for step, _ in log]
    assert steps == [
        "overruns told to stop",
        "overruns returned",
        "next started",
        "next event set: False",
    ]
    told = log[0][1] - started
    assert first.timeout <= told < first.timeout + 0.5  # told at its bound, not after 5 s
    assert log[1][1] <= log[2][1]  # the first had returned before the second began
    # What it measured before its bound is kept, marked as cut short.
    assert overran.partial and overran.reason is None
    assert overran.measurement("system.cpu_headroom_pct") is not None
    # The user did not stop it: the reason names the bound, not Ctrl-C.
    assert overran.unmeasured == (
        Unmeasured("system.ram_total_gb", "the overruns check did not finish within 0.3 s"),
    )
    assert fine.reason is None and not fine.partial
    assert not outcome.interrupted


def test_a_hanging_probe_is_abandoned_after_its_bound_and_the_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    grace = 0.4
    monkeypatch.setattr("homecheck.runner.CANCEL_GRACE_S", grace)
    log: list[tuple[str, float]] = []
    started = time.monotonic()
    outcome = run_probes([_Hangs(), _Next(log)], ProbeOptions(), poll_s=0.01)
    hung, fine = outcome.results
    assert hung.reason == "the hangs check did not finish within 0.5 s"
    assert not hung.partial
    # The next probe waited out the grace (the stuck one might still have stopped), no longer.
    waited = log[0][1] - started
    assert _Hangs.timeout + grace <= waited < _Hangs.timeout + grace + 0.5
    assert fine.reason is None


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
