"""Does the client's report agree with what the server saw itself? (a pure function)

The server counts each test's bytes and times in its kernel and answers the echo (M-Lab's
ndt-server model: the server measures, a client's claim is never the only evidence). Here its
figures meet the client's; a difference beyond the tolerances below sets the submission's
corroboration flag to False: a doctored report, or a broken path (a proxy that buffers uploads).

Tolerances, and why they are that wide:
- download and upload: 20 % of the server's figure. The server divides a whole transfer's bytes by
  its time, ramp-up included; the client reads its steady-state window, a few % higher on a clean
  link (bench/network_accuracy puts the client within 3 % of iperf3), more on a lossy one.
- upstream loss: 2 percentage points. Both count the same probe's packets; only packets in flight
  at the end can differ.
- round-trip time: 25 ms or 50 %, whichever is larger. The server reads the kernel's least TCP RTT
  of its download connections (the path's round trip, measure/hub_link.py), the client times its
  UDP echo on the quiet line: a busy Wi-Fi or a queue left by other traffic make them differ
  honestly.
A figure the server did not observe (or the client did not report) is not compared; with nothing
compared, the flag is None ("nothing to corroborate"), never True.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from homecheck.model import ProbeResult

THROUGHPUT_TOLERANCE = 0.20  # relative
LOSS_TOLERANCE_PP = 2.0  # percentage points
RTT_TOLERANCE_MS, RTT_TOLERANCE = 25.0, 0.50
DIRECTIONS = ("download", "upload")


@dataclass(frozen=True)
class ServerObservations:
    """What the server measured of one test session; None where it did not measure.
    `transfers` lists each transfer as the kernel counted it: direction, bytes, seconds."""

    download_mbps: float | None = None
    upload_mbps: float | None = None
    loss_up_pct: float | None = None
    rtt_ms: float | None = None
    transfers: tuple[tuple[str, int, float], ...] = field(default_factory=tuple)
    method: str | None = None  # how each figure was counted (measure/hub_link.py)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["transfers"] = [
            {"direction": d, "bytes": b, "seconds": s} for d, b, s in self.transfers
        ]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServerObservations:
        """From the web plane's or a stored JSON object; ValueError on a malformed one."""
        numbers = {}
        for name in ("download_mbps", "upload_mbps", "loss_up_pct", "rtt_ms"):
            value = data.get(name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ValueError(f"observation {name} must be a number >= 0, not {value!r:.40}")
            numbers[name] = None if value is None else float(value)
        transfers = []
        for item in data.get("transfers") or []:
            if not isinstance(item, Mapping):
                raise ValueError("a transfer must be an object")
            transfers.append((str(item["direction"]), int(item["bytes"]), float(item["seconds"])))
        method = data.get("method")
        if method is not None and not isinstance(method, str):
            raise ValueError("observation method must be a string")
        return cls(**numbers, transfers=tuple(transfers), method=method)


@dataclass(frozen=True)
class Corroboration:
    agrees: bool | None  # None: nothing the server observed could be compared
    disagreements: tuple[str, ...]  # one sentence per figure beyond its tolerance
    compared: tuple[str, ...]  # the metric ids compared


def corroborate(results: tuple[ProbeResult, ...], observed: ServerObservations) -> Corroboration:
    claimed = {
        m.metric: float(m.value)
        for r in results
        for m in r.measurements
        if isinstance(m.value, int | float) and not isinstance(m.value, bool)
    }
    checks = (
        ("network.download_mbps", observed.download_mbps, _relative(THROUGHPUT_TOLERANCE)),
        ("network.upload_mbps", observed.upload_mbps, _relative(THROUGHPUT_TOLERANCE)),
        ("network.loss_up_pct", observed.loss_up_pct, lambda s: LOSS_TOLERANCE_PP),
        ("network.latency_ms", observed.rtt_ms, lambda s: max(RTT_TOLERANCE_MS, RTT_TOLERANCE * s)),
    )
    compared, disagreements = [], []
    for metric, server, tolerance in checks:
        client = claimed.get(metric)
        if server is None or client is None or not math.isfinite(client):
            continue
        compared.append(metric)
        allowed = tolerance(server)
        if abs(client - server) > allowed:
            disagreements.append(
                f"{metric}: the report says {client:g}, the server measured {server:g} "
                f"(tolerance ±{allowed:.3g})"
            )
    if not compared:
        return Corroboration(None, (), ())
    return Corroboration(not disagreements, tuple(disagreements), tuple(compared))


def _relative(share: float) -> Any:
    return lambda server: share * server
