"""Every registered probe is well formed: its own names, metrics produced by its code, sane bounds."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from homecheck import registry
from homecheck.metrics import AREAS, BY_ID, Metric, area
from homecheck.probe import ProbeOptions


def test_probe_names_are_unique_and_known_areas() -> None:
    names = registry.names()
    assert len(names) == len(set(names))
    assert set(names) <= set(AREAS)


def test_names_are_the_probes_own_names_in_run_order() -> None:
    # NAMES is written out so `homecheck --help` imports no probe; it must not drift.
    assert tuple(probe.name for probe in registry.all_probes()) == registry.NAMES


def _named_metrics(package: Path) -> set[str]:
    """The `Metric.X` members named in a probe's source (a module or a package)."""
    files = sorted(package.rglob("*.py")) if package.is_dir() else [package]
    named = set()
    for file in files:
        for node in ast.walk(ast.parse(file.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "Metric"
            ):
                named.add(Metric[node.attr].value)
    return named


def test_each_probe_names_in_its_source_exactly_the_metrics_it_answers_for() -> None:
    # A probe's `metrics` come from the catalogue by area; this checks the code agrees: every one
    # has a producer in the probe's own package, and no package names another area's metric.
    # (That the real output reports each of them is tests/homecheck/test_catalogue_contract.py.)
    for probe in registry.all_probes():
        module = sys.modules[type(probe).__module__]
        assert module.__file__ is not None
        source = Path(module.__file__)
        package = source.parent if source.name == "__init__.py" else source
        assert _named_metrics(package) == set(probe.metrics), probe.name
        assert all(area(m) == probe.name for m in probe.metrics)


def test_time_bounds_leave_room_over_the_expected_time() -> None:
    options = ProbeOptions()
    for probe in registry.all_probes():
        assert 0 < probe.expected_seconds(options) < probe.timeout_seconds(options)
        assert probe.timeout_seconds(options) <= 120, "a bound nobody waits for is no bound"


def test_every_catalogue_metric_has_a_probe() -> None:
    claimed = {metric for probe in registry.all_probes() for metric in probe.metrics}
    assert set(BY_ID) == claimed
