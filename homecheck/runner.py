"""Run probes one after another, each with a hard time bound, and never let one kill the run.

Each probe runs in a daemon thread with a cancel event of its own (`ProbeContext.cancelled`). While
probes run, SIGINT (Ctrl-C) only sets events: the run-wide stop and the running probe's event. The
main thread, which waits in short slices, sees it at once, gives the running probe a moment
(CANCEL_GRACE_S) to return what it has, and marks the rest as not measured. A second Ctrl-C stops
waiting: the running probe is abandoned at once (not measured, stopped) and the run returns what
had finished, so a hurried double Ctrl-C never loses the report (it raises KeyboardInterrupt inside
the runner, which catches it; only a Ctrl-C after the runner returned reaches the caller). A probe
past its time bound gets the same treatment, for itself only: its event is set, it has the same
grace to return what it has (kept, marked partial), and the next probe starts only after that. A
probe that raises becomes a result with the reason (an unexpected exception is also logged with its
traceback to the "homecheck" logger); one that still has not returned after the grace is abandoned
(its thread is a daemon, so it cannot keep the process alive) and reported as not finished in time.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import FrameType
from typing import Protocol

from homecheck.model import Cause, ProbeResult
from homecheck.probe import STOPPED_REASON, Probe, ProbeContext, ProbeError, ProbeOptions

# After Ctrl-C or its time bound, how long a probe may take to hand back its partial result.
CANCEL_GRACE_S = 2.0

log = logging.getLogger("homecheck")


class Listener(Protocol):
    """Live progress for the terminal. Every method is called from the main thread."""

    def started(self, probe: Probe, expected_s: float) -> None: ...
    def progress(self, probe: Probe, fraction: float, message: str) -> None: ...
    def finished(self, probe: Probe, result: ProbeResult) -> None: ...


class SilentListener:
    def started(self, probe: Probe, expected_s: float) -> None:
        pass

    def progress(self, probe: Probe, fraction: float, message: str) -> None:
        pass

    def finished(self, probe: Probe, result: ProbeResult) -> None:
        pass


@dataclass
class RunOutcome:
    results: list[ProbeResult] = field(default_factory=list)
    interrupted: bool = False


class _Stops:
    """The run-wide stop (Ctrl-C) and the running probe's own cancel event."""

    def __init__(self) -> None:
        self.run = threading.Event()
        self.probe = threading.Event()

    def next_probe(self) -> threading.Event:
        self.probe = threading.Event()
        return self.probe

    def stop_all(self) -> None:
        self.run.set()
        self.probe.set()


@dataclass
class _Slot:
    """Where the probe's thread leaves its answer."""

    result: ProbeResult | None = None
    fraction: float = 0.0
    message: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


def run_probes(
    probes: Sequence[Probe],
    options: ProbeOptions,
    listener: Listener | None = None,
    poll_s: float = 0.1,
) -> RunOutcome:
    listen = listener or SilentListener()
    outcome = RunOutcome()
    stops = _Stops()
    with _sigint_sets(stops):
        try:
            for probe in probes:
                if stops.run.is_set():
                    break
                result = _run_one(probe, options, stops, listen, poll_s)
                outcome.results.append(result)
                listen.finished(probe, result)
        except KeyboardInterrupt:  # a second Ctrl-C: keep what finished, wait for nothing more
            stops.stop_all()
        finished = {r.probe for r in outcome.results}
        outcome.results.extend(
            ProbeResult(probe=p.name, reason=STOPPED_REASON, cause=Cause.STOPPED)
            for p in probes
            if p.name not in finished
        )
    outcome.interrupted = stops.run.is_set()
    return outcome


@contextmanager
def _sigint_sets(stops: _Stops) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if stops.run.is_set():
            raise KeyboardInterrupt
        stops.stop_all()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_one(
    probe: Probe,
    options: ProbeOptions,
    stops: _Stops,
    listen: Listener,
    poll_s: float,
) -> ProbeResult:
    slot = _Slot()
    cancelled = stops.next_probe()

    def report_progress(fraction: float, message: str) -> None:
        with slot.lock:
            slot.fraction, slot.message = fraction, message

    context = ProbeContext(options=options, cancelled=cancelled, progress=report_progress)
    started = time.monotonic()

    def work() -> None:
        try:
            result = probe.run(context)
        except ProbeError as exc:
            result = ProbeResult(probe=probe.name, reason=str(exc))
        except Exception as exc:  # one broken probe must not end the run; the reason is shown
            # The report gets one sentence; the traceback goes to the log (the CLI's log file).
            log.exception("the %s probe failed unexpectedly", probe.name)
            result = ProbeResult(
                probe=probe.name,
                reason=f"the {probe.title.lower()} check failed unexpectedly "
                f"({type(exc).__name__}: {exc})",
            )
        slot.result = _with_duration(result, time.monotonic() - started)

    timeout = probe.timeout_seconds(options)
    listen.started(probe, probe.expected_seconds(options))
    thread = threading.Thread(target=work, name=f"probe-{probe.name}", daemon=True)
    thread.start()
    last_seen = (-1.0, "")
    overran = False
    while thread.is_alive():
        try:
            thread.join(poll_s)
        except KeyboardInterrupt:  # SIGINT outside our handler (e.g. run from another thread)
            stops.stop_all()
        stopping = stops.run.is_set()
        overran = not stopping and thread.is_alive() and time.monotonic() - started > timeout
        if stopping or overran:
            cancelled.set()  # tell this probe only; the next one gets a fresh event
            thread.join(CANCEL_GRACE_S)  # and the next one starts only after this grace
            break
        with slot.lock:
            seen = (slot.fraction, slot.message)
        if seen != last_seen:
            listen.progress(probe, *seen)
            last_seen = seen
    too_long = f"the {probe.title.lower()} check did not finish within {timeout:g} s"
    if slot.result is not None:
        # Cut short by its bound but returned in the grace: keep what it measured.
        return _cut_at_bound(slot.result, too_long) if overran else slot.result
    elapsed = round(time.monotonic() - started, 3)
    if stops.run.is_set():
        return ProbeResult(
            probe=probe.name,
            reason=STOPPED_REASON,
            cause=Cause.STOPPED,
            duration_s=elapsed,
            partial=True,
        )
    return ProbeResult(probe=probe.name, reason=too_long, duration_s=elapsed)


def _cut_at_bound(result: ProbeResult, too_long: str) -> ProbeResult:
    """Mark a result cut short by its time bound. A probe cannot tell its bound from Ctrl-C (one
    event), so what it reported as stopped by the user (cause STOPPED) was cut by the bound."""
    unmeasured = tuple(
        replace(u, reason=too_long, cause=Cause.PROBE_FAILED) if u.cause is Cause.STOPPED else u
        for u in result.unmeasured
    )
    if result.cause is Cause.STOPPED:
        result = replace(result, reason=too_long, cause=Cause.PROBE_FAILED)
    return replace(result, unmeasured=unmeasured, partial=True)


def _with_duration(result: ProbeResult, seconds: float) -> ProbeResult:
    if result.duration_s:
        return result
    return replace(result, duration_s=round(seconds, 3))
