"""The network measured against public speed-test servers (speedtest.net), when no employer server
is given.

What it measures
- Download and upload speed (Mbit/s, 10^6 bit/s) with speedtest-cli's Python API
  (https://github.com/sivel/speedtest-cli): speedtest.net's configuration and server list, the
  nearest servers by distance, the one with the lowest HTTP latency among them, then parallel
  HTTP downloads of its `random{N}x{N}.jpg` files (8 streams) and uploads to its `upload.php`
  (4 streams, see SpeedtestSettings), each for a fixed time (default 5 s down, 7 s up: the whole
  test takes about 15 s). Speed = bytes moved / elapsed time, as speedtest-cli computes it. On
  links shaped with tc in the link lab this is within 10 % of iperf3
  (tests/probes/test_speedtest_lab.py, bench/speedtest_accuracy.py).
- Delay, jitter and loss, which speedtest-cli does not measure: probes every 50 ms to the chosen
  server's host (probes/network/public/rtt_sampler.py: ICMP echo where the OS allows an
  unprivileged ICMP socket
  and the server answers it, else TCP connect timing) for 3 s before the load, then on through the
  download and the upload. The quiet probes give the delay (median and 95th percentile, ms),
  the jitter (RFC 3550 estimator on successive round trips, divided by sqrt(2) because both
  directions add up in a round trip), the loss (%) and the estimated call quality (MOS, ITU-T
  G.107 E-model), all computed by probes/network/analysis/callquality.py exactly as for an
  employer server. Round
  trips cannot be split into directions, so upstream and downstream carry the same figures (the
  loss is an upper bound of each). The median delay during each load phase minus the quiet
  median is the delay added under load (bufferbloat; the worse of the two is reported).
  Fewer than callquality.MIN_PROBES (40) quiet probes give the delay only: jitter, loss and MOS
  are then NOT MEASURED with the count and, if the probes stopped, why.
- Not measurable here: whether voice (UDP) traffic gets through, and figures per time window; an
  employer's `homecheck serve` (`--server`) measures those.

HTTPS to speedtest.net is verified with the operating system's certificate store
(probes/network/public/trust.py), so a python.org Python on macOS without its own CA bundle works,
and a network that re-signs TLS is named as such.

Failing soft: speedtest.net answers 403 or 429 at times, a hotel Wi-Fi answers with a login page,
and an offline computer cannot look its name up. Every such failure, and any step that overruns its
time bound, ends the test with one plain sentence and the advice to use an employer server.
The default thresholds live in the profiles (homecheck/profiles/*.toml).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

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
from probes.network import connection
from probes.network.analysis import callquality
from probes.network.public import trust
from probes.network.public.adapter_counters import AdapterCounters
from probes.network.public.errors import ADVICE, GIVE_UP, NoServers, OutOfTime, why
from probes.network.public.rtt_sampler import RttSample, RttSampler

T = TypeVar("T")

# Everything this backend measures: the speeds, the call figures, the delay added under load.
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


@dataclass(frozen=True)
class SpeedtestSettings:
    secure: bool = True  # speedtest.net answers plain HTTP with 403 since 2022
    socket_timeout_s: float = 4.0
    setup_s: float = 12.0  # configuration + server list + choosing the server
    idle_s: float = 3.0
    download_s: float = 5.0
    # Longer than the download: speedtest-cli counts bytes handed to the socket, so what sits in
    # send buffers when the upload stops is counted as sent; a longer test dilutes it.
    upload_s: float = 7.0
    closest_servers: int = 3
    # speedtest-cli uploads on 8 streams on any line over 0.1 Mbit/s and counts the bytes handed
    # to the sockets, so what sits in 8 send buffers at the cut-off counts as sent (+9-23 % against
    # iperf3 on 3-8 Mbit/s lab links); speedtest.net's configuration asks for 2, which leave a
    # shallow-queued link idle after a loss (-4 to -39 %). 4 streams for 7 s: within 5 % there.
    upload_threads: int | None = 4
    probe_interval_s: float = 0.05
    counter_interval_s: float = 0.2

    def expected_s(self) -> float:
        return 2.0 + self.idle_s + self.download_s + self.upload_s + 1.0

    def bound_s(self) -> float:
        """The longest the whole test can take."""
        grace = self.socket_timeout_s + 1.0
        return self.setup_s + self.idle_s + self.download_s + self.upload_s + 2 * grace + 2.0


class _Stopped(Exception):
    pass


class _ShutdownEvent(threading.Event):
    """speedtest-cli 2.1.3 polls `isSet()`, deprecated since Python 3.10, thousands of times a
    second: answer it without the DeprecationWarning."""

    def isSet(self) -> bool:  # the name speedtest-cli calls
        return self.is_set()


@dataclass
class _Run:
    context: ProbeContext
    settings: SpeedtestSettings
    started: float = field(default_factory=time.monotonic)
    shutdown: threading.Event = field(default_factory=_ShutdownEvent)
    measurements: list[Measurement] = field(default_factory=list)
    unmeasured: list[Unmeasured] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    details: dict[str, JSON] = field(default_factory=dict)
    phases: list[tuple[str, float, float]] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def bounded(self, work: Callable[[], T], seconds: float) -> T:
        """`work()` in a daemon thread; gives up (and stops speedtest-cli's threads) after
        `seconds` or on Ctrl-C. speedtest-cli hard-codes 10 s socket timeouts for its latency
        requests, so only a thread we can walk away from bounds it."""
        box: list[T] = []
        failure: list[BaseException] = []

        def target() -> None:
            try:
                box.append(work())
            except BaseException as exc:  # handed to the caller, which decides
                failure.append(exc)

        worker = threading.Thread(target=target, name="speedtest", daemon=True)
        worker.start()
        deadline = time.monotonic() + seconds
        while worker.is_alive():
            worker.join(0.05)
            if self.context.cancelled.is_set():
                self.shutdown.set()
                raise _Stopped
            if time.monotonic() > deadline and worker.is_alive():
                self.shutdown.set()
                raise OutOfTime(seconds)
        if failure:
            raise failure[0]
        return box[0]


def run_speedtest(context: ProbeContext, settings: SpeedtestSettings | None = None) -> ProbeResult:
    """The public-internet network test; never raises for a network failure."""
    run = _Run(context, settings or SpeedtestSettings())
    partial = False
    try:
        _measure(run)
    except _Stopped:
        partial = True
    except GIVE_UP as exc:
        if not run.measurements:
            return _not_measured(run, exc)
        partial = True
        run.details["stopped_because"] = why(exc)
    missing = {m.metric for m in run.measurements} | {u.metric for u in run.unmeasured}
    reason = "the test was cut short before this was measured"
    run.unmeasured += [Unmeasured(m, reason) for m in METRICS if m not in missing]
    run.unmeasured += [Unmeasured(m, r) for m, r in NOT_HERE.items()]
    return ProbeResult(
        probe="network",
        measurements=tuple(run.measurements),
        unmeasured=tuple(run.unmeasured),
        series=tuple(run.series),
        details=run.details,
        duration_s=round(run.elapsed(), 3),
        partial=partial,
    )


def _measure(run: _Run) -> None:
    settings, progress = run.settings, run.context.progress
    setup_end = time.monotonic() + settings.setup_s
    progress(0.02, "contacting speedtest.net")
    lengths = {"length": {"download": settings.download_s, "upload": settings.upload_s}}
    tester: Any = run.bounded(
        lambda: trust.Speedtest(
            config=lengths,
            timeout=settings.socket_timeout_s,
            secure=settings.secure,
            shutdown_event=run.shutdown,
        ),
        settings.setup_s,
    )
    progress(0.08, "finding the nearest test servers")
    closest = run.bounded(
        lambda: tester.get_closest_servers(limit=settings.closest_servers),
        max(0.5, setup_end - time.monotonic()),
    )
    if not closest:
        raise NoServers
    progress(0.12, "choosing the test server")
    best = run.bounded(tester.get_best_server, max(0.5, setup_end - time.monotonic()))
    parts = urlsplit(best["url"])
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # Sponsor and city only: the distance would tell where the candidate lives.
    run.details["server"] = f"{best.get('sponsor', '?')} ({best.get('name', '?')})"

    # Both look the server's name up, and the sampler tries ICMP for up to a second first.
    sampler = run.bounded(
        lambda: RttSampler(host, port, interval_s=settings.probe_interval_s),
        settings.socket_timeout_s,
    )
    adapter = run.bounded(lambda: connection.egress_interface(host), settings.socket_timeout_s)
    counters = AdapterCounters(adapter, settings.counter_interval_s)
    sampler.start()
    counters.start()
    try:
        _phase(run, Phase.IDLE, settings.idle_s, lambda: _wait(run, settings.idle_s), sampler, 0.15)
        grace = settings.socket_timeout_s + 1.0
        down = _phase(
            run,
            Phase.DOWNLOAD,
            settings.download_s + grace,
            lambda: tester.download(threads=None),
            sampler,
            0.35,
        )
        _speed(run, Metric.DOWNLOAD_MBPS, down, tester, Direction.DOWNLOAD)
        up = _phase(
            run,
            Phase.UPLOAD,
            settings.upload_s + grace,
            lambda: tester.upload(pre_allocate=False, threads=settings.upload_threads),
            sampler,
            0.7,
        )
        _speed(run, Metric.UPLOAD_MBPS, up, tester, Direction.UPLOAD)
    finally:
        samples = sampler.stop()
        counters.stop()
        _path(run, samples, sampler.method.value, sampler.failure)
        run.series += counters.series(run.phases, run.started)
    progress(1.0, "done")


def _phase(
    run: _Run,
    name: Phase,
    seconds: float,
    work: Callable[[], T],
    sampler: RttSampler,
    fraction: float,
) -> T:
    run.context.progress(
        fraction, f"measuring {name}" if name is not Phase.IDLE else "measuring delay"
    )
    sampler.phase = name
    begin = run.elapsed()
    try:
        return run.bounded(work, seconds)
    finally:
        run.phases.append((name, round(begin, 3), round(run.elapsed(), 3)))


def _wait(run: _Run, seconds: float) -> None:
    run.context.cancelled.wait(seconds)


def _speed(run: _Run, metric: Metric, bits_per_s: float, tester: Any, way: Direction) -> None:
    if bits_per_s <= 0:
        run.unmeasured.append(Unmeasured(metric, f"no data moved during the {way} test"))
        return
    seconds = run.settings.download_s if way is Direction.DOWNLOAD else run.settings.upload_s
    threads = tester.config["threads"][way]
    if way is Direction.UPLOAD and run.settings.upload_threads:
        threads = run.settings.upload_threads
    run.measurements.append(
        measured(
            metric,
            round(bits_per_s / 1e6, 2),
            method=f"speedtest-cli, {threads} parallel HTTP streams for up to {seconds:g} s",
        )
    )


def _path(run: _Run, samples: Sequence[RttSample], method: str, failure: str | None = None) -> None:
    """Delay, jitter, loss and MOS from the idle probes (probes/network/analysis/callquality.py,
    shared with the
    homecheck-server backend), and the delay added under load."""
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
    how = f"{method} to the speed-test server, every {run.settings.probe_interval_s * 1000:g} ms"
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
                method=f"median delay under load minus quiet ({text}); {method}",
            )
        )


def _not_measured(run: _Run, exc: BaseException) -> ProbeResult:
    sentence = why(exc)
    reason = f"{sentence[0].upper()}{sentence[1:]}. {ADVICE}"
    return ProbeResult(
        probe="network",
        unmeasured=tuple(Unmeasured(m, reason) for m in (*METRICS, *NOT_HERE)),
        details={"failure": type(exc).__name__},
        reason=reason,
        duration_s=round(run.elapsed(), 3),
    )
