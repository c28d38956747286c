"""What both public backends do the same way: the speedtest.net one (backend.py) and Cloudflare's
(cloudflare.py) differ in how they find their server and name their endpoints; from there on the
test is one test, so its figures mean the same thing whichever service measured:

- a run's state (`PublicRun`): the measurements so far, the phases, the work bounded in time;
- the phases' lengths within the network phase's budget (`phases_within`);
- a direction's speed from its streams (`record_speed`): the series, the details, the steady
  rate with the method text of the employer path, or the reason there is none;
- the delay, jitter, loss and MOS of the quiet probes and the delay added under load
  (`record_path`, by probes/network/analysis/callquality.py as against an employer server);
- the finished result, or the one sentence why nothing was measured (`finish`, `not_measured`).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.message import Message
from typing import Generic, Protocol, TypeVar
from urllib.error import HTTPError

from homecheck.metrics import Metric, measured
from homecheck.model import (
    JSON,
    Direction,
    Measurement,
    Phase,
    ProbeResult,
    Series,
    SeriesName,
    Unmeasured,
)
from homecheck.probe import ProbeContext
from probes.network.analysis import callquality, speeds
from probes.network.analysis.steady_rate import SAMPLE_S
from probes.network.public import transfers
from probes.network.public.errors import ADVICE, OutOfTime, StoppedAnswering, why
from probes.network.public.rtt_sampler import RttSample, RttSampler

T = TypeVar("T")

# Everything a public backend measures: the speeds, the call figures, the delay added under load.
METRICS = (
    Metric.DOWNLOAD_MBPS,
    Metric.UPLOAD_MBPS,
    *callquality.CALL_METRICS,
    Metric.LOADED_LATENCY_INCREASE_MS,
)
_OVER_TIME = "measured over time only against an employer server (--server with --duration)"
NOT_HERE = {
    Metric.UDP_OK: "the public speed test cannot check voice (UDP) traffic; "
    "an employer server (--server) can",
    Metric.WORST_WINDOW_LOSS_PCT: _OVER_TIME,
    Metric.WORST_WINDOW_JITTER_MS: _OVER_TIME,
    Metric.WORST_WINDOW_MOS: _OVER_TIME,
}
CUT_SHORT = "the test was cut short before this was measured"


def phases_within(
    left_s: float,
    idle_s: float,
    download_s: float,
    upload_s: float,
    probe_interval_s: float,
    finish_s: float,
) -> tuple[float, float, float]:
    """(idle, download, upload) seconds fitting in `left_s` (what the set-up left of the network
    phase's budget), each at most the one asked for. What a slow set-up (a 200 ms round trip)
    costs comes off every phase in proportion, the quiet one kept long enough for
    callquality.MIN_PROBES probes, a transfer at least 2 s."""
    usable = max(0.0, left_s - finish_s)
    scale = min(1.0, usable / (idle_s + download_s + upload_s))
    floor = min(idle_s, callquality.MIN_PROBES * probe_interval_s * 1.1)
    idle = max(floor, idle_s * scale)
    share = min(1.0, max(0.0, usable - idle) / (download_s + upload_s))
    # Below 2 s a phase is mostly ramp-up: keep that much and run over the budget instead.
    download = max(min(2.0, download_s), download_s * share)
    upload = max(min(2.0, upload_s), upload_s * share)
    return idle, download, upload


class Probing(Protocol):
    """The settings both backends' phases read."""

    @property
    def probe_interval_s(self) -> float: ...
    @property
    def loaded_probe_interval_s(self) -> float: ...


S = TypeVar("S", bound=Probing)


class Stopped(Exception):
    """Ctrl-C (the run's context was cancelled): keep what was measured."""


class ShutdownEvent(threading.Event):
    """speedtest-cli 2.1.3 polls `isSet()`, deprecated since Python 3.10, thousands of times a
    second: answer it without the DeprecationWarning."""

    def isSet(self) -> bool:  # the name speedtest-cli calls
        return self.is_set()


@dataclass
class PublicRun(Generic[S]):
    context: ProbeContext
    settings: S
    name: str  # of the threads that run bounded work
    started: float = field(default_factory=time.monotonic)
    # Set when the run gives up on bounded work (time out, Ctrl-C): what it started stops too.
    shutdown: threading.Event = field(default_factory=ShutdownEvent)
    measurements: list[Measurement] = field(default_factory=list)
    unmeasured: list[Unmeasured] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    details: dict[str, JSON] = field(default_factory=dict)
    phases: list[tuple[str, float, float]] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def bounded(self, work: Callable[[], T], seconds: float) -> T:
        """`work()` in a daemon thread, given up after `seconds` or on Ctrl-C. A DNS lookup, a
        TLS handshake to a silent server and speedtest-cli's hard-coded 10 s socket timeouts
        cannot be interrupted: only a thread we can walk away from bounds them."""
        box: list[T] = []
        failure: list[BaseException] = []

        def target() -> None:
            try:
                box.append(work())
            except BaseException as exc:  # handed to the caller, which decides
                failure.append(exc)

        worker = threading.Thread(target=target, name=self.name, daemon=True)
        worker.start()
        deadline = time.monotonic() + seconds
        while worker.is_alive():
            worker.join(0.05)
            if self.context.cancelled.is_set():
                self.shutdown.set()
                raise Stopped
            if time.monotonic() > deadline and worker.is_alive():
                self.shutdown.set()
                raise OutOfTime(seconds)
        if failure:
            raise failure[0]
        return box[0]

    def phase(
        self,
        name: Phase,
        sampler: RttSampler,
        work: Callable[[], T],
        fraction: float,
        bound_s: float | None = None,
    ) -> T:
        """One phase of the test: the delay probes told which phase (and how often to probe),
        its span recorded, `work` bounded by `bound_s` when given."""
        self.context.progress(
            fraction, "measuring delay" if name is Phase.IDLE else f"measuring {name}"
        )
        sampler.phase = name
        quiet = name is Phase.IDLE
        sampler.interval_s = (
            self.settings.probe_interval_s if quiet else self.settings.loaded_probe_interval_s
        )
        begin = self.elapsed()
        try:
            return work() if bound_s is None else self.bounded(work, bound_s)
        finally:
            self.phases.append((name, round(begin, 3), round(self.elapsed(), 3)))

    def quiet(self, seconds: float) -> None:
        if self.context.cancelled.wait(seconds):
            raise Stopped


def record_speed(
    run: PublicRun[S], transfer: transfers.Transfer, *, server: str, endpoint: str = ""
) -> None:
    """The steady rate of one direction as a measurement (the employer path's method text, with
    `endpoint` naming the service's), its 100 ms series and its details. A phase cancelled,
    refused, or that stopped moving data ends the test with that reason (raised); one that moved
    too little to measure leaves the speed NOT MEASURED with the reason. `server` is how the
    reason names the server ("the test server", "Cloudflare")."""
    direction = Direction(transfer.direction)
    metric = speeds.SPEED_METRICS[direction]
    run.series.append(speeds.rate_series(direction, transfer, run.started))
    info = speeds.details(transfer, run.started)
    info["counted"] = transfer.counted_by.name.lower()
    throughput = run.details.setdefault("throughput", {})
    assert isinstance(throughput, dict)
    throughput[str(direction)] = info
    if run.context.cancelled.is_set():
        raise Stopped
    if transfer.refused is not None:
        raise refusal(transfer.refused)
    if transfer.stalled:
        if transfer.errors and not transfer.samples:
            raise ConnectionError(transfer.errors[0])  # no stream ever connected: say why
        raise StoppedAnswering(transfers.STALL_S)
    steady = transfer.steady
    if steady is None or steady.mbps <= 0:
        run.unmeasured.append(
            Unmeasured(
                metric,
                f"the {direction} test moved too little data to measure a speed; run homecheck "
                f"again, and if it repeats the connection to {server} is very poor",
            )
        )
        return
    run.measurements.append(
        measured(
            metric,
            round(steady.mbps, 2),
            samples=callquality.decimate(speeds.steady_samples(transfer)),
            method=throughput_method(transfer) + (f"; {endpoint}" if endpoint else ""),
        )
    )


def throughput_method(transfer: transfers.Transfer) -> str:
    """The report's method text: worded as the employer path's where the method is the same
    (probes/network/employer/result.py)."""
    assert transfer.steady is not None
    ramp = transfer.steady.start_s - transfer.started
    if transfer.counted_by is transfers.CountedBy.KERNEL_RECEIVED:
        counted = "at the receiver by its kernel (TCP_INFO)"
    elif transfer.counted_by is transfers.CountedBy.READ:
        counted = "at the receiver"
    else:
        counted = transfer.counted_by.value
    return (
        f"{transfer.streams} parallel TCP streams, bytes counted {counted} every "
        f"{SAMPLE_S * 1000:.0f} ms, first {ramp:.1f} s of ramp-up discarded"
    )


def refusal(status_line: str) -> HTTPError:
    """The server's refusal as urllib's HTTPError, so errors.why names it as for speedtest-cli."""
    parts = status_line.split()
    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 502
    return HTTPError("", code, status_line, Message(), None)


def record_path(
    run: PublicRun[S],
    samples: Sequence[RttSample],
    method: str,
    where: str,
    failure: str | None,
) -> None:
    """Delay, jitter, loss and MOS from the quiet probes (probes/network/analysis/callquality.py,
    as against an employer server), and the delay added under load. `method` is the sampler's
    (ICMP echo, TCP connect), `where` the host as the method text names it."""
    idle = [s.rtt_ms for s in samples if s.phase == Phase.IDLE]
    run.series.append(
        Series(
            SeriesName.RTT_MS,
            "ms",
            tuple((s.sent_s, round(s.rtt_ms, 3)) for s in samples if s.rtt_ms is not None),
            phases=tuple(run.phases),
        )
    )
    run.details["rtt_method"] = method
    how = f"{method} to {where}, every {run.settings.probe_interval_s * 1000:g} ms"
    figures, missing = callquality.measurements_from_rtts(idle, f"{how}, line quiet", failure)
    run.measurements += figures
    run.unmeasured += missing
    answered = [r for r in idle if r is not None]
    if not answered:
        return
    increases = {}
    for phase in (Phase.DOWNLOAD, Phase.UPLOAD):
        loaded = [s.rtt_ms for s in samples if s.phase == phase and s.rtt_ms is not None]
        if loaded:
            increases[phase] = statistics.median(loaded) - statistics.median(answered)
    if increases:
        worst = max(increases, key=lambda k: increases[k])
        text = ", ".join(f"{k} {v:+.1f} ms" for k, v in increases.items())
        run.measurements.append(
            measured(
                Metric.LOADED_LATENCY_INCREASE_MS,
                round(max(0.0, increases[worst]), 2),
                method=f"median delay under load minus quiet ({text}); {method}, every "
                f"{run.settings.loaded_probe_interval_s * 1000:g} ms under load",
            )
        )


def finish(run: PublicRun[S], *, partial: bool, reason: str = CUT_SHORT) -> ProbeResult:
    """The result: what was measured, and `reason` for what the test did not reach."""
    have = {m.metric for m in run.measurements} | {u.metric for u in run.unmeasured}
    unmeasured = [*run.unmeasured, *(Unmeasured(m, reason) for m in METRICS if m not in have)]
    unmeasured += [Unmeasured(m, r) for m, r in NOT_HERE.items()]
    return ProbeResult(
        probe="network",
        measurements=tuple(run.measurements),
        unmeasured=tuple(unmeasured),
        series=tuple(run.series),
        details=run.details,
        duration_s=round(run.elapsed(), 3),
        partial=partial,
    )


def not_measured(run: PublicRun[S], exc: BaseException, service: str) -> ProbeResult:
    """Nothing measured: every metric NOT MEASURED with the one sentence why, and the advice."""
    sentence = why(exc, service)
    reason = f"{sentence[0].upper()}{sentence[1:]}. {ADVICE}"
    return ProbeResult(
        probe="network",
        unmeasured=tuple(Unmeasured(m, reason) for m in (*METRICS, *NOT_HERE)),
        details={"failure": type(exc).__name__},
        reason=reason,
        duration_s=round(run.elapsed(), 3),
    )


def any_speed(measurements: Iterable[Measurement]) -> bool:
    return any(m.metric in speeds.SPEED_METRICS.values() for m in measurements)
