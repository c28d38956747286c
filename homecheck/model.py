"""The shared vocabulary: measurements, probe results, requirements, findings and the report.

Everything here is a frozen dataclass or an enum. Probes produce `ProbeResult`s, the aggregator
turns them plus a `Profile` into `Finding`s and `AreaResult`s (each with a `Cause`), and the
renderers read a finished `Report`. Nothing in
this module does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

# A measured value: a number (with a unit), a yes/no, or a category such as "wired".
Value: TypeAlias = float | bool | str

# JSON-compatible extra facts a probe reports beside its metrics (top processes, device lists ...).
JSONScalar: TypeAlias = str | int | float | bool | None
JSON: TypeAlias = JSONScalar | Sequence["JSON"] | Mapping[str, "JSON"]


class Verdict(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    NOT_MEASURED = "not_measured"


class Cause(StrEnum):
    """Why a finding (or an area) has its verdict. The aggregator decides it; renderers read it
    instead of matching reason texts."""

    MEASURED = "measured"  # a value was measured and compared with the limit
    NOT_SELECTED = "not_selected"  # the area was left out with --only
    PROBE_FAILED = "probe_failed"  # the probe ran but could not measure it; the reason says why
    STOPPED = "stopped"  # the run was stopped (Ctrl-C) before this was measured
    NEEDS_LONGER_RUN = "needs_longer_run"  # measured only in a longer run (--duration)
    SKIPPED_BY_USER = "skipped_by_user"  # the user chose to skip it (--no-speech)
    # The probe ran but said nothing about this metric: a bug in the probe, not the setup.
    NOT_REPORTED = "not_reported"


class Level(StrEnum):
    """How much a requirement matters: a failed `recommended` line only warns."""

    REQUIRED = "required"
    RECOMMENDED = "recommended"


class Direction(StrEnum):
    """Which way the network test moves data."""

    DOWNLOAD = "download"
    UPLOAD = "upload"


class Phase(StrEnum):
    """A named span of a probe's run (`Series.phases`, the tags on network samples)."""

    # network: quiet line, loaded each way, and the pause between the two loads
    IDLE = "idle"
    DOWNLOAD = "download"
    UPLOAD = "upload"
    SETTLE = "settle"
    # audio: the quiet-room recording, then the read-aloud sentence
    ROOM = "room"
    SPEECH = "speech"


class SeriesName(StrEnum):
    """The series the reports know (reports/figures.py); any other is drawn generically.

    Per core, the system probe also gives `core_series(n)` ("cpu<N>_busy_pct").
    """

    CPU_BUSY_PCT = "cpu_busy_pct"  # system
    RTT_MS = "rtt_ms"  # network, with phases idle/download/upload
    DOWNLOAD_MBPS = "download_mbps"  # network
    UPLOAD_MBPS = "upload_mbps"  # network
    LEVEL_DBFS = "level_dbfs"  # audio, 100 ms frames, with phases room/speech
    SPECTRUM_DBFS = "spectrum_dbfs"  # audio, x in Hz


CORE_SERIES = re.compile(r"^cpu(\d+)_busy_pct$")


def core_series(core: int) -> str:
    """The name of one CPU core's busy series (matches `CORE_SERIES`)."""
    return f"cpu{core}_busy_pct"


@dataclass(frozen=True)
class Series:
    """Data for a chart: `points` are (x, value); x is seconds since the probe started unless
    `x_unit` says otherwise (a spectrum has x in Hz). `name` is a `SeriesName` or
    `core_series(n)` for the charts the reports know; any other is drawn generically.
    """

    name: str
    unit: str
    points: tuple[tuple[float, float], ...]
    # Named spans of the x axis (a `Phase`, start, end), e.g. ("download", 3.0, 8.0).
    phases: tuple[tuple[str, float, float], ...] = ()
    x_unit: str = "s"


@dataclass(frozen=True)
class Measurement:
    """One number (or flag, or category) with its unit and the raw samples behind it."""

    metric: str
    value: Value
    unit: str
    samples: tuple[float, ...] = ()
    # How it was measured when that matters to a reader, e.g. "UDP echo, 50 packets/s".
    method: str = ""


