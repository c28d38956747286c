"""Which charts a probe's series become: titles, axis labels, units, phases and limit lines.

The series names are `homecheck.model.SeriesName` (and `core_series(n)` per CPU core), shared with
the probes that produce them. Any other series is drawn on its own with its name and unit, so a
new probe shows up without a change here.

A limit line is drawn where a profile requirement bounds the same quantity, so a reader sees how
far a measurement was from the limit (e.g. the latency maximum across the round-trip chart).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from homecheck.metrics import Metric
from homecheck.model import CORE_SERIES, Direction, Phase, Requirement, Series, SeriesName
from reports.charts import Chart, Limit, Line, LineStyle
from reports.scales import fmt, number

KNOWN = frozenset(SeriesName)
# Each speed series: the direction it measures and the profile line whose limit it shows.
_SPEEDS = {
    SeriesName.DOWNLOAD_MBPS: (Direction.DOWNLOAD, Metric.DOWNLOAD_MBPS),
    SeriesName.UPLOAD_MBPS: (Direction.UPLOAD, Metric.UPLOAD_MBPS),
}


def charts_for(series: Sequence[Series], requirements: Mapping[str, Requirement]) -> list[Chart]:
    """The charts for one probe's series, known names first, in a fixed order."""
    by_name = {s.name: s for s in series}
    charts: list[Chart] = []
    cores = sorted(
        (s for s in series if _core(s.name) is not None), key=lambda s: _core(s.name) or 0
    )
    if SeriesName.CPU_BUSY_PCT in by_name or cores:
        charts.append(_cpu(by_name.get(SeriesName.CPU_BUSY_PCT), cores, requirements))
    rtt = by_name.get(SeriesName.RTT_MS)
    if rtt is not None:
        charts.append(_rtt(rtt, requirements))
    speeds = [by_name[n] for n in _SPEEDS if n in by_name]
    if speeds:
        # Speeds may come without phases; the delay series of the same run has them.
        phases = _phases(speeds) or _phases([rtt] if rtt is not None else [])
        charts.append(_speed(speeds, phases, requirements))
    if SeriesName.LEVEL_DBFS in by_name:
        charts.append(_level(by_name[SeriesName.LEVEL_DBFS], requirements))
    if SeriesName.SPECTRUM_DBFS in by_name:
        charts.append(_spectrum(by_name[SeriesName.SPECTRUM_DBFS]))
    for other in series:
        if other.name not in KNOWN and _core(other.name) is None:
            charts.append(_generic(other))
    return charts


def _core(name: str) -> int | None:
    match = CORE_SERIES.match(name)
    return int(match[1]) if match else None


def _time_label(x_unit: str) -> str:
    return "Time since this test started" if x_unit == "s" else "x"


def _phases(series: Sequence[Series]) -> tuple[tuple[str, float, float], ...]:
    seen: dict[tuple[str, float, float], None] = {}
    for s in series:
        for phase in s.phases:
            if len(phase) != 3:
                continue
            start, end = number(phase[1]), number(phase[2])
            if start is not None and end is not None:
                seen[(str(phase[0]), start, end)] = None
    return tuple(seen)


def _limit(
    requirements: Mapping[str, Requirement], metric: str, words: str, unit: str
) -> tuple[Limit, ...]:
    req = requirements.get(metric)
    if req is None:
        return ()
    value = req.max if req.max is not None else req.min
    if value is None:
        return ()
    return (Limit(value, f"{words} {fmt(value)} {unit}".strip()),)


