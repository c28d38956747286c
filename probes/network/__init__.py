"""The network: speed, delay, jitter, loss, bufferbloat and estimated call quality.

What it measures (against the employer's `homecheck serve`, given with `--server URL`)
- A call-like UDP stream runs the whole time: 50 packets/s of 172 bytes (a G.711 voice stream)
  to the server's echo and back. First quiet (3 s, or `--duration` seconds for a stability run),
  then while downloading, then while uploading.
- Download and upload speed (Mbit/s): 8 parallel TCP streams per direction for 4 s each; bytes
  counted every 100 ms where they arrive (the server counts the upload); the ramp-up is
  discarded and the steady rate reported (probes/network/employer/throughput.py), plus the
  share of the line the
  call-like stream used meanwhile (86 kbit/s on the wire each way), so the figure is the line's
  TCP capacity, comparable with iperf3.
- Round-trip delay (ms): median and 95th percentile while the line is quiet.
- Jitter per direction (ms): RFC 3550 interarrival jitter on one-way transit times, while quiet.
- Packet loss per direction (%): share of packets lost on the way to the server (counted while
  quiet and while downloading: the upstream is not loaded then) and on the way back (quiet and
  uploading). Counted over the voice-like stream and a loss probe beside it: 500 small packets/s
  (~300 kbit/s), which the server counts, answers while the line is idle, and replaces by a
  burst of its own towards the client while the client uploads
  (probes/network/employer/loss_stream.py,
  homecheck/server/loss_probe.py). The voice stream alone would give ~350 packets a direction,
  too few: 3 % would read 3 +- 1.8 % (95 %). With ~4,000 it reads 3 +- 0.5 %.
- Bufferbloat (ms): how much the median round trip grows while the line is full (after ramp-up),
  the worse of download and upload.
- Estimated call quality (MOS 1-4.5) with the ITU-T G.107 E-model for G.711 with packet-loss
  concealment (probes/network/analysis/emodel.py), from the quiet delay, the larger jitter and
  the larger loss.
- Whether UDP gets through at all. If no echo comes back within 1.5 s, UDP is blocked (VoIP
  needs it: a finding of its own); delay is then timed with TCP connection set-ups instead and
  jitter, loss and MOS are not measured.
- With `--duration`, the quiet stretch lasts that long and is cut into 10 s windows; the worst
  window's loss, jitter and MOS are reported, because one bad minute drops a call.
Default thresholds: the profiles (homecheck/profiles/*.toml), citing Microsoft Teams' network
requirements, ITU-T G.114 and G.107/G.109, and common bufferbloat grades.

The default run takes about 13 s. Ctrl-C, a lost connection, an unreachable server or a server
that stops (it says so, or no longer listens) end it early; what was measured is kept and the
rest is reported as not measured with the reason. An `https://` server address runs every request
and stream over TLS, verified with the operating system's trust store.
Without `--server` the public speed-test servers of speedtest.net are used instead
(probes/network/public/backend.py: speedtest-cli chooses the server, homecheck's own streams to it
measure the speeds as above, timed probes to the same server give delay, jitter, loss and MOS; at
most about 15 s), and Cloudflare's speed test when speedtest.net refuses, fails or is blocked
(probes/network/public/cloudflare.py, on the same streams; the order and the failover:
probes/network/public/choose.py; `--public-backend` picks one). They cannot check UDP or time
windows.

In both cases the connection itself is described first, while the line is quiet
(probes/network/connection.py): wired or Wi-Fi, the adapter's link speed, the Wi-Fi signal, a
VPN, and
the time to look up a few names (DNS; `--dns-names` chooses them).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar, TypeVar

from homecheck.metrics import in_area
from homecheck.model import Direction, Phase, ProbeResult
from homecheck.probe import (
    STABILITY_WINDOW_S,
    ProbeContext,
    ProbeError,
    ProbeOptions,
    PublicBackend,
)
from probes.network import connection
from probes.network.employer import result as network_result
from probes.network.employer import session as speed_session
from probes.network.employer import throughput
from probes.network.employer.loss_stream import LossMode, LossStream
from probes.network.employer.result import Run
from probes.network.employer.voice_stream import CallStream, TcpTimer
from probes.network.public import backend as speedtest_backend
from probes.network.public import choose, cloudflare
from probes.network.public.backend import SpeedtestSettings
from probes.network.public.cloudflare import CloudflareSettings

DNS_TIMEOUT_S = 2.0  # per name; a resolver with no network would wait 5 s per try
SETTLE_S = 0.3  # between the load phases: let the download's queue drain before the upload


@dataclass(frozen=True)
class Timing:
    """Phase lengths (seconds); tests use short ones."""

    idle_s: float = 3.0
    load_s: float = 4.0
    streams: int = 8  # see probes/network/employer/throughput.py for why 8
    window_s: float = STABILITY_WINDOW_S
    connect_timeout_s: float = 3.0
    udp_detect_s: float = 1.5
    # No echo at all for this long: the connection is gone. (A bloated queue delays answers but
    # they keep coming 50 a second; 75 in a row lost is not a working line.)
    lost_after_s: float = 1.5


class NetworkProbe:
    name: ClassVar[str] = "network"
    title: ClassVar[str] = "Network"
    metrics: ClassVar[tuple[str, ...]] = in_area("network")

    def __init__(
        self,
        timing: Timing | None = None,
        public: speedtest_backend.SpeedtestSettings | None = None,
        cloudflare: CloudflareSettings | None = None,
    ) -> None:
        self.timing = timing or Timing()
        self.public = public or SpeedtestSettings()
        self.cloudflare = cloudflare or CloudflareSettings()

    def public_backends(self, choice: PublicBackend) -> tuple[choose.Backend, ...]:
        """The public services to try for `--public-backend choice`, in order."""
        speedtest_net, cloudflare_ = self.public, self.cloudflare
        every = (
            choose.Backend(
                PublicBackend.SPEEDTEST,
                "speedtest.net",
                lambda context: speedtest_backend.run_speedtest(context, speedtest_net),
                speedtest_net.expected_s(),
                speedtest_net.bound_s(),
            ),
            choose.Backend(
                PublicBackend.CLOUDFLARE,
                cloudflare.TITLE,
                lambda context: cloudflare.run_cloudflare(context, cloudflare_),
                cloudflare_.expected_s(),
                cloudflare_.bound_s(),
            ),
        )
        return choose.order(choice, every)

    def expected_seconds(self, options: ProbeOptions) -> float:
        if not options.server:
            return choose.expected_s(self.public_backends(options.public_backend)) + 0.5
        t = self.timing
        idle = options.duration_s or t.idle_s
        return 1.0 + idle + 2 * t.load_s + SETTLE_S + 1.0

    def timeout_seconds(self, options: ProbeOptions) -> float:
        names = options.dns_names or connection.DEFAULT_DNS_NAMES
        dns = DNS_TIMEOUT_S * len(names)
        if not options.server:
            return choose.bound_s(self.public_backends(options.public_backend)) + dns + 5.0
        return self.expected_seconds(options) + 2 * self.timing.connect_timeout_s + 10.0 + dns

    def run(self, context: ProbeContext) -> ProbeResult:
        server = context.options.server
        context.progress(0.0, "checking the connection")
        facts = connection.measure(
            _host(server) if server else None,
            context.options.dns_names or connection.DEFAULT_DNS_NAMES,
            DNS_TIMEOUT_S,
        )
        if not server:
            backends = self.public_backends(context.options.public_backend)
            return _with_connection(choose.run(context, backends), facts)
        try:
            result = self._against_homecheck_server(context, server)
        except ProbeError as exc:  # keep the connection facts beside the reason
            result = ProbeResult(probe=self.name, reason=str(exc))
        return _with_connection(result, facts)

    def _against_homecheck_server(self, context: ProbeContext, url: str) -> ProbeResult:
        t = self.timing
        started = time.monotonic()
        idle_s = context.options.duration_s or t.idle_s
        context.progress(0.0, "contacting the test server")
        seconds = self.expected_seconds(context.options) + 30
        invite = context.options.invite

        def begin() -> speed_session.Session:
            session = speed_session.open_session(url, seconds, t.connect_timeout_s, invite)
            if session.hub_session is not None and context.options.on_test_session is not None:
                context.options.on_test_session(session.hub_session)
            return session

        opened = [begin()]

        def renew() -> speed_session.Session:
            speed_session.close_session(opened[-1])
            opened.append(begin())
            return opened[-1]

        run = Run(
            started=started, stability=context.options.duration_s is not None, window_s=t.window_s
        )
        try:
            self._phases(context, opened[0], run, idle_s, renew)
        finally:
            speed_session.close_session(opened[-1])
        run.ended = time.monotonic()
        run.cancelled = context.cancelled.is_set()
        return network_result.build(self.name, run)

    def _phases(
        self,
        context: ProbeContext,
        session: speed_session.Session,
        run: Run,
        idle_s: float,
        renew: Callable[[], speed_session.Session],
    ) -> None:
        stop = context.cancelled
        total = self.expected_seconds(context.options)
        idle_start = time.monotonic()
        run.phase_start(Phase.IDLE, idle_start)
        run.stream = self._start_stream(session)
        run.loss = self._start_loss(session)
        try:
            context.progress(0.05, "timing a call-like stream")
            run.udp_ok = self._udp_answers(run.stream, stop)
            if stop.is_set():
                return
            if not run.udp_ok:
                for udp in (run.stream, run.loss):
                    if udp is not None:
                        udp.close()
                run.stream, run.loss = None, None
                run.tcp = TcpTimer(session.endpoint.address, session.endpoint.family)
                run.tcp.start()
            markers: list[CallStream | TcpTimer] = [m for m in (run.stream, run.tcp) if m]
            # Without UDP, still give the TCP timer a quiet stretch of its own.
            idle_end = max(idle_start + idle_s, time.monotonic() + (0 if run.udp_ok else 1.5))
            if not self._wait(context, idle_end, run, total, "timing a call-like stream"):
                if run.lost and speed_session.server_stopped(session.endpoint):
                    run.lost, run.server_stopped = False, True
                return
            run.phase_end(Phase.IDLE)
            if not run.udp_ok:
                # No echo packets went through: the server saw no test traffic all this quiet
                # stretch and may have ended the session (its idle timeout); start a fresh one.
                session = renew()
            for direction in Direction:
                phase = Phase(direction.value)
                for marker in markers:
                    marker.phase = phase
                if run.loss is not None and direction is Direction.DOWNLOAD:
                    run.loss.mode = LossMode.COUNT  # the downstream is full now: no answers
                run.phase_start(phase, time.monotonic())
                context.progress(
                    (time.monotonic() - run.started) / total, f"measuring {direction} speed"
                )
                transfer = self._transfer(direction, session, run, stop)
                run.transfers[direction] = transfer
                run.phase_end(phase)
                if stop.is_set():
                    return
                went_wrong = transfer.stalled or self._echoes_stopped(run) or transfer.refused
                if transfer.server_stopped or (
                    went_wrong and speed_session.server_stopped(session.endpoint)
                ):
                    # The server shut down: its reason, not a failing line.
                    run.server_stopped = True
                    run.lost_in = phase
                    return
                if transfer.stalled or self._echoes_stopped(run):
                    run.lost = True
                    run.lost_in = phase
                    return
                for marker in markers:
                    marker.phase = Phase.SETTLE
                settled = time.monotonic() + SETTLE_S
                if run.loss is not None and direction is Direction.DOWNLOAD:
                    # The upload will fill the upstream: count loss on the way down instead.
                    run.loss.mode = LossMode.OFF
                    run.loss.request_downstream(session.endpoint, self.timing.load_s + 2 * SETTLE_S)
                time.sleep(max(0.0, settled - time.monotonic()))
        finally:
            self._finish(run, stop, session.endpoint)

    def _start_stream(self, session: speed_session.Session) -> CallStream | None:
        return _started(CallStream, session)

    def _start_loss(self, session: speed_session.Session) -> LossStream | None:
        return _started(LossStream, session)

    def _udp_answers(self, stream: CallStream | None, stop: threading.Event) -> bool:
        if stream is None:
            return False
        give_up = time.monotonic() + self.timing.udp_detect_s
        while time.monotonic() < give_up and not stop.is_set():
            if stream.echoes:
                return True
            time.sleep(0.02)
        return bool(stream.echoes)

    def _wait(self, context: ProbeContext, until: float, run: Run, total: float, what: str) -> bool:
        """Sleep until `until` in small steps; False if cancelled or the connection was lost."""
        while time.monotonic() < until:
            if context.cancelled.is_set():
                return False
            if self._echoes_stopped(run):
                run.lost = True
                return False
            context.progress(min(0.99, (time.monotonic() - run.started) / total), what)
            time.sleep(min(0.1, max(0.0, until - time.monotonic())))
        return True

    def _echoes_stopped(self, run: Run) -> bool:
        stream = run.stream
        if stream is None or not stream.echoes:
            return False
        return time.monotonic() - stream.last_echo_at > self.timing.lost_after_s

    def _transfer(
        self, direction: Direction, session: speed_session.Session, run: Run, stop: threading.Event
    ) -> throughput.Transfer:
        t = self.timing
        measure = throughput.download if direction is Direction.DOWNLOAD else throughput.upload
        lost = functools.partial(self._echoes_stopped, run)
        return measure(session.endpoint, t.streams, t.load_s, stop, lost)

    def _finish(self, run: Run, stop: threading.Event, endpoint: speed_session.Endpoint) -> None:
        if run.loss is not None:
            # Its counts are fetched while the voice stream drains (a slow line's round trips
            # would otherwise add to the run); the burst is numbered, its tail is not counted.
            run.loss.wind_down(None if run.lost or stop.is_set() else endpoint)
        if run.stream is not None:
            # Wait for answers still queued (a bloated upload queue holds them for a while).
            drain = 0.0 if run.lost else min(3.0, 0.5 + 1.5 * run.stream.recent_rtt_s())
            run.stream.finish(drain, stop)
        if run.loss is not None:
            run.loss.finish(stop)
        if run.tcp is not None:
            run.tcp.finish()


_Stream = TypeVar("_Stream", CallStream, LossStream)


def _started(kind: type[_Stream], session: speed_session.Session) -> _Stream | None:
    """A UDP stream of `kind` to the session's echo, running; None without one."""
    if session.udp_address is None:
        return None
    try:
        stream = kind(session.udp_address, session.endpoint.family, session.token)
    except OSError:
        return None
    stream.start()
    return stream


def _host(url: str) -> str | None:
    try:
        return speed_session.parse_url(url)[0]
    except ProbeError:
        return None


def _with_connection(result: ProbeResult, facts: ProbeResult) -> ProbeResult:
    return replace(
        result,
        measurements=result.measurements + facts.measurements,
        unmeasured=result.unmeasured + facts.unmeasured,
        details={**facts.details, **result.details},
    )
