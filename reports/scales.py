"""Numbers for charts: which points are usable, round tick values, and thinning long series.

No drawing here (reports/charts.py draws); everything works on plain floats, so it is easy to test.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable

# A jump in x this many times the usual step is a gap in the data (a lost packet, the pause
# between the room and the speech recording): the line breaks there instead of bridging it.
GAP_FACTOR = 3.0


def clean(
    points: Iterable[tuple[object, object]], *, log_x: bool = False
) -> list[tuple[float, float | None]]:
    """Keep points with a finite numeric x; a missing or non-finite y becomes a gap (None)."""
    kept: list[tuple[float, float | None]] = []
    for x, y in points:
        x_value = number(x)
        if x_value is None or (log_x and x_value <= 0):
            continue
        kept.append((x_value, number(y)))
    kept.sort(key=lambda p: p[0])
    return kept


def number(value: object) -> float | None:
    """`value` as a float if it is a finite number (not a bool), else None."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        as_float = float(value)
    except OverflowError:  # an int past 1.8e308, from an edited file
        return None
    return as_float if math.isfinite(as_float) else None


def nice_ticks(lo: float, hi: float, count: int) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^n) covering [lo, hi]."""
    raw = (hi - lo) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    value = first
    while value < hi + step * 0.999:
        ticks.append(round(value, 10))
        if value >= hi:
            break
        value += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    ticks = []
    for decade in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for mantissa in (1, 2, 5):
            value = mantissa * 10.0**decade
            if lo <= value <= hi:
                ticks.append(value)
    return ticks


def fmt(value: float) -> str:
    """A tick or summary number: 1k for 1000 Hz style is left to the caller; trims '.0'."""
    if abs(value) >= 1000 and value == int(value):
        thousands = value / 1000
        return f"{thousands:g}k"
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3g}"


def segments(points: list[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Runs of points to draw as one line: broken at a missing value and at a gap in x."""
    steps = [b[0] - a[0] for a, b in itertools.pairwise(points) if b[0] > a[0]]
    usual = statistics.median(steps) if steps else 0.0
    runs: list[list[tuple[float, float]]] = [[]]
    previous_x: float | None = None
    for x, y in points:
        if y is None or (
            usual > 0 and previous_x is not None and x - previous_x > GAP_FACTOR * usual
        ):
            runs.append([])
        if y is not None:
            runs[-1].append((x, y))
        previous_x = x
    return [run for run in runs if run]


def thin(segment: list[tuple[float, float]], max_points: int) -> list[tuple[float, float]]:
    """Points already in pixels; past `max_points`, each pixel column keeps its first, lowest,
    highest and last point, so spikes stay visible."""
    if len(segment) <= max_points:
        return segment
    out: list[tuple[float, float]] = []
    column: list[tuple[float, float]] = []
    for point in segment:
        if column and int(point[0]) != int(column[0][0]):
            out += column_extremes(column)
            column = []
        column.append(point)
    out += column_extremes(column)
    return out


def column_extremes(column: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(column) <= 4:
        return column
    # SVG y grows downwards: min() is the highest value on screen.
    low = max(column, key=lambda p: p[1])
    high = min(column, key=lambda p: p[1])
    middle = sorted([low, high], key=lambda p: p[0])
    return [column[0], *middle, column[-1]]
