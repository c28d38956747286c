"""Run probes one after another, each with a hard time bound, and never let one kill the run.

Each probe runs in a daemon thread. While probes run, SIGINT (Ctrl-C) only sets the shared
`cancelled` event: the main thread, which waits in short slices, sees it at once, gives the running
probe a moment to return what it has, and marks the rest as not measured. A second Ctrl-C raises
KeyboardInterrupt as usual. A probe that raises becomes a result with the reason; a probe that
overruns its bound is abandoned (its thread is a daemon, so it cannot keep the process alive).
"""

from __future__ import annotations

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

# After Ctrl-C, how long a running probe may take to hand back its partial result.
CANCEL_GRACE_S = 2.0


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
    cancelled = threading.Event()
    with _sigint_sets(cancelled):
        for index, probe in enumerate(probes):
            if cancelled.is_set():
                outcome.results.extend(
                    ProbeResult(probe=p.name, reason=STOPPED_REASON, cause=Cause.STOPPED)
                    for p in probes[index:]
                )
                break
            result = _run_one(probe, options, cancelled, listen, poll_s)
            outcome.results.append(result)
            listen.finished(probe, result)
    outcome.interrupted = cancelled.is_set()
    return outcome


@contextmanager
def _sigint_sets(cancelled: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if cancelled.is_set():
            raise KeyboardInterrupt
        cancelled.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_one(
    probe: Probe,
    options: ProbeOptions,
    cancelled: threading.Event,
    listen: Listener,
    poll_s: float,
) -> ProbeResult:
    slot = _Slot()

    def report_progress(fraction: float, message: str) -> None:
        with slot.lock:
            slot.fraction, slot.message = fraction, message

    context = ProbeContext(options=options, cancelled=cancelled, progress=report_progress)
    started = time.monotonic()

    def work() -> None:
        try:
            slot.result = probe.run(context)
        except ProbeError as exc:
            slot.result = ProbeResult(probe=probe.name, reason=str(exc))
        except Exception as exc:  # one broken probe must not end the run; the reason is shown
            slot.result = ProbeResult(
                probe=probe.name,
                reason=f"the {probe.title.lower()} check failed unexpectedly "
                f"({type(exc).__name__}: {exc})",
            )
        slot.result = _with_duration(slot.result, time.monotonic() - started)

    timeout = probe.timeout_seconds(options)
    listen.started(probe, probe.expected_seconds(options))
    thread = threading.Thread(target=work, name=f"probe-{probe.name}", daemon=True)
    thread.start()
    last_seen = (-1.0, "")
    while thread.is_alive():
        try:
            thread.join(poll_s)
        except KeyboardInterrupt:  # SIGINT outside our handler (e.g. run from another thread)
            cancelled.set()
        if cancelled.is_set():
            thread.join(CANCEL_GRACE_S)
            break
        with slot.lock:
            seen = (slot.fraction, slot.message)
        if seen != last_seen:
            listen.progress(probe, *seen)
            last_seen = seen
        if time.monotonic() - started > timeout:
            break
    if slot.result is not None:
        return slot.result
    elapsed = round(time.monotonic() - started, 3)
    if cancelled.is_set():
        return ProbeResult(
            probe=probe.name,
            reason=STOPPED_REASON,
            cause=Cause.STOPPED,
            duration_s=elapsed,
            partial=True,
        )
    return ProbeResult(
        probe=probe.name,
        reason=f"the {probe.title.lower()} check did not finish within {timeout:g} s",
        duration_s=elapsed,
    )


def _with_duration(result: ProbeResult, seconds: float) -> ProbeResult:
    if result.duration_s:
        return result
    return replace(result, duration_s=round(seconds, 3))
