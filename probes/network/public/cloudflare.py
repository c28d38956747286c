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
  leaves is shared by the phases as against speedtest.net (run.phases_within).
- Download: `GET /__down?bytes=25000000` (the largest size Cloudflare's client asks for) on
  `streams` parallel HTTPS connections, each asking again when a response ends; upload: `POST /__up`
  with bodies growing as Cloudflare's client grows them (100 kB, 1 MB, 10 MB, then 25 MB). The
  streams, the counting (download by the receiving kernel, upload by what the server acknowledged)
  and the ramp-up discarded are those of the speedtest.net path
  (probes/network/public/transfers.py), so both services' figures mean the same thing: the line's
  TCP goodput in Mbit/s (10^6 bit/s).

Failing soft: DNS failure, a certificate this computer does not trust (interception), 403/429,
a login page, no answer in time, and a service that stops sending or taking data mid-test (no byte
moved on any stream for transfers.STALL_S) each end the test with one plain sentence
(probes/network/public/errors.py, naming speed.cloudflare.com), within `bound_s()`.
"""

from __future__ import annotations

import functools
import http.client
import socket
import statistics
import time
from dataclasses import dataclass
from typing import TypeVar
from urllib.error import HTTPError

from homecheck.model import Direction, Phase, ProbeResult
from homecheck.probe import ProbeContext
from probes.network.public import transfers, trust
from probes.network.public.errors import OutOfTime, StoppedAnswering, UnexpectedAnswer, why
from probes.network.public.rtt_sampler import RttSampler, resolve
from probes.network.public.run import (
    PublicRun,
    Stopped,
    finish,
    not_measured,
    phases_within,
    record_path,
    record_speed,
)

T = TypeVar("T")

HOST = "speed.cloudflare.com"
TITLE = "Cloudflare"
ENDPOINTS = {Direction.DOWNLOAD: "GET /__down", Direction.UPLOAD: "POST /__up"}
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
    # phases (run.phases_within).
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
    """The largest size from the first request: the download is counted by the receiving kernel,
    whatever the request's size, and each next request costs a round trip with the stream idle.
    Grown from 100 kB as Cloudflare's client grows it, the eight streams ended their first
    requests together, mid-phase, and left the line idle for that round trip: 0.90 of iperf3
    on 5/1 Mbit/s at 80 ms, where speedtest.net's single 31 MB file read 0.995."""
    return transfers.Request("GET", f"/__down?bytes={SIZES[-1]}")


def up_request(stream: int, number: int) -> transfers.Request:
    """Growing as Cloudflare's client grows them: where no kernel count of acknowledged bytes
    exists (transfers.CountedBy.SERVER_REPLIES), a body counts once the server has confirmed it
    all, so the first ones must be small enough to be confirmed within a phase."""
    return transfers.Request(
        "POST", "/__up", (("Content-Type", "text/plain;charset=UTF-8"),), size(number)
    )


def run_cloudflare(
    context: ProbeContext, settings: CloudflareSettings | None = None
) -> ProbeResult:
    """The network test against speed.cloudflare.com; never raises for a network failure."""
    run = PublicRun(context, settings or CloudflareSettings(), name="cloudflare")
    try:
        _measure(run)
    except Stopped:
        return finish(run, partial=True)
    except FAILURES as exc:
        if not run.measurements:
            return not_measured(run, exc, run.settings.host)
        run.details["stopped_because"] = why(exc, run.settings.host)
        return finish(run, partial=True)
    return finish(run, partial=False)


def _measure(run: PublicRun[CloudflareSettings]) -> None:
    settings, progress = run.settings, run.context.progress
    progress(0.02, f"contacting {settings.host}")
    setup_end = time.monotonic() + settings.setup_s
    # Looked up once, for the set-up, the delay probes and every stream: they all meet the same
    # data centre, and a lost DNS answer (the resolver asks again after 1 s on Windows, 5 s with
    # glibc) is waited for once, not before each of them (it failed 2 runs of 6 on 3 % loss).
    address = run.bounded(lambda: resolve(settings.host, 443), settings.setup_s)
    colo, pings = run.bounded(
        lambda: _set_up(settings, address),
        max(settings.socket_timeout_s, setup_end - time.monotonic()),
    )
    run.details["server"] = f"{TITLE} ({colo})"
    if pings:
        run.details["http_rtt_ms"] = round(statistics.median(pings), 2)
        run.details["http_rtt_method"] = (
            f"median of {len(pings)} GET /__down?bytes=0: time to first byte minus the "
            "server's time (Server-Timing)"
        )
    sampler = run.bounded(
        lambda: RttSampler(
            settings.host, 443, interval_s=settings.probe_interval_s, address=address
        ),
        max(settings.socket_timeout_s, setup_end - time.monotonic()),
    )
    server = transfers.Server("https", settings.host, 443, trust.os_trust_context, address)
    sampler.start()
    try:
        idle_s, download_s, upload_s = settings.phases_within(settings.budget_s - run.elapsed())
        run.phase(Phase.IDLE, sampler, lambda: run.quiet(idle_s), 0.15)
        for direction, seconds, fraction in (
            (Direction.DOWNLOAD, download_s, 0.35),
            (Direction.UPLOAD, upload_s, 0.7),
        ):
            transfer = run.phase(
                Phase(direction.value),
                sampler,
                functools.partial(_move, run, server, direction, seconds),
                fraction,
            )
            record_speed(
                run, transfer, server=TITLE, endpoint=f"HTTPS to {TITLE} ({ENDPOINTS[direction]})"
            )
    finally:
        samples = sampler.stop()
        record_path(run, samples, sampler.method.value, settings.host, sampler.failure)
    progress(1.0, "done")


def _set_up(
    settings: CloudflareSettings, address: tuple[int, tuple[str, int]]
) -> tuple[str, list[float]]:
    """Where Cloudflare measures (the data centre's code) and the HTTP latency samples (ms), on
    one connection to `address` (TLS and Host: the service's name)."""
    link = http.client.HTTPSConnection(settings.host, 443, timeout=settings.socket_timeout_s)
    try:
        raw = socket.create_connection(address[1], timeout=settings.socket_timeout_s)
        try:
            link.sock = trust.os_trust_context().wrap_socket(raw, server_hostname=settings.host)
        except BaseException:
            raw.close()
            raise
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


def _move(
    run: PublicRun[CloudflareSettings],
    server: transfers.Server,
    direction: Direction,
    seconds: float,
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
    return transfer