def _cpu(
    total: Series | None, cores: list[Series], requirements: Mapping[str, Requirement]
) -> Chart:
    lines = [
        Line(f"core {_core(core.name)}", core.points, LineStyle.FAINT, in_legend=False)
        for core in cores
    ]
    if cores:
        lines[0] = Line("each core", cores[0].points, LineStyle.FAINT)
    if total is not None:
        lines.append(Line("whole machine", total.points, LineStyle.MAIN))
    limits: tuple[Limit, ...] = ()
    headroom = requirements.get(Metric.CPU_HEADROOM_PCT)
    if headroom is not None and headroom.min is not None:
        busy = 100.0 - headroom.min
        limits = (Limit(busy, f"average must stay under {fmt(busy)} %"),)
    return Chart(
        title="CPU use while measuring",
        x_label=_time_label("s"),
        x_unit="s",
        y_label="CPU busy",
        y_unit="%",
        lines=tuple(lines),
        limits=limits,
        y_range=(0.0, 100.0),
        x_from_zero=True,
    )


def _rtt(rtt: Series, requirements: Mapping[str, Requirement]) -> Chart:
    return Chart(
        title="Round-trip delay, idle and while the line is loaded",
        x_label=_time_label(rtt.x_unit),
        x_unit=rtt.x_unit,
        y_label="Round-trip delay",
        y_unit=rtt.unit or "ms",
        lines=(Line("round-trip delay", rtt.points),),
        phases=_phases([rtt]),
        limits=_limit(requirements, Metric.LATENCY_MS, "limit for the median", rtt.unit),
        y_from_zero=True,
        x_from_zero=True,
    )


def _speed(
    speeds: list[Series],
    phases: tuple[tuple[str, float, float], ...],
    requirements: Mapping[str, Requirement],
) -> Chart:
    styles = {Direction.DOWNLOAD: LineStyle.MAIN, Direction.UPLOAD: LineStyle.SECOND}
    limits = tuple(
        limit
        for s in speeds
        for limit in _limit(
            requirements, _SPEEDS[SeriesName(s.name)][1], f"{_word(s)} minimum", s.unit
        )
    )
    return Chart(
        title="Download and upload speed over time",
        x_label=_time_label(speeds[0].x_unit),
        x_unit=speeds[0].x_unit,
        y_label="Speed",
        y_unit=speeds[0].unit or "Mbit/s",
        lines=tuple(Line(_word(s), s.points, styles[_direction(s)]) for s in speeds),
        phases=phases,
        limits=limits,
        y_from_zero=True,
        x_from_zero=True,
    )


def _direction(speed: Series) -> Direction:
    return _SPEEDS[SeriesName(speed.name)][0]


def _word(speed: Series) -> str:
    return _direction(speed).value


def _level(level: Series, requirements: Mapping[str, Requirement]) -> Chart:
    limits = _limit(requirements, Metric.NOISE_FLOOR_DBFS, "background-noise limit", level.unit)
    # The noise limit judges the quiet-room recording, not the read-aloud sentence after it.
    room = next((p for p in _phases([level]) if p[0] == Phase.ROOM), None)
    if room is not None:
        limits = tuple(replace(limit, x_from=room[1], x_to=room[2]) for limit in limits)
    return Chart(
        title="Sound level at the microphone over time (100 ms steps)",
        x_label=_time_label(level.x_unit),
        x_unit=level.x_unit,
        y_label="Level",
        y_unit=level.unit or "dBFS",
        lines=(Line("level", level.points),),
        phases=_phases([level]),
        limits=limits,
        x_from_zero=True,
    )


def _spectrum(spectrum: Series) -> Chart:
    return Chart(
        title="Room noise spectrum: which pitches the background noise has",
        x_label="Frequency",
        x_unit=spectrum.x_unit or "Hz",
        y_label="Level",
        y_unit=spectrum.unit or "dBFS",
        lines=(Line("spectrum", spectrum.points),),
        log_x=spectrum.x_unit == "Hz",
    )


def _generic(series: Series) -> Chart:
    words = series.name.replace("_", " ").strip() or "series"
    return Chart(
        title=words[0].upper() + words[1:],
        x_label=_time_label(series.x_unit) if series.x_unit == "s" else "x",
        x_unit=series.x_unit,
        y_label=words,
        y_unit=series.unit,
        lines=(Line(words, series.points),),
        phases=_phases([series]),
    )
