"""The network measured against Cloudflare's speed test (speed.cloudflare.com), the second public
backend: used when speedtest.net refuses, fails or is blocked (probes/network/public/choose.py),
or alone with `--public-backend cloudflare`.

Why Cloudflare (issue 15 allowed M-Lab's ndt7 and/or Cloudflare): its endpoints are plain HTTPS
that any client may call, with no token service to ask first (ndt7 needs M-Lab's locate API and
its access tokens), nothing to install (ndt7 needs a WebSocket client), and Cloudflare keeps no
public record of who tested, whereas M-Lab publishes every client's IP address in its open data.
The protocol is the one Cloudflare's own MIT-licensed client uses (@cloudflare/speedtest,
https://github.com/cloudflare/speedtest: src/config/defaultConfig.ts, BandwidthEngine.ts):

- Where it measured: `GET /cdn-cgi/trace` (`key=value` lines); `colo` names the Cloudflare data
  centre that answered (an airport code such as AMS), reported as the server. The same answer
  holds the client's address, which homecheck never keeps. A login page instead of these lines
  (a hotel Wi-Fi) ends the test with that reason.
- HTTP latency, as Cloudflare's client measures it: `GET /__down?bytes=0` on one open
  connection, the time to the first byte minus the server's own time from its `Server-Timing:
  cfRequestDuration;dur=MS` header (median of `http_pings`, in the details).
- Delay, jitter, loss and MOS exactly as against speedtest.net: ICMP echo or TCP connect timing
  to speed.cloudflare.com every 50 ms (probes/network/public/rtt_sampler.py), quiet for 3 s, then
  through both transfers for the delay added under load (probes/network/analysis/callquality.py).
- The whole test, set-up included, fits the network phase's 15 s (`budget_s`): what the set-up
  leaves is shared by the phases as against speedtest.net (backend.phases_within).
- Download: `GET /__down?bytes=N` on `streams` parallel HTTPS connections, each asking again when
  a response ends, N growing as Cloudflare's client grows it (100 kB, 1 MB, 10 MB, then 25 MB);
  upload: `POST /__up` with bodies of the same sizes. The streams, the counting (download by the
  receiving kernel, upload by what the server acknowledged) and the ramp-up discarded are those of
  the speedtest.net path (probes/network/public/transfers.py), so both services' figures mean the
  same thing: the line's TCP goodput in Mbit/s (10^6 bit/s).

Failing soft: DNS failure, a certificate this computer does not trust (interception), 403/429,
a login page, no answer in time, and a service that stops sending or taking data mid-test (no byte
moved on any stream for transfers.STALL_S) each end the test with one plain sentence
(probes/network/public/errors.py, naming speed.cloudflare.com), within `bound_s()`.
"""

from __future__ import annotations

import functools
import http.client
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
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
from probes.network.analysis import callquality
from probes.network.public import transfers, trust
from probes.network.public.backend import (
    METRICS,
    NOT_HERE,
    SPEED_METRICS,
    SPEED_SERIES,
    phases_within,
    throughput_method,
)
from probes.network.public.errors import (
    ADVICE,
    OutOfTime,
    StoppedAnswering,
    UnexpectedAnswer,
    why,
)
from probes.network.public.rtt_sampler import RttSample, RttSampler

T = TypeVar("T")

HOST = "speed.cloudflare.com"
TITLE = "Cloudflare"
# Request sizes as Cloudflare's client grows them (defaultConfig.ts: 1e5, 1e6, 1e7, 2.5e7 ...),
# kept at 25 MB from then on: a stream's next request costs a round trip, a big one is rare.
SIZES = (100_000, 1_000_000, 10_000_000, 25_000_000)
# Everything that ends this test early with a reason: the failures of http.client and TLS
# (OSError covers socket, DNS and TLS errors), answers of the wrong shape, and our own.
FAILURES: tuple[type[BaseException], ...] = (
    OSError,
    http.client.HTTPException,
    UnexpectedAnswer,
    OutOfTime,
    StoppedAnswering,
)


