"""The speed figures every backend shares (probes/network/analysis/speeds.py), on hand-made
byte counts whose rates are known."""

from __future__ import annotations

from dataclasses import dataclass, field

from homecheck.model import Direction, SeriesName
from probes.network.analysis import speeds
from probes.network.analysis.steady_rate import Steady


@dataclass
class Counts:
    samples: list[tuple[float, int]]
    steady: Steady | None = None
    stalled: bool = False
    errors: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


# 10 s of 100 ms samples: 1 Mbit/s for the first second (ramp-up), 8 Mbit/s after it.
SAMPLES = [
    (100.0 + i / 10, (i * 12_500 if i <= 10 else 125_000 + (i - 10) * 100_000)) for i in range(101)
]


def test_rates_are_megabits_per_interval() -> None:
    rates = speeds.rates(SAMPLES)
    assert len(rates) == 100
    assert abs(rates[0][0] - 100.1) < 1e-9 and abs(rates[0][1] - 1.0) < 1e-9
    assert all(abs(r - 8.0) < 1e-9 for _, r in rates[10:])
    # A repeated time stamp (two samples in one clock tick) is no interval.
    ((t, rate),) = speeds.rates([(1.0, 0), (1.0, 10), (1.1, 1_260)])
    assert t == 1.1 and abs(rate - 0.1) < 1e-9


def test_series_details_and_steady_samples_start_at_the_test() -> None:
    transfer = Counts(SAMPLES, Steady(8.0, 101.0, 110.0), errors=["reset", "reset"],
                      refusals=["HTTP/1.1 429 Too Many Requests"])  # fmt: skip
    series = speeds.rate_series(Direction.UPLOAD, transfer, started=99.0)
    assert series.name is SeriesName.UPLOAD_MBPS and series.unit == "Mbit/s"
    assert series.points[0][0] == 1.1 and series.points[-1][0] == 11.0
    info = speeds.details(transfer, started=99.0)
    assert info == {
        "steady_from_s": 2.0,
        "steady_to_s": 11.0,
        "stalled": False,
        "errors": ["reset", "HTTP/1.1 429 Too Many Requests"],
    }
    steady = speeds.steady_samples(transfer)
    assert len(steady) == 90 and all(abs(r - 8.0) < 1e-9 for r in steady)
    assert speeds.steady_samples(Counts(SAMPLES)) == []
