"""Chart numbers and drawing: ticks, gaps, thinning, phases, limits, escaping (reports/scales.py,
reports/charts.py, reports/figures.py)."""

from __future__ import annotations

import math
import re

import pytest

from homecheck.model import Requirement, Series
from reports import charts, figures, scales


@pytest.mark.parametrize(
    ("lo", "hi", "count", "expected"),
    [
        (0, 100, 6, [0, 20, 40, 60, 80, 100]),
        (0, 1, 6, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (-62.3, -18.1, 6, [-70, -60, -50, -40, -30, -20, -10]),
        (0, 21, 8, [0, 5, 10, 15, 20, 25]),
        (3.2, 3.3, 6, [3.2, 3.22, 3.24, 3.26, 3.28, 3.3]),
    ],
)
def test_nice_ticks_cover_the_range(
    lo: float, hi: float, count: int, expected: list[float]
) -> None:
    ticks = scales.nice_ticks(lo, hi, count)
    assert ticks == pytest.approx(expected)
    assert ticks[0] <= lo and ticks[-1] >= hi


def test_log_ticks() -> None:
    assert scales.log_ticks(11.7, 20000) == [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]


@pytest.mark.parametrize(
    ("value", "text"),
    [(1000.0, "1k"), (20000.0, "20k"), (0.25, "0.25"), (-40.0, "-40"), (2.5, "2.5")],
)
def test_tick_labels(value: float, text: str) -> None:
    assert scales.fmt(value) == text


def test_clean_keeps_numbers_and_marks_gaps() -> None:
    points = [(2.0, 1.0), (0.0, None), (1.0, math.nan), ("x", 3.0), (3.0, True), (True, 1.0)]
    assert scales.clean(points) == [(0.0, None), (1.0, None), (2.0, 1.0), (3.0, None)]
    assert scales.clean([(0.0, -50.0), (100.0, -60.0)], log_x=True) == [(100.0, -60.0)]
    assert scales.number(10**400) is None and scales.number(False) is None


def test_segments_break_at_missing_values_and_at_gaps_in_time() -> None:
    points: list[tuple[float, float | None]] = [(0.1 * i, 1.0) for i in range(10)]
    points += [(1.0, None), (1.1, 2.0), (1.2, 2.0)]  # a lost sample
    points += [(2.5, 3.0), (2.6, 3.0)]  # 1.3 s without data: the recording paused
    runs = scales.segments(points)
    assert [len(run) for run in runs] == [10, 2, 2]


def test_thinning_keeps_a_spike() -> None:
    pixels = [(i / 20, 100.0) for i in range(4000)]  # 20 points per pixel column
    pixels[2345] = (pixels[2345][0], 3.0)  # one spike up (small y is high on screen)
    thinned = scales.thin(pixels, 400)
    assert len(thinned) <= 4 * 200 and min(y for _, y in thinned) == 3.0
    assert scales.thin(pixels[:300], 400) == pixels[:300]


def _voice_like(metric: str, **limits: float) -> dict[str, Requirement]:
    return {metric: Requirement(metric=metric, label="x", advice="", **limits)}  # type: ignore[arg-type]


def test_speed_chart_borrows_the_delay_series_phases() -> None:
    phases = (("idle", 0.0, 2.0), ("download", 2.0, 5.0), ("upload", 5.0, 8.0))
    series = (
        Series("rtt_ms", "ms", ((0.0, 20.0), (4.0, 90.0)), phases=phases),
        Series("download_mbps", "Mbit/s", ((2.5, 40.0), (4.5, 42.0))),
        Series("upload_mbps", "Mbit/s", ((5.5, 4.0), (7.5, 5.0))),
    )
    _, speed = figures.charts_for(series, _voice_like("network.download_mbps", min=10))
    assert speed.phases == phases and [line.label for line in speed.lines] == ["download", "upload"]
    svg = charts.svg(speed, "c")
    assert re.findall(r'class="phase-label"[^>]*>([^<]+)<', svg) == [
        "idle",
        "download load",
        "upload load",
    ]
    assert svg.count('class="phase"') == 2  # idle is the baseline: labelled, not shaded
    assert "download minimum 10 Mbit/s" in svg and 'stroke-dasharray="7 4"' in svg  # dashed upload


def test_noise_limit_covers_only_the_quiet_room() -> None:
    level = Series(
        "level_dbfs",
        "dBFS",
        tuple((0.1 * i, -50.0) for i in range(1, 31))
        + tuple((3.5 + 0.1 * i, -20.0) for i in range(30)),
        phases=(("room", 0.0, 3.0), ("speech", 3.5, 6.5)),
    )
    (chart,) = figures.charts_for((level,), _voice_like("audio.noise_floor_dbfs", max=-40))
    assert chart.limits[0].x_from == 0.0 and chart.limits[0].x_to == 3.0
    svg = charts.svg(chart, "c")
    line = re.search(r'<line class="limit" x1="([\d.]+)" y1="[\d.]+" x2="([\d.]+)"', svg)
    assert line is not None and float(line[1]) == charts.LEFT
    assert float(line[2]) < (charts.LEFT + charts.WIDTH) / 2  # ends where the room part ends
    path = re.search(r'<path class="series" d="([^"]+)"', svg)
    assert path is not None and path[1].count("M") == 2  # the pause between room and speech


def test_cpu_chart_one_legend_entry_for_all_cores() -> None:
    series = tuple(
        Series(name, "%", ((0.5, 10.0), (1.0, 20.0)))
        for name in ("cpu_busy_pct", "cpu0_busy_pct", "cpu1_busy_pct", "cpu10_busy_pct")
    )
    (chart,) = figures.charts_for(series, {})
    assert [(line.label, line.in_legend) for line in chart.lines] == [
        ("each core", True),
        ("core 1", False),
        ("core 10", False),
        ("whole machine", True),
    ]
    assert chart.y_range == (0.0, 100.0)


def test_every_text_in_an_svg_is_escaped() -> None:
    chart = charts.Chart(
        title="<t>",
        x_label="<x>",
        x_unit="s",
        y_label="<y>",
        y_unit="&",
        lines=(charts.Line('<l">', ((0.0, 1.0), (1.0, 2.0))),),
        phases=(("<p>", 0.0, 1.0),),
        limits=(charts.Limit(1.5, "<lim>"),),
    )
    svg = str(charts.svg(chart, "c"))
    assert not re.search(r"<(t|x|y|p|lim|l)[>\"]", svg)
    for text in ("&lt;t&gt;", "&lt;x&gt; (s)", "&lt;y&gt; (&amp;)", "&lt;p&gt;", "&lt;lim&gt;"):
        assert text in svg
