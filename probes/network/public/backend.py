"""The network measured against public speed-test servers (speedtest.net), when no employer server
is given.

What it measures
- Download and upload speed (Mbit/s, 10^6 bit/s of HTTP payload, i.e. TCP goodput), measured as
  against an employer server (probes/network/employer/throughput.py). speedtest-cli
  (https://github.com/sivel/speedtest-cli) does what it does well: speedtest.net's configuration
  and server list, the nearest servers by distance, the one with the lowest HTTP latency among
  them, and its exception tree. The transfers are homecheck's own
  (probes/network/public/transfers.py): 8 parallel streams to the chosen server's own endpoints,
  over http or https as its URL says (https verified with the OS trust store), GETs of its
  `random4000x4000.jpg` for the download (5 s), POSTs to its `upload.php` for the upload (5 s),
  the phases shortened in proportion when the set-up was slow, so the whole test stays within
  15 s (SpeedtestSettings.budget_s). Delay probes run every 250 ms under load.
  The bytes are sampled every 100 ms: the download as the receiving kernel counts them
  (TCP_INFO), the upload as the server acknowledged them (the kernel's acked count; on macOS the
  bytes sent minus what the send buffer still holds; elsewhere the server's reply to each
  request). The ramp-up (TCP slow start) is discarded (probes/network/analysis/steady_rate.py),
  as for an employer server. speedtest-cli's own figure (all bytes over all the time, ramp-up
  included, upload counted into the send buffer) read 0.89-0.94 of iperf3 on lab links; this one
  is checked against iperf3 by bench/speedtest_accuracy.py.
- Delay, jitter and loss, which speedtest.net's servers do not report: probes every 50 ms to the
  chosen server's host (probes/network/public/rtt_sampler.py: ICMP echo where the OS allows an
  unprivileged ICMP socket and the server answers it, else TCP connect timing) for 3 s before the
  load, then on through the download and the upload. The quiet probes give the delay (median and
  95th percentile, ms), the jitter (RFC 3550 estimator on successive round trips, divided by
  sqrt(2) because both directions add up in a round trip), the loss (%) and the estimated call
  quality (MOS, ITU-T G.107 E-model), all computed by probes/network/analysis/callquality.py
  exactly as for an employer server. Round trips cannot be split into directions, so upstream
  and downstream carry the same figures (the loss is an upper bound of each). The median delay
  during each load phase minus the quiet median is the delay added under load (bufferbloat; the
  worse of the two is reported). Fewer than callquality.MIN_PROBES (40) quiet probes give the
  delay only: jitter, loss and MOS are then NOT MEASURED with the count and, if the probes
  stopped, why.
- Not measurable here: whether voice (UDP) traffic gets through, and figures per time window; an
  employer's `homecheck serve` (`--server`) measures those.

HTTPS to speedtest.net is verified with the operating system's certificate store
(probes/network/public/trust.py), so a python.org Python on macOS without its own CA bundle works,
and a network that re-signs TLS is named as such.

Failing soft: speedtest.net answers 403 or 429 at times, a hotel Wi-Fi answers with a login page,
an offline computer cannot look its name up, and a server can stop answering mid-test. Every such
failure, and any step that overruns its time bound, ends the test with one plain sentence and the
advice to use an employer server. The default thresholds live in the profiles
(homecheck/profiles/*.toml).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import speedtest

from homecheck.model import Direction, Phase, ProbeResult
from homecheck.probe import ProbeContext
from probes.network.public import transfers, trust
from probes.network.public.errors import GIVE_UP, SPEEDTEST_FAILURES, NoServers, why
from probes.network.public.rtt_sampler import RttSampler, resolve
from probes.network.public.run import (
    PublicRun,
    Stopped,
    any_speed,
    finish,
    not_measured,
    phases_within,
    record_path,
    record_speed,
)


@dataclass(frozen=True)
class SpeedtestSettings:
    secure: bool = True  # speedtest.net answers plain HTTP with 403 since 2022
    socket_timeout_s: float = 4.0
    setup_s: float = 12.0  # configuration + server list + choosing the server
    idle_s: float = 3.0
    download_s: float = 5.0
    upload_s: float = 5.0
    closest_servers: int = 3
    # As against an employer server (probes/network/employer/throughput.py), and as iperf3 -P 8
    # in bench/speedtest_accuracy.py: one stream rarely fills a long fat pipe, and on a lossy
    # line each stream's rate is bounded by the loss; with 4 the sum of their sawing windows
    # wandered (one run of three 21 % below the others at 100/20 Mbit/s with loss), with 8 each
    # needs half the window and a stream's retransmission timeout moves the sum half as much.
    streams: int = 8
    probe_interval_s: float = 0.05
    # Under load a probe every 250 ms: enough for the median, and the probes' own packets (a TCP
    # connect probe is ~3 small packets each way) take 0.6 % of a 1 Mbit/s line instead of 3 %,
    # which iperf3, the truth of bench/speedtest_accuracy.py, does not share the line with.
    loaded_probe_interval_s: float = 0.25
    # The whole test, setup included: what the set-up (speedtest.net's configuration, server
    # list and latency test: ~4 s at a 200 ms round trip) leaves is shared by the phases in
    # proportion, the quiet one kept long enough for callquality.MIN_PROBES probes.
    budget_s: float = 15.0
    # Ending the streams of two phases (<= 0.5 s each) and the delay probes still in flight (a
    # lost one waits for its 1 s timeout).
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
        return min(self.budget_s, 2.0 + self.idle_s + self.download_s + self.upload_s + 1.0)

    def bound_s(self) -> float:
        """The longest the whole test can take."""
        grace = self.socket_timeout_s + 1.0
        return self.setup_s + self.idle_s + self.download_s + self.upload_s + 2 * grace + 2.0


SERVICE = "speedtest.net"
# speedtest.net's largest download file (about 31 MB) and speedtest-cli's largest upload size:
# few requests per stream, each a new ramp-up only where the server closes the connection.
DOWNLOAD_FILE = "random4000x4000.jpg"
UPLOAD_BYTES = 7_340_032
# Where only the server's reply confirms an upload, requests small enough to be confirmed many
# times a phase even on a 1 Mbit/s uplink: speedtest.net's configuration says maxchunksize="512K".
CONFIRMED_UPLOAD_BYTES = 524_288


def run_speedtest(context: ProbeContext, settings: SpeedtestSettings | None = None) -> ProbeResult:
    """The public-internet network test; never raises for a network failure."""
    run = PublicRun(context, settings or SpeedtestSettings(), name="speedtest")
    try:
        _measure(run)
    except Stopped:
        return finish(run, partial=True)
    except GIVE_UP as exc:
        # No speed at all (refused, stalled or failed before the download was measured): the
        # test failed, whatever delay figures it has, and says why (a caller may try another
        # service). After the download: the upload says why it is missing.
        if not any_speed(run.measurements):
            return not_measured(run, exc, SERVICE)
        reason = why(exc, SERVICE)
        run.details["stopped_because"] = reason
        return finish(run, partial=True, reason=reason)
    return finish(run, partial=False)


def _measure(run: PublicRun[SpeedtestSettings]) -> None:
    settings, progress = run.settings, run.context.progress
    setup_end = time.monotonic() + settings.setup_s
    progress(0.02, "contacting speedtest.net")
    tester: Any = run.bounded(
        lambda: trust.Speedtest(
            timeout=settings.socket_timeout_s, secure=settings.secure, shutdown_event=run.shutdown
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
    best = run.bounded(
        lambda: _lowest_latency(tester, closest), max(0.5, setup_end - time.monotonic())
    )
    # The server's own endpoints, over http or https as its URL says; a TLS context of its own
    # per connection (trust.py), looked up at each use.
    server = transfers.Server.from_url(best["url"], tls=lambda: trust.os_trust_context())
    # Sponsor and city only: the distance would tell where the candidate lives.
    run.details["server"] = f"{best.get('sponsor', '?')} ({best.get('name', '?')})"

    # The server's name looked up once, for the delay probes and every stream
    # (transfers.Server.address says why); the sampler tries ICMP for up to a second first.
    address = run.bounded(lambda: resolve(server.host, server.port), settings.socket_timeout_s)
    server = dataclasses.replace(server, address=address)
    sampler = run.bounded(
        lambda: RttSampler(
            server.host, server.port, interval_s=settings.probe_interval_s, address=address
        ),
        settings.socket_timeout_s,
    )
    sampler.start()
    try:
        idle_s, download_s, upload_s = settings.phases_within(settings.budget_s - run.elapsed())
        run.phase(Phase.IDLE, sampler, lambda: run.quiet(idle_s), 0.15)
        for way, seconds, fraction in (
            (Direction.DOWNLOAD, download_s, 0.35),
            (Direction.UPLOAD, upload_s, 0.7),
        ):
            transfer = run.phase(
                Phase(way),
                sampler,
                functools.partial(_transfer, run, server, best["url"], way, seconds),
                fraction,
                bound_s=seconds + settings.socket_timeout_s + 1.0,
            )
            record_speed(run, transfer, server="the test server")
    finally:
        samples = sampler.stop()
        record_path(run, samples, sampler.method.value, "the speed-test server", sampler.failure)
    progress(1.0, "done")


def _lowest_latency(tester: Any, servers: list[dict[str, Any]]) -> dict[str, Any]:
    """speedtest-cli's own choice (3 GETs of each server's latency.txt, the lowest mean wins),
    with the servers timed at once rather than one after another: 1.8 s instead of 5.4 s at a
    200 ms round trip. Each server on a copy of the tester, whose results it overwrites."""
    timed: list[dict[str, Any]] = []
    failures: list[BaseException] = []

    def one(server: dict[str, Any]) -> None:
        probe = copy.copy(tester)
        probe.results = copy.copy(tester.results)
        probe._best = {}
        try:
            timed.append(probe.get_best_server([server]))
        except SPEEDTEST_FAILURES as exc:
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(s,), daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # speedtest-cli's own timeouts bound each; run.bounded bounds them all
    if not timed:
        raise failures[0] if failures else speedtest.SpeedtestBestServerFailure()
    best = min(timed, key=lambda server: float(server["latency"]))
    tester.results.ping, tester.results.server = best["latency"], best
    tester._best.update(best)
    return best


def _transfer(
    run: PublicRun[SpeedtestSettings],
    server: transfers.Server,
    url: str,
    way: Direction,
    seconds: float,
) -> transfers.Transfer:
    """One direction's streams to the server's `random*.jpg` or `upload.php`, with
    speedtest-cli's headers and cache-busting query."""
    settings = run.settings
    path = urlsplit(url).path or "/speedtest/upload.php"
    folder = path.rsplit("/", 1)[0]
    stamp = int(time.time() * 1000)
    headers = (("User-Agent", speedtest.build_user_agent()), ("Cache-Control", "no-cache"))
    if way is Direction.DOWNLOAD:

        def download_request(stream: int, number: int) -> transfers.Request:
            target = f"{folder}/{DOWNLOAD_FILE}?x={stamp}.{stream}.{number}"
            return transfers.Request("GET", target, headers)

        return transfers.download(server, download_request, settings.streams, seconds, run.shutdown)
    size = UPLOAD_BYTES
    if transfers.upload_counting() is transfers.CountedBy.SERVER_REPLIES:
        size = CONFIRMED_UPLOAD_BYTES
    upload_headers = (*headers, ("Content-Type", "application/octet-stream"))

    def upload_request(stream: int, number: int) -> transfers.Request:
        target = f"{path}?x={stamp}.{stream}.{number}"
        return transfers.Request("POST", target, upload_headers, size)

    return transfers.upload(server, upload_request, settings.streams, seconds, run.shutdown)
