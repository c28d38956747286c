"""A candidate's runs by hour of day (reports/history.py) and the point series it draws with
(reports/charts.py `Line.points_only`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from homecheck import profiles
from homecheck.metrics import Metric
from reports import charts, history, json_report
from tests.support import canned

VOICE = {r.metric: r for r in profiles.load("voice").requirements}


def _run(label: str, hour: int, minute: int = 0, **values: float) -> history.RunFigures:
    started = datetime(2025, 3, 14, hour, minute, tzinfo=UTC)
    return history.RunFigures(
        label, started, {getattr(Metric, k.upper()): v for k, v in values.items()}
    )


GOOD_MORNING = _run("run 1", 10, download_mbps=48.0, loss_up_pct=0.0, mos=4.3)
BAD_EVENING = _run("run 2", 20, download_mbps=3.5, loss_up_pct=6.0, mos=2.1)


def _panel(title_start: str, runs: list[history.RunFigures]) -> history.HourChart:
    found = [
        c for c in history.charts_by_hour(runs, VOICE) if c.chart.title.startswith(title_start)
    ]
    assert len(found) == 1
    return found[0]


def _circles(svg: str) -> list[tuple[float, float]]:
    return [
        (float(x), float(y))
        for x, y in re.findall(r'<circle class="point" cx="([\d.]+)" cy="([\d.]+)"', svg)
    ]


def _x_of_hour(hour: float) -> float:
    return charts.LEFT + hour / 24 * (charts.WIDTH - charts.LEFT - charts.RIGHT)


def test_good_at_ten_bad_at_twenty_shows_as_such() -> None:
    panel = _panel("Download", [GOOD_MORNING, BAD_EVENING])
    (line,) = panel.chart.lines
    assert list(line.points) == [(10.0, 48.0), (20.0, 3.5)]
    svg = charts.svg(panel.chart, "dl")
    (morning, evening) = sorted(_circles(svg))
    assert morning[0] == pytest.approx(_x_of_hour(10), abs=0.1)
    assert evening[0] == pytest.approx(_x_of_hour(20), abs=0.1)
    assert evening[1] > morning[1]  # SVG y grows downwards: the evening point is lower
    # The profile's minimum is drawn between the two: the morning above it, the evening below.
    limit_y = float(re.search(r'class="limit" x1="[\d.]+" y1="([\d.]+)"', svg)[1])  # type: ignore[index]
    assert morning[1] < limit_y < evening[1]
    assert "minimum 10 Mbit/s" in svg
    assert panel.table.rows == (
        ("run 1", "2025-03-14 10:00", "48"),
        ("run 2", "2025-03-14 20:00", "3.5"),
    )


def test_the_hour_is_utc_whatever_offset_the_report_gives() -> None:
    started = history.parse_started("2025-03-14T22:30:00+02:00")
    assert started is not None and history.hour_of_day(started) == 20.5
    assert history.parse_started("2025-03-14T22:30:00") is None  # no offset: no hour guessed
    assert history.parse_started("yesterday") is None and history.parse_started(3) is None
    local = datetime(2025, 3, 14, 8, 15, tzinfo=timezone(timedelta(hours=-5)))
    assert history.clock(local) == "13:15"


def test_every_panel_in_order_with_its_runs_and_gaps() -> None:
    noisy = _run("run 3", 14, 30, noise_floor_dbfs=-41.0)
    panels = history.charts_by_hour([GOOD_MORNING, BAD_EVENING, noisy], VOICE)
    assert [p.chart.title.split(" by ")[0] for p in panels] == [
        "Download speed", "Upload speed", "Packet loss", "Jitter", "Call quality (MOS)",
        "Room noise",
    ]  # fmt: skip
    by_title = {p.chart.title.split(" by ")[0]: p for p in panels}
    assert by_title["Upload speed"].measured == 0 and not charts.has_data(
        by_title["Upload speed"].chart
    )
    room = by_title["Room noise"]
    assert room.measured == 1 and charts.has_data(room.chart)  # one point is enough to show
    assert list(room.chart.lines[0].points) == [(14.5, -41.0)]
    assert [row[-1] for row in room.table.rows] == ["not measured", "not measured", "-41"]
    loss = by_title["Packet loss"]
    assert loss.table.columns == (
        "Run", "Started (UTC)", "Packet loss to the server (%)", "Packet loss from the server (%)",
    )  # fmt: skip
    assert [len(line.points) for line in loss.chart.lines] == [2, 0]


def test_one_limit_line_when_both_directions_share_it() -> None:
    loss = _panel("Packet loss", [GOOD_MORNING])
    up, down = VOICE[Metric.LOSS_UP_PCT], VOICE[Metric.LOSS_DOWN_PCT]
    assert up.max is not None and down.max is not None
    assert len(loss.chart.limits) == (1 if up.max == down.max else 2)
    assert history.charts_by_hour([GOOD_MORNING], {})[0].chart.limits == ()


def test_figures_of_a_report_are_its_numbers() -> None:
    figures = history.figures_of(canned.full_report())
    assert figures[Metric.DOWNLOAD_MBPS] == 42.5 and figures[Metric.NOISE_FLOOR_DBFS] == -58.2
    assert Metric.UDP_OK not in figures  # a flag is not a number to chart


def test_point_series_differ_by_marker_shape_and_escape_their_labels() -> None:
    chart = charts.Chart(
        title="t",
        x_label="x",
        x_unit="",
        y_label="y",
        y_unit="",
        lines=(
            charts.Line('<script>alert("a")</script>', ((1.0, 2.0),), points_only=True),
            charts.Line("b", ((2.0, 3.0),), charts.LineStyle.SECOND, points_only=True),
            charts.Line("c", ((3.0, 1.0), (30.0, 1.0)), charts.LineStyle.THIRD, points_only=True),
        ),
        x_range=(0.0, 24.0),
        x_ticks=(0.0, 12.0, 24.0),
    )
    svg = str(charts.svg(chart, "m"))
    assert "<script" not in svg and "&lt;script&gt;alert(&#34;a&#34;)" in svg
    assert svg.count('<circle class="point"') == 1 and svg.count('<rect class="point"') == 1
    assert svg.count('<path class="point"') == 1  # the point at x=30 is outside 0..24: not drawn
    assert '<path class="series"' not in svg  # points are not joined
    ticks = re.findall(r'text-anchor="middle" fill="#333">([\d.]+)</text>', svg)
    assert ticks == ["0", "12", "24"]


def test_figures_of_the_json_form_are_the_same_numbers() -> None:
    report = canned.full_report()
    data = json_report.to_dict(report)
    assert history.figures_of_json(data) == history.figures_of(report)
    assert history.figures_of_json({"probes": "x"}) == {}
    assert history.figures_of_json({"probes": [{"measurements": [1, {"metric": 2}]}]}) == {}