@dataclass(frozen=True)
class CloudflareSettings:
    host: str = HOST
    socket_timeout_s: float = 4.0
    setup_s: float = 6.0  # the trace and the HTTP latency requests
    # One round trip each on the open connection, before the phases: 10 took 2 s of the budget
    # at a 200 ms round trip; the median of 5 is as steady, and the delay itself is measured by
    # the probes of the quiet phase, not by these.
    http_pings: int = 5
    idle_s: float = 3.0
    download_s: float = 5.0
    upload_s: float = 5.0
    streams: int = 8  # as against speedtest.net (SpeedtestSettings.streams says why)
    probe_interval_s: float = 0.05
    # Under load a probe every 250 ms, as against speedtest.net (SpeedtestSettings): the probes'
    # own packets would otherwise take 3 % of a 1 Mbit/s upload.
    loaded_probe_interval_s: float = 0.25
    # The whole test, set-up included, as against speedtest.net (SpeedtestSettings.budget_s):
    # what the trace, the HTTP latency requests and the sampler's start leave is shared by the
    # phases (backend.phases_within).
    budget_s: float = 15.0
    finish_s: float = 1.5

    def phases_within(self, left_s: float) -> tuple[float, float, float]:
        """(idle, download, upload) seconds fitting in `left_s`, each at most the settings'."""
        return phases_within(
            left_s,
            self.idle_s,
            self.download_s,
            self.upload_s,
            self.probe_interval_s,
            self.finish_s,
        )

    def expected_s(self) -> float:
        return min(self.budget_s, 1.0 + self.idle_s + self.download_s + self.upload_s + 1.0)

    def bound_s(self) -> float:
        """The longest the whole test can take."""
        return self.setup_s + 2 * self.socket_timeout_s + self.expected_s() + 3.0


def size(number: int) -> int:
    """The payload of a stream's `number`-th request (0 first)."""
    return SIZES[min(number, len(SIZES) - 1)]


def down_request(stream: int, number: int) -> transfers.Request:
    return transfers.Request("GET", f"/__down?bytes={size(number)}")


def up_request(stream: int, number: int) -> transfers.Request:
    return transfers.Request(
        "POST", "/__up", (("Content-Type", "text/plain;charset=UTF-8"),), size(number)
    )


class _Stopped(Exception):
    pass


@dataclass
class _Run:
    context: ProbeContext
    settings: CloudflareSettings
    started: float = field(default_factory=time.monotonic)
    measurements: list[Measurement] = field(default_factory=list)
    unmeasured: list[Unmeasured] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    details: dict[str, JSON] = field(default_factory=dict)
    phases: list[tuple[str, float, float]] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def bounded(self, work: Callable[[], T], seconds: float) -> T:
        """`work()` in a daemon thread, given up after `seconds` (a DNS lookup or a TLS
        handshake to a silent server cannot be interrupted) or on Ctrl-C."""
        box: list[T] = []
        failure: list[BaseException] = []

        def target() -> None:
            try:
                box.append(work())
            except BaseException as exc:  # handed to the caller, which decides
                failure.append(exc)

        worker = threading.Thread(target=target, name="cloudflare", daemon=True)
        worker.start()
        deadline = time.monotonic() + seconds
        while worker.is_alive():
            worker.join(0.05)
            if self.context.cancelled.is_set():
                raise _Stopped
            if time.monotonic() > deadline and worker.is_alive():
                raise OutOfTime(seconds)
        if failure:
            raise failure[0]
        return box[0]


