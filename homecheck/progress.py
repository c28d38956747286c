"""Live progress on stderr while probes run: a rich bar per area in a terminal, plain lines
elsewhere (CI logs, pipes). Both implement homecheck.runner.Listener."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Column

from homecheck.model import Cause, ProbeResult
from homecheck.probe import Probe
from reports.vocabulary import clean


def state(result: ProbeResult) -> str:
    """How an area ended, in words: "done" only when everything it measures was measured, never
    after a lost server or a stop (reliability review §14); otherwise what is missing and why."""
    if result.reason:
        return "not measured: " + clean(result.reason)
    by_design = (Cause.SKIPPED_BY_USER, Cause.NEEDS_LONGER_RUN)
    missing = [u for u in result.unmeasured if u.cause not in by_design]
    if result.partial or any(u.cause is Cause.STOPPED for u in missing):
        return "stopped before the end (what was measured is kept)"
    if missing:
        reasons = list(dict.fromkeys(clean(u.reason) for u in missing))
        return "finished; not measured: " + "; ".join(reasons)
    return "done"


class PlainProgress:
    """One line per area on stderr when it is not a terminal (CI logs, pipes)."""

    def started(self, probe: Probe, expected_s: float) -> None:
        print(f"measuring {probe.title.lower()} (about {expected_s:.0f} s)...", file=sys.stderr)

    def progress(self, probe: Probe, fraction: float, message: str) -> None:
        pass

    def finished(self, probe: Probe, result: ProbeResult) -> None:
        line = f"  {probe.title.lower()}: {state(result)} ({result.duration_s:.1f} s)"
        print(line, file=sys.stderr)


class LiveProgress:
    """A rich progress bar per area: what is being measured and the time left."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            # Wraps rather than cuts: the microphone check shows the sentence to read here.
            TextColumn("{task.fields[note]}", table_column=Column(ratio=1, no_wrap=False)),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> LiveProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)

    def started(self, probe: Probe, expected_s: float) -> None:
        self._tasks[probe.name] = self._progress.add_task(
            f"Measuring {probe.title.lower()}", total=1.0, note=""
        )

    def progress(self, probe: Probe, fraction: float, message: str) -> None:
        self._progress.update(self._tasks[probe.name], completed=fraction, note=clean(message))

    def finished(self, probe: Probe, result: ProbeResult) -> None:
        words = state(result)
        note = f"done in {result.duration_s:.1f} s" if words == "done" else words
        self._progress.update(self._tasks[probe.name], completed=1.0, note=note)
