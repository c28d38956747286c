"""What one network run collected, and the small pieces the result builders share.

probes/network.py fills a `Run` while it drives the phases; network_result.py (speeds, the
overall result) and network_call.py (figures from the call-like stream or the TCP fallback) turn
it into measurements.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from homecheck.model import JSON, Cause, Measurement, Series, Unmeasured
from probes.loss_stream import LossStream
from probes.throughput import Transfer
from probes.voip_stream import CallStream, TcpTimer

LOST = (
    "the connection to the test server was lost during the test, so this was not measured; "
    "check your connection (cable, Wi-Fi) and run homecheck again"
)
STOPPED = "stopped by the user (Ctrl-C) before this was measured"
UDP_BLOCKED = (
    "voice traffic (UDP) is blocked on this network, so this could not be measured; "
    "see the 'Voice traffic (UDP) gets through' line"
)
NEEDS_DURATION = (
    "measured only in a longer run: use --duration 60 (or more) to check the connection's "
    "stability over time"
)
# Reasons above that are no failure to measure: the aggregator reads the cause, never the text.
CAUSES = {STOPPED: Cause.STOPPED, NEEDS_DURATION: Cause.NEEDS_LONGER_RUN}
# What the call-like stream gives (a lost connection or blocked UDP leaves all of them out).
CALL_METRICS = (
    "latency_ms",
    "latency_p95_ms",
    "jitter_up_ms",
    "jitter_down_ms",
    "loss_up_pct",
    "loss_down_pct",
    "mos",
)
WIRE_BYTES = 172 + 8 + 20 + 14
TCP_PAYLOAD_SHARE = 1448 / 1514
STREAM_METHOD = "UDP echo, 50 packets/s of 172 bytes (G.711-like)"


@dataclass
class Run:
    started: float
    stability: bool
    window_s: float
    ended: float = 0.0
    cancelled: bool = False
    lost: bool = False
    lost_in: str | None = None  # the phase during which the connection was lost
    udp_ok: bool | None = None
    stream: CallStream | None = None
    loss: LossStream | None = None
    tcp: TcpTimer | None = None
    transfers: dict[str, Transfer] = field(default_factory=dict)
    phases: dict[str, list[float]] = field(default_factory=dict)

    def phase_start(self, name: str, at: float) -> None:
        self.phases[name] = [at, at]

    def phase_end(self, name: str) -> None:
        self.phases[name][1] = time.monotonic()


@dataclass
class Out:
    measurements: list[Measurement] = field(default_factory=list)
    unmeasured: list[Unmeasured] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    details: dict[str, JSON] = field(default_factory=dict)

    def missing(self, reason: str, *metrics: str) -> None:
        cause = CAUSES.get(reason, Cause.PROBE_FAILED)
        self.unmeasured.extend(Unmeasured(f"network.{m}", reason, cause) for m in metrics)


def loaded_window(run: Run, direction: str) -> tuple[float, float] | None:
    transfer = run.transfers.get(direction)
    if transfer is None:
        return None
    if transfer.steady is not None:
        return transfer.steady.start_s, transfer.steady.end_s
    return (transfer.started + transfer.ended) / 2, transfer.ended


def rtt_series(run: Run, points: list[tuple[float, float]], out: Out) -> None:
    phases = tuple(
        (name, round(a - run.started, 3), round(b - run.started, 3))
        for name, (a, b) in run.phases.items()
    )
    out.series.append(
        Series(
            "rtt_ms",
            "ms",
            tuple((round(t - run.started, 3), round(v, 3)) for t, v in points),
            phases,
        )
    )
