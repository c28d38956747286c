"""Speed from cumulative byte counts: the steady-state rate after TCP's ramp-up (pure functions).

Samples are (time in seconds, bytes so far), ~100 ms apart, taken where the bytes arrive.
`steady_rate` finds where the ramp-up (TCP slow start) ends and reports the rate from there to the
end of the phase; `merge_cumulative` adds up per-stream counts on a common time grid.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

SAMPLE_S = 0.1


@dataclass(frozen=True)
class Steady:
    mbps: float
    start_s: float
    end_s: float


def steady_rate(samples: Sequence[tuple[float, int]], smooth_s: float = 0.5) -> Steady | None:
    """The rate after ramp-up: from the first moment the rate (smoothed over `smooth_s`) reaches
    90 % of the level it holds in the second half of the phase, to the end. The start is kept
    within the first 60 % of the phase so a slow, steady climb still leaves a stretch to measure.
    """
    if len(samples) < 4:
        return None
    t_first, t_last = samples[0][0], samples[-1][0]
    span = t_last - t_first
    if span <= 0 or samples[-1][1] <= samples[0][1]:
        return None
    smoothed: list[tuple[float, float]] = []  # (time, bytes/s over the smoothing window)
    j = 0
    for t, b in samples:
        while samples[j][0] < t - smooth_s:
            j += 1
        t0, b0 = samples[j]
        if t - t0 >= smooth_s * 0.8:
            smoothed.append((t, (b - b0) / (t - t0)))
    late = sorted(r for t, r in smoothed if t >= t_first + span / 2)
    if not late:
        return None
    level = late[len(late) // 2]
    start = t_first + span * 0.6
    for t, rate in smoothed:
        if rate >= 0.9 * level:
            start = min(start, t)
            break
    start = max(start, t_first)
    b_start = _bytes_at(samples, start)
    if t_last - start <= 0:
        return None
    mbps = (samples[-1][1] - b_start) * 8 / (t_last - start) / 1e6
    return Steady(mbps=mbps, start_s=start, end_s=t_last)


def _bytes_at(samples: Sequence[tuple[float, int]], t: float) -> float:
    """Cumulative bytes at time t, linear between samples."""
    if t <= samples[0][0]:
        return samples[0][1]
    for (t0, b0), (t1, b1) in itertools.pairwise(samples):
        if t0 <= t <= t1:
            return b0 + (b1 - b0) * (t - t0) / (t1 - t0) if t1 > t0 else b1
    return samples[-1][1]


def merge_cumulative(
    streams: Sequence[Sequence[tuple[float, int]]], step_s: float = SAMPLE_S
) -> list[tuple[float, int]]:
    """Sum per-stream cumulative byte counts on a common time grid (for the upload samples)."""
    streams = [s for s in streams if s]
    if not streams:
        return []
    start = min(s[0][0] for s in streams)
    end = max(s[-1][0] for s in streams)
    grid = [start + i * step_s for i in range(int((end - start) / step_s) + 1)]
    if grid[-1] < end:
        grid.append(end)
    return [(t, int(sum(_bytes_at(s, t) if t >= s[0][0] else 0 for s in streams))) for t in grid]