def run_cloudflare(
    context: ProbeContext, settings: CloudflareSettings | None = None
) -> ProbeResult:
    """The network test against speed.cloudflare.com; never raises for a network failure."""
    run = _Run(context, settings or CloudflareSettings())
    partial = False
    try:
        _measure(run)
    except _Stopped:
        partial = True
    except FAILURES as exc:
        if not run.measurements:
            return _not_measured(run, exc)
        partial = True
        run.details["stopped_because"] = why(exc, run.settings.host)
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
    progress(0.02, f"contacting {settings.host}")
    setup_end = time.monotonic() + settings.setup_s
    colo, pings = run.bounded(lambda: _set_up(settings), settings.setup_s)
    run.details["server"] = f"{TITLE} ({colo})"
    if pings:
        run.details["http_rtt_ms"] = round(statistics.median(pings), 2)
        run.details["http_rtt_method"] = (
            f"median of {len(pings)} GET /__down?bytes=0: time to first byte minus the "
            "server's time (Server-Timing)"
        )
    sampler = run.bounded(
        lambda: RttSampler(settings.host, 443, interval_s=settings.probe_interval_s),
        max(settings.socket_timeout_s, setup_end - time.monotonic()),
    )
    server = transfers.Server("https", settings.host, 443, trust.os_trust_context)
    sampler.start()
    try:
        idle_s, download_s, upload_s = settings.phases_within(settings.budget_s - run.elapsed())
        progress(0.15, "measuring delay")
        _phase(run, Phase.IDLE, sampler, lambda: _quiet(run, idle_s))
        for direction, seconds, fraction in (
            (Direction.DOWNLOAD, download_s, 0.35),
            (Direction.UPLOAD, upload_s, 0.7),
        ):
            progress(fraction, f"measuring {direction}")
            transfer = _phase(
                run,
                Phase(direction.value),
                sampler,
                functools.partial(_move, run, server, direction, seconds),
            )
            _speed(run, transfer)
    finally:
        samples = sampler.stop()
        _path(run, samples, sampler.method.value, sampler.failure)
    progress(1.0, "done")


def _set_up(settings: CloudflareSettings) -> tuple[str, list[float]]:
    """Where Cloudflare measures (the data centre's code) and the HTTP latency samples (ms)."""
    link = http.client.HTTPSConnection(
        settings.host, 443, timeout=settings.socket_timeout_s, context=trust.os_trust_context()
    )
    try:
        link.connect()
        body, _ = _get(link, "/cdn-cgi/trace", settings.host)
        facts = dict(
            line.split("=", 1)
            for line in body.decode("utf-8", "replace").splitlines()
            if "=" in line
        )
        colo = facts.get("colo", "")
        if not (colo.isalpha() and colo.isupper() and 2 <= len(colo) <= 4):
            raise UnexpectedAnswer("/cdn-cgi/trace has no data centre (colo)")
        pings = []
        for _ in range(settings.http_pings):
            began = time.perf_counter()
            body, server_ms = _get(link, "/__down?bytes=0", settings.host)
            first_byte_ms = (time.perf_counter() - began) * 1000.0
            if body:
                raise UnexpectedAnswer("/__down?bytes=0 answered with a body")
            pings.append(max(0.0, first_byte_ms - server_ms))
        return colo, pings
    finally:
        link.close()


def _get(link: http.client.HTTPSConnection, path: str, host: str) -> tuple[bytes, float]:
    """The body of a 200 answer to GET `path`, and the server's time (ms, Server-Timing)."""
    link.request("GET", path, headers={"Accept": "*/*"})
    response = link.getresponse()
    body = response.read()
    if response.status != 200:
        raise HTTPError(
            f"https://{host}{path}", response.status, response.reason, response.headers, None
        )
    return body, server_time_ms(response.getheader("Server-Timing") or "")


def server_time_ms(header: str) -> float:
    """`cfRequestDuration;dur=15.9` -> 15.9 (0 when absent), as Cloudflare's client reads it."""
    for part in header.replace(",", ";").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "dur":
            try:
                return max(0.0, float(value))
            except ValueError:
                return 0.0
    return 0.0