@dataclass(frozen=True)
class Unmeasured:
    """A metric a probe is responsible for but could not measure, and why (plain language)."""

    metric: str
    reason: str
    cause: Cause = Cause.PROBE_FAILED


@dataclass(frozen=True)
class ProbeResult:
    """What one probe returned. A probe that could not measure at all sets `reason`."""

    probe: str
    measurements: tuple[Measurement, ...] = ()
    unmeasured: tuple[Unmeasured, ...] = ()
    series: tuple[Series, ...] = ()
    details: Mapping[str, JSON] = field(default_factory=dict)
    reason: str | None = None
    # Why `reason` is set (Ctrl-C, or a failure); read only when there is a reason.
    cause: Cause = Cause.PROBE_FAILED
    duration_s: float = 0.0
    # True when the probe was cut short (Ctrl-C, time bound, link lost) and kept what it had.
    partial: bool = False

    def measurement(self, metric: str) -> Measurement | None:
        return next((m for m in self.measurements if m.metric == metric), None)


@dataclass(frozen=True)
class Requirement:
    """One line of a profile, keyed by metric id.

    Numbers: `min`/`max` are the pass limits; `warn_min`/`warn_max` the stricter levels below/above
    which a passing value still warns. Flags and categories: `allowed` lists acceptable values.
    """

    metric: str
    label: str
    advice: str
    level: Level = Level.REQUIRED
    min: float | None = None
    max: float | None = None
    warn_min: float | None = None
    warn_max: float | None = None
    allowed: tuple[bool | str, ...] = ()

    def describe(self, unit: str) -> str:
        """The limit in words, e.g. "at least 25 Mbit/s (ideally 50)"."""
        if len(self.allowed) == 1:
            return _word(self.allowed[0])
        if self.allowed:
            return "one of: " + ", ".join(_word(v) for v in self.allowed)
        suffix = f" {unit}" if unit else ""
        parts = []
        if self.min is not None:
            ideal = f" (ideally {_num(self.warn_min)}+)" if self.warn_min is not None else ""
            parts.append(f"at least {_num(self.min)}{suffix}{ideal}")
        if self.max is not None:
            ideal = f" (ideally under {_num(self.warn_max)})" if self.warn_max is not None else ""
            parts.append(f"at most {_num(self.max)}{suffix}{ideal}")
        if not parts and self.warn_min is not None:
            parts.append(f"ideally at least {_num(self.warn_min)}{suffix}")
        if not parts and self.warn_max is not None:
            parts.append(f"ideally at most {_num(self.warn_max)}{suffix}")
        return ", ".join(parts)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _word(value: bool | str) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    requirements: tuple[Requirement, ...]
    # sha256 of the TOML bytes, so a recruiter can tell which version of a profile was applied.
    sha256: str
    source: str


@dataclass(frozen=True)
class Finding:
    requirement: Requirement
    verdict: Verdict
    cause: Cause
    measurement: Measurement | None
    # Why the verdict is what it is, in plain words ("3.1 ms above the limit", "no microphone").
    reason: str
    # What to do about it; empty for a pass.
    advice: str


@dataclass(frozen=True)
class AreaResult:
    """The aggregator's verdict on one area (system, network, audio) of the profile.

    `cause` is NOT_SELECTED when the area was left out with --only, the cause of the first
    required line that could not be measured when the verdict is NOT_MEASURED, else MEASURED.
    """

    area: str
    verdict: Verdict
    cause: Cause


@dataclass(frozen=True)
class Report:
    tool_version: str
    profile: Profile
    started_at: str
    finished_at: str
    results: tuple[ProbeResult, ...]
    findings: tuple[Finding, ...]
    # One per area the profile has lines for; renderers show these, never recompute them.
    areas: tuple[AreaResult, ...]
    overall: Verdict
    interrupted: bool = False

    def measurement(self, metric: str) -> Measurement | None:
        for result in self.results:
            found = result.measurement(metric)
            if found is not None:
                return found
        return None

    def area(self, name: str) -> AreaResult | None:
        return next((a for a in self.areas if a.area == name), None)
