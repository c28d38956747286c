"""Every registered probe is well formed: unique names, metrics from the catalogue, sane bounds."""

from __future__ import annotations

from homecheck import registry
from homecheck.metrics import AREAS, BY_ID, area
from homecheck.probe import ProbeOptions


def test_probe_names_are_unique_and_known_areas() -> None:
    names = registry.names()
    assert len(names) == len(set(names))
    assert set(names) <= set(AREAS)


def test_probe_metrics_are_in_the_catalogue_and_in_their_area() -> None:
    for probe in registry.all_probes():
        assert probe.metrics, probe.name
        for metric in probe.metrics:
            assert metric in BY_ID, metric
            assert area(metric) == probe.name, metric


def test_time_bounds_leave_room_over_the_expected_time() -> None:
    options = ProbeOptions()
    for probe in registry.all_probes():
        assert 0 < probe.expected_seconds(options) < probe.timeout_seconds(options)
        assert probe.timeout_seconds(options) <= 120, "a bound nobody waits for is no bound"


def test_every_catalogue_metric_has_a_probe() -> None:
    claimed = {metric for probe in registry.all_probes() for metric in probe.metrics}
    assert set(BY_ID) == claimed