def _phase(run: _Run, name: Phase, sampler: RttSampler, work: Callable[[], T]) -> T:
    sampler.phase = name
    quiet = name is Phase.IDLE
    sampler.interval_s = (
        run.settings.probe_interval_s if quiet else run.settings.loaded_probe_interval_s
    )
    begin = run.elapsed()
    try:
        return work()
    finally:
        run.phases.append((name, round(begin, 3), round(run.elapsed(), 3)))


def _quiet(run: _Run, seconds: float) -> None:
    if run.context.cancelled.wait(seconds):
        raise _Stopped


def _move(
    run: _Run, server: transfers.Server, direction: Direction, seconds: float
) -> transfers.Transfer:
    settings = run.settings
    if direction is Direction.DOWNLOAD:
        transfer = transfers.download(
            server, down_request, settings.streams, seconds, run.context.cancelled
        )
    else:
        transfer = transfers.upload(
            server, up_request, settings.streams, seconds, run.context.cancelled
        )
    if run.context.cancelled.is_set():
        raise _Stopped
    if transfer.refused is not None:
        code = transfer.refused.split()[1] if len(transfer.refused.split()) > 1 else ""
        status = int(code) if code.isdigit() else 0
        url = f"https://{settings.host}/"
        raise HTTPError(url, status, transfer.refused, http.client.HTTPMessage(), None)
    if transfer.stalled:
        if transfer.errors and not transfer.samples:
            raise ConnectionError(transfer.errors[0])
        raise StoppedAnswering(transfers.STALL_S)
    return transfer


def _speed(run: _Run, transfer: transfers.Transfer) -> None:
    """The steady rate as a measurement, with the speedtest.net path's series, details and
    method text (the method is the same), naming Cloudflare's endpoint."""
    direction = Direction(transfer.direction)
    metric = SPEED_METRICS[direction]
    rates = transfer.rate_series()
    run.series.append(
        Series(
            SPEED_SERIES[direction],
            "Mbit/s",
            tuple((round(t - run.started, 3), round(r, 3)) for t, r in rates),
        )
    )
    steady = transfer.steady
    throughput = run.details.setdefault("throughput", {})
    assert isinstance(throughput, dict)
    throughput[str(direction)] = {
        "steady_from_s": None if steady is None else round(steady.start_s - run.started, 3),
        "steady_to_s": None if steady is None else round(steady.end_s - run.started, 3),
        "stalled": transfer.stalled,
        "counted": transfer.counted_by.name.lower(),
        "errors": list(dict.fromkeys(transfer.errors + transfer.refusals))[:5],
    }
    if steady is None or steady.mbps <= 0:
        run.unmeasured.append(
            Unmeasured(
                metric,
                f"the {direction} test moved too little data to measure a speed; run homecheck "
                "again, and if it repeats the connection to Cloudflare is very poor",
            )
        )
        return
    endpoint = "GET /__down" if direction is Direction.DOWNLOAD else "POST /__up"
    samples = [r for t, r in rates if steady.start_s < t <= steady.end_s]
    run.measurements.append(
        measured(
            metric,
            round(steady.mbps, 2),
            samples=callquality.decimate(samples),
            method=f"{throughput_method(transfer)}; HTTPS to {TITLE} ({endpoint})",
        )
    )


def _path(run: _Run, samples: Sequence[RttSample], method: str, failure: str | None) -> None:
    """Delay, jitter, loss and MOS from the quiet probes (probes/network/analysis/callquality.py,
    as for speedtest.net and an employer server), and the delay added under load."""
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
    how = f"{method} to {run.settings.host}, every {run.settings.probe_interval_s * 1000:g} ms"
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


def _not_measured(run: _Run, exc: BaseException) -> ProbeResult:
    sentence = why(exc, run.settings.host)
    reason = f"{sentence[0].upper()}{sentence[1:]}. {ADVICE}"
    return ProbeResult(
        probe="network",
        unmeasured=tuple(Unmeasured(m, reason) for m in (*METRICS, *NOT_HERE)),
        details={"failure": type(exc).__name__},
        reason=reason,
        duration_s=round(run.elapsed(), 3),
    )
