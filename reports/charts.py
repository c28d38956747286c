"""Line charts as inline SVG: no script, no font or image fetched, readable when printed.

A `Chart` is plain data (title, axis labels with units, lines, shaded phases, limit lines);
`svg()` draws it. Every text that reaches the SVG goes through `markupsafe.escape`, because
series names and labels can come from a saved report file, which is untrusted input.

A line can instead be drawn as points (`Line.points_only`): one marker per value, for values that
are not a time series, such as a candidate's runs placed by their hour of day (reports/history.py).

Accessibility (WCAG 2.1, 1.4.1 "Use of Color"): lines differ by dash pattern as well as colour,
point series by marker shape (circle, square, diamond), phases carry a written label, and each
chart has an SVG <title> and <desc> that a screen reader reads (the <desc> summarises the data:
range, minimum, median, maximum).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import assert_never

from markupsafe import Markup, escape

from homecheck.model import Phase
from reports.scales import clean, fmt, log_ticks, nice_ticks, number, segments, thin

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 24, 66, 52
# A white outline behind text drawn over lines keeps it readable where they cross.
HALO = 'paint-order="stroke" stroke="#fff" stroke-width="3" stroke-linejoin="round"'
# More points than this many per pixel column are reduced to each column's first/min/max/last,
# which keeps spikes (a lost-packet burst, a click) visible while keeping the file small.
MAX_POINTS = 2 * (WIDTH - LEFT - RIGHT)


# Phases that are the baseline (not shaded): the network's idle span, the audio probe's quiet room.
QUIET_PHASES: frozenset[str] = frozenset({Phase.IDLE, Phase.ROOM})
PHASE_LABELS: dict[str, str] = {
    Phase.DOWNLOAD: "download load",
    Phase.UPLOAD: "upload load",
    Phase.ROOM: "quiet room",
}


class Marker(Enum):
    CIRCLE = "circle"
    SQUARE = "square"
    DIAMOND = "diamond"


class LineStyle(Enum):
    """Colour plus dash pattern (or marker shape, for points), so series stay apart in greyscale
    print and for colour-blindness."""

    MAIN = ("#1d4f91", "", 2.2, Marker.CIRCLE)
    SECOND = ("#b4460b", "7 4", 2.2, Marker.SQUARE)
    THIRD = ("#5b2a86", "2 3", 2.2, Marker.DIAMOND)
    FAINT = ("#8c96a3", "", 0.9, Marker.CIRCLE)

    @property
    def colour(self) -> str:
        return self.value[0]

    @property
    def dash(self) -> str:
        return self.value[1]

    @property
    def width(self) -> float:
        return self.value[2]

    @property
    def marker(self) -> Marker:
        return self.value[3]


@dataclass(frozen=True)
class Line:
    label: str
    points: Sequence[tuple[object, object]]
    style: LineStyle = LineStyle.MAIN
    # Several faint lines (one per CPU core) share one legend entry.
    in_legend: bool = True
    # One marker per point, nothing joining them (values that are not a time series).
    points_only: bool = False


@dataclass(frozen=True)
class Limit:
    value: float
    label: str
    # The x span the limit applies to (e.g. only the quiet-room part); None = the whole axis.
    x_from: float | None = None
    x_to: float | None = None


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    x_unit: str
    y_label: str
    y_unit: str
    lines: tuple[Line, ...]
    phases: tuple[tuple[str, float, float], ...] = ()
    limits: tuple[Limit, ...] = ()
    log_x: bool = False
    y_range: tuple[float, float] | None = None
    y_from_zero: bool = False
    x_from_zero: bool = False
    # A fixed x axis (e.g. the 24 hours of a day) and its ticks, instead of the data's span.
    x_range: tuple[float, float] | None = None
    x_ticks: tuple[float, ...] | None = None


def has_data(chart: Chart) -> bool:
    """A line needs two values to show anything; a point series, one."""
    return any(
        sum(1 for _, y in clean(line.points, log_x=chart.log_x) if y is not None)
        >= (1 if line.points_only else 2)
        for line in chart.lines
    )


def svg(chart: Chart, chart_id: str) -> Markup:
    lines = [(line, clean(line.points, log_x=chart.log_x)) for line in chart.lines]
    xs = [x for _, pts in lines for x, _ in pts]
    ys = [y for _, pts in lines for _, y in pts if y is not None]
    x_lo, x_hi = _x_range(chart, xs)
    y_lo, y_hi, y_ticks = _y_range(chart, ys)
    plot = _Plot(x_lo, x_hi, y_lo, y_hi, chart.log_x)
    if chart.x_ticks is not None:
        x_ticks = list(chart.x_ticks)
    else:
        x_ticks = log_ticks(x_lo, x_hi) if chart.log_x else nice_ticks(x_lo, x_hi, 8)

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{chart_id}-t {chart_id}-d" id="{chart_id}">',
        f'<title id="{chart_id}-t">{escape(chart.title)}</title>',
        f'<desc id="{chart_id}-d">{escape(_describe(chart, lines))}</desc>',
        f'<text class="chart-title" x="{LEFT}" y="20" font-size="15" font-weight="bold" '
        f'fill="#1b2430">{escape(chart.title)}</text>',
    ]
    out += _phases(chart, plot)
    out += _grid(plot, x_ticks, y_ticks, chart.log_x)
    out += _axis_labels(chart)
    for limit in chart.limits:
        out += _limit(limit, plot)
    for line, pts in lines:
        out += _points(line, pts, plot) if line.points_only else _path(line, pts, plot)
    out += _legend(chart)
    out.append("</svg>")
    return Markup("\n".join(out))


@dataclass(frozen=True)
class _Plot:
    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    log_x: bool

    def x(self, value: float) -> float:
        if self.log_x:
            lo, hi, value = math.log10(self.x_lo), math.log10(self.x_hi), math.log10(value)
        else:
            lo, hi = self.x_lo, self.x_hi
        return LEFT + (value - lo) / (hi - lo) * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        clamped = min(max(value, self.y_lo), self.y_hi)
        return (
            HEIGHT
            - BOTTOM
            - (clamped - self.y_lo) / (self.y_hi - self.y_lo) * (HEIGHT - TOP - BOTTOM)
        )


def _x_range(chart: Chart, xs: list[float]) -> tuple[float, float]:
    if chart.x_range is not None:
        return chart.x_range
    if chart.log_x:
        lo, hi = (min(xs), max(xs)) if xs else (20.0, 20000.0)
        return (lo, hi * 10) if hi <= lo else (lo, hi)
    span = xs + [v for _, start, end in chart.phases for v in (start, end) if number(v) is not None]
    lo, hi = (min(span), max(span)) if span else (0.0, 1.0)
    if chart.x_from_zero:
        lo = min(lo, 0.0)
    return (lo, lo + 1.0) if hi <= lo else (lo, hi)


def _y_range(chart: Chart, ys: list[float]) -> tuple[float, float, list[float]]:
    if chart.y_range is not None:
        lo, hi = chart.y_range
        return lo, hi, nice_ticks(lo, hi, 6)
    values = ys + [limit.value for limit in chart.limits]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if chart.y_from_zero:
        lo = min(lo, 0.0)
    if hi <= lo:
        lo, hi = lo - 1.0, hi + 1.0
    # Headroom above the highest value, so a peak or a limit line does not sit on the phase labels.
    hi += 0.06 * (hi - lo)
    ticks = nice_ticks(lo, hi, 6)
    return ticks[0], ticks[-1], ticks


def _phases(chart: Chart, plot: _Plot) -> list[str]:
    out = []
    for name, start, end in chart.phases:
        if number(start) is None or number(end) is None or end <= start:
            continue
        x0, x1 = plot.x(max(start, plot.x_lo)), plot.x(min(end, plot.x_hi))
        quiet = name.lower() in QUIET_PHASES
        if not quiet:
            out.append(
                f'<rect class="phase" x="{x0:.1f}" y="{TOP}" width="{x1 - x0:.1f}" '
                f'height="{HEIGHT - TOP - BOTTOM}" fill="#f2c94c" fill-opacity="0.22"/>'
            )
        label = PHASE_LABELS.get(name.lower(), name)
        out.append(
            f'<text class="phase-label" x="{(x0 + x1) / 2:.1f}" y="{TOP - 5}" font-size="11" '
            f'text-anchor="middle" fill="#5c4a00">{escape(label)}</text>'
        )
    return out


def _grid(plot: _Plot, x_ticks: list[float], y_ticks: list[float], log_x: bool) -> list[str]:
    bottom, top = HEIGHT - BOTTOM, TOP
    out = [
        f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="#4a5564"/>',
        f'<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="#4a5564"/>',
    ]
    for tick in y_ticks:
        y = plot.y(tick)
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#dde2e8"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#333">{escape(fmt(tick))}</text>'
        )
    for tick in x_ticks:
        if not plot.x_lo <= tick <= plot.x_hi:
            continue
        x = plot.x(tick)
        out.append(
            f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#4a5564"/>'
        )
        if log_x:
            out.append(
                f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#eef1f4"/>'
            )
        out.append(
            f'<text x="{x:.1f}" y="{bottom + 17}" font-size="11" text-anchor="middle" '
            f'fill="#333">{escape(fmt(tick))}</text>'
        )
    return out


def axis_text(label: str, unit: str) -> str:
    return f"{label} ({unit})" if unit else label


def _axis_labels(chart: Chart) -> list[str]:
    x_text = axis_text(chart.x_label, chart.x_unit + (", log scale" if chart.log_x else ""))
    middle_y = (TOP + HEIGHT - BOTTOM) / 2
    return [
        f'<text class="x-label" x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" y="{HEIGHT - 10}" '
        f'font-size="12" text-anchor="middle" fill="#1b2430">{escape(x_text)}</text>',
        f'<text class="y-label" x="16" y="{middle_y:.1f}" font-size="12" text-anchor="middle" '
        f'fill="#1b2430" transform="rotate(-90 16 {middle_y:.1f})">'
        f"{escape(axis_text(chart.y_label, chart.y_unit))}</text>",
    ]


def _limit(limit: Limit, plot: _Plot) -> list[str]:
    if not plot.y_lo <= limit.value <= plot.y_hi:
        return []
    y = plot.y(limit.value)
    x1 = LEFT if limit.x_from is None else plot.x(min(max(limit.x_from, plot.x_lo), plot.x_hi))
    x2 = WIDTH - RIGHT if limit.x_to is None else plot.x(min(max(limit.x_to, plot.x_lo), plot.x_hi))
    # The label goes on the side of the line with more room.
    text_y = y + 14 if y < (TOP + HEIGHT - BOTTOM) / 2 else y - 5
    return [
        f'<line class="limit" x1="{x1:.1f}" y1="{y:.1f}" x2="{x2:.1f}" y2="{y:.1f}" '
        f'stroke="#a61b1b" stroke-width="1.3" stroke-dasharray="10 3 2 3"/>',
        f'<text x="{x2 - 4:.1f}" y="{text_y:.1f}" font-size="11" text-anchor="end" '
        f'fill="#a61b1b" {HALO}>{escape(limit.label)}</text>',
    ]


def _path(line: Line, pts: list[tuple[float, float | None]], plot: _Plot) -> list[str]:
    commands = []
    for run in segments(pts):
        projected = thin([(plot.x(x), plot.y(y)) for x, y in run], MAX_POINTS)
        if len(projected) == 1:  # a lone point between gaps: draw it as a dot-sized stroke
            px, py = projected[0]
            projected.append((px + 0.5, py))
        commands.append("M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in projected))
    if not commands:
        return []
    style = line.style
    dash = f' stroke-dasharray="{style.dash}"' if style.dash else ""
    return [
        f'<path class="series" d="{" ".join(commands)}" fill="none" stroke="{style.colour}" '
        f'stroke-width="{style.width}" stroke-linejoin="round"{dash}>'
        f"<title>{escape(line.label)}</title></path>"
    ]


MARKER_SIZE = 4.5


def _points(line: Line, pts: list[tuple[float, float | None]], plot: _Plot) -> list[str]:
    """One marker per value, each with a <title> naming its value (a tooltip; the page's table
    is the accessible copy). Points outside a fixed x range are not drawn."""
    style = line.style
    out = [f'<g class="points" fill="{style.colour}" stroke="#fff" stroke-width="0.8">']
    for x, y in pts:
        if y is None or not plot.x_lo <= x <= plot.x_hi:
            continue
        label = escape(f"{line.label}: {fmt(y)} at {fmt(x)}")
        out.append(_marker(style.marker, plot.x(x), plot.y(y), f"<title>{label}</title>"))
    out.append(f"<title>{escape(line.label)}</title></g>")
    return out


def _marker(marker: Marker, x: float, y: float, inner: str, css: str = "point") -> str:
    size = MARKER_SIZE
    match marker:
        case Marker.CIRCLE:
            return (
                f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="{size:.1f}">{inner}</circle>'
            )
        case Marker.SQUARE:
            return (
                f'<rect class="{css}" x="{x - size:.1f}" y="{y - size:.1f}" '
                f'width="{2 * size:.1f}" height="{2 * size:.1f}">{inner}</rect>'
            )
        case Marker.DIAMOND:
            d = size * 1.3
            return (
                f'<path class="{css}" d="M{x:.1f},{y - d:.1f} L{x + d:.1f},{y:.1f} '
                f'L{x:.1f},{y + d:.1f} L{x - d:.1f},{y:.1f} Z">{inner}</path>'
            )
        case _:
            assert_never(marker)


def _legend(chart: Chart) -> list[str]:
    entries = [line for line in chart.lines if line.in_legend]
    if len(entries) + len(chart.limits) < 2 and not any(
        line.style is LineStyle.FAINT for line in chart.lines
    ):
        return []
    out, x = [], float(LEFT)
    for line in entries:
        style = line.style
        dash = f' stroke-dasharray="{style.dash}"' if style.dash else ""
        if line.points_only:
            marker = _marker(style.marker, x + 13, 38, "", "legend-marker")
            out.append(f'<g fill="{style.colour}">{marker}</g>')
        else:
            out.append(
                f'<line x1="{x:.1f}" y1="38" x2="{x + 26:.1f}" y2="38" stroke="{style.colour}" '
                f'stroke-width="{max(style.width, 1.5)}"{dash}/>'
            )
        out.append(
            f'<text class="legend" x="{x + 31:.1f}" y="42" font-size="11" fill="#1b2430">'
            f"{escape(line.label)}</text>"
        )
        x += 46 + 6.2 * len(line.label)
    return out


def _describe(chart: Chart, lines: list[tuple[Line, list[tuple[float, float | None]]]]) -> str:
    parts = []
    for line, pts in lines:
        if not line.in_legend:
            continue
        values = sorted(y for _, y in pts if y is not None)
        if not values:
            parts.append(f"{line.label}: no data")
            continue
        median = values[len(values) // 2]
        unit = f" {chart.y_unit}" if chart.y_unit else ""
        parts.append(
            f"{line.label}: {len(values)} points from {fmt(pts[0][0])} to {fmt(pts[-1][0])} "
            f"{chart.x_unit}; minimum {fmt(values[0])}{unit}, median {fmt(median)}{unit}, "
            f"maximum {fmt(values[-1])}{unit}"
        )
    return ". ".join(parts) + "."
