"""A transfer's speed as the report shows it, the same for every backend (pure functions).

Both the employer path (probes/network/employer/throughput.py) and the public one
(probes/network/public/transfers.py) sample a direction's cumulative bytes every ~100 ms and find
its steady rate (steady_rate.py). What becomes of that is the same everywhere: the metric id, a
series of the rate per sample interval, and the details an engineer reads in the JSON report
(where the steady window lies, whether the streams stalled, the first errors).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Protocol

from homecheck.metrics import Metric
from homecheck.model import JSON, Direction, Series, SeriesName
from probes.network.analysis.steady_rate import Steady

SPEED_METRICS = {Direction.DOWNLOAD: Metric.DOWNLOAD_MBPS, Direction.UPLOAD: Metric.UPLOAD_MBPS}
SPEED_SERIES = {
    Direction.DOWNLOAD: SeriesName.DOWNLOAD_MBPS,
    Direction.UPLOAD: SeriesName.UPLOAD_MBPS,
}
MAX_ERRORS = 5  # the first distinct ones are the telling ones


class Sampled(Protocol):
    """What both transfer engines record of one direction (times: time.monotonic() seconds)."""

    samples: list[tuple[float, int]]  # (time, cumulative bytes)
    steady: Steady | None
    stalled: bool
    errors: list[str]
    refusals: list[str]


def rates(samples: Sequence[tuple[float, int]]) -> list[tuple[float, float]]:
    """(time at the end of the interval, Mbit/s) per sample interval."""
    pairs = itertools.pairwise(samples)
    return [(t1, (b1 - b0) * 8 / (t1 - t0) / 1e6) for (t0, b0), (t1, b1) in pairs if t1 > t0]


def rate_series(direction: Direction, transfer: Sampled, started: float) -> Series:
    """The rate per sample interval, times in seconds since the test `started`."""
    return Series(
        SPEED_SERIES[direction],
        "Mbit/s",
        tuple((round(t - started, 3), round(r, 3)) for t, r in rates(transfer.samples)),
    )


def details(transfer: Sampled, started: float) -> dict[str, JSON]:
    """The JSON report's `throughput.<direction>`: the steady window (seconds since `started`),
    whether the streams stalled, and the first distinct errors and refusals."""
    steady = transfer.steady
    return {
        "steady_from_s": None if steady is None else round(steady.start_s - started, 3),
        "steady_to_s": None if steady is None else round(steady.end_s - started, 3),
        "stalled": transfer.stalled,
        "errors": list(dict.fromkeys(transfer.errors + transfer.refusals))[:MAX_ERRORS],
    }


def steady_samples(transfer: Sampled) -> list[float]:
    """The rates (Mbit/s) of the steady window: the measurement's samples."""
    steady = transfer.steady
    if steady is None:
        return []
    return [r for t, r in rates(transfer.samples) if steady.start_s < t <= steady.end_s]
