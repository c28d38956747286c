"""A candidate's runs by hour of day: is the connection good at 10:00 and bad at 20:00?

One chart per figure a recruiter asks about (download, upload, packet loss, jitter, call quality
as MOS, room noise), each run one point placed at the hour of day it started, with the profile's
limit as a line, and the same numbers as a plain table for a screen reader or a keyboard user.

The hour is UTC: a report's `started_at` is ISO 8601 with its offset and homecheck writes it in
UTC (homecheck/cli.py); a report giving another offset is converted, so every run sits on one
clock. The report does not say the candidate's time zone, so no local hour is guessed.

Pure: runs and requirements in, charts and tables out (reports/charts.py draws them). Nothing here
decides a verdict; the limit lines are the profile's own numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from homecheck.metrics import Metric
from homecheck.model import Report, Requirement
from reports.charts import Chart, Limit, Line, LineStyle
from reports.scales import fmt, number

HOURS = (0.0, 24.0)
HOUR_TICKS = tuple(float(h) for h in range(0, 25, 3))
NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class RunFigures:
    """One run: when it started and its numeric measurements by metric id."""

    label: str  # how the page names the run ("run 3")
    started_at: datetime  # time-zone aware
    values: Mapping[str, float]


@dataclass(frozen=True)
class Panel:
    """Which metrics one chart shows, each with its line's name."""

    title: str
    y_label: str
    unit: str
    metrics: tuple[tuple[str, str], ...]  # (metric id, series label)
    y_from_zero: bool = True
    y_range: tuple[float, float] | None = None


PANELS: tuple[Panel, ...] = (
    Panel(
        "Download speed by hour of day", "Download", "Mbit/s", ((Metric.DOWNLOAD_MBPS, "download"),)
    ),
    Panel("Upload speed by hour of day", "Upload", "Mbit/s", ((Metric.UPLOAD_MBPS, "upload"),)),
    Panel(
        "Packet loss by hour of day",
        "Packet loss",
        "%",
        ((Metric.LOSS_UP_PCT, "to the server"), (Metric.LOSS_DOWN_PCT, "from the server")),
    ),
    Panel(
        "Jitter by hour of day",
        "Jitter",
        "ms",
        ((Metric.JITTER_UP_MS, "to the server"), (Metric.JITTER_DOWN_MS, "from the server")),
    ),
    # MOS runs from 1 (bad) to 5 (excellent), ITU-T P.800; the E-model tops out near 4.4.
    Panel(
        "Call quality (MOS) by hour of day",
        "MOS",
        "MOS",
        ((Metric.MOS, "call quality"),),
        y_from_zero=False,
        y_range=(1.0, 5.0),
    ),
    Panel(
        "Room noise by hour of day",
        "Noise floor",
        "dBFS",
        ((Metric.NOISE_FLOOR_DBFS, "room noise"),),
        y_from_zero=False,
    ),
)
_STYLES = (LineStyle.MAIN, LineStyle.SECOND, LineStyle.THIRD)


@dataclass(frozen=True)
class HourTable:
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class HourChart:
    chart: Chart
    table: HourTable
    measured: int  # how many runs have any of the panel's figures


def figures_of(report: Report) -> dict[str, float]:
    """The numeric measurements of a report, by metric id (flags and words left out)."""
    values: dict[str, float] = {}
    for result in report.results:
        for measurement in result.measurements:
            value = number(measurement.value)
            if value is not None:
                values.setdefault(measurement.metric, value)
    return values


def figures_of_json(data: Mapping[str, object]) -> dict[str, float]:
    """`figures_of` for a report still in its JSON form (reports/report.schema.json), without
    building its series: a page of many runs needs only their numbers."""
    values: dict[str, float] = {}
    probes = data.get("probes")
    for probe in probes if isinstance(probes, list) else ():
        measurements = probe.get("measurements") if isinstance(probe, Mapping) else None
        for measurement in measurements if isinstance(measurements, list) else ():
            if not isinstance(measurement, Mapping):
                continue
            metric, value = measurement.get("metric"), number(measurement.get("value"))
            if isinstance(metric, str) and value is not None:
                values.setdefault(metric, value)
    return values


def parse_started(text: object) -> datetime | None:
    """A report's `started_at` as an aware time, or None if it is not ISO 8601 with an offset."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def hour_of_day(moment: datetime) -> float:
    """Hours since midnight UTC: 20:30 is 20.5."""
    utc = moment.astimezone(UTC)
    return utc.hour + utc.minute / 60 + utc.second / 3600


def clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M")


def charts_by_hour(
    runs: Sequence[RunFigures], requirements: Mapping[str, Requirement]
) -> list[HourChart]:
    """One chart and table per panel, in PANELS order, runs in the order given."""
    return [_panel(panel, runs, requirements) for panel in PANELS]


def _panel(
    panel: Panel, runs: Sequence[RunFigures], requirements: Mapping[str, Requirement]
) -> HourChart:
    lines = tuple(
        Line(
            label,
            tuple(
                (hour_of_day(run.started_at), run.values[metric])
                for run in runs
                if metric in run.values
            ),
            _STYLES[index % len(_STYLES)],
            points_only=True,
        )
        for index, (metric, label) in enumerate(panel.metrics)
    )
    chart = Chart(
        title=panel.title,
        x_label="Hour of the day the run started",
        x_unit="UTC",
        y_label=panel.y_label,
        y_unit=panel.unit,
        lines=lines,
        limits=_limits(panel, requirements),
        y_from_zero=panel.y_from_zero,
        y_range=panel.y_range,
        x_range=HOURS,
        x_ticks=HOUR_TICKS,
    )
    return HourChart(
        chart=chart,
        table=_table(panel, runs),
        measured=sum(1 for run in runs if any(m in run.values for m, _ in panel.metrics)),
    )


def _limits(panel: Panel, requirements: Mapping[str, Requirement]) -> tuple[Limit, ...]:
    limits: dict[float, Limit] = {}
    several = len(panel.metrics) > 1
    for metric, label in panel.metrics:
        req = requirements.get(metric)
        if req is None:
            continue
        bound, word = (req.max, "maximum") if req.max is not None else (req.min, "minimum")
        if bound is None or bound in limits:  # both directions at one limit: one line
            continue
        who = f"{label}: " if several else ""
        limits[bound] = Limit(bound, f"{who}{word} {fmt(bound)} {panel.unit}")
    return tuple(limits.values())


def _table(panel: Panel, runs: Sequence[RunFigures]) -> HourTable:
    several = len(panel.metrics) > 1
    columns = (
        "Run",
        "Started (UTC)",
        *(
            f"{panel.y_label} {label} ({panel.unit})"
            if several
            else f"{panel.y_label} ({panel.unit})"
            for _, label in panel.metrics
        ),
    )
    rows = tuple(
        (
            run.label,
            run.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            *(
                fmt(run.values[metric]) if metric in run.values else NOT_MEASURED
                for metric, _ in panel.metrics
            ),
        )
        for run in runs
    )
    return HourTable(f"{panel.title}: the numbers", columns, rows)
