"""The explicit list of probes, in the order they run.

No discovery by file name: a probe that is not listed here does not exist, and
tests/homecheck/test_registry.py checks every listed probe is well formed.
"""

from __future__ import annotations

from homecheck.probe import Probe
from probes.audio import AudioProbe
from probes.network import NetworkProbe
from probes.system import SystemProbe


def all_probes() -> tuple[Probe, ...]:
    return (SystemProbe(), NetworkProbe(), AudioProbe())


def names() -> tuple[str, ...]:
    return tuple(p.name for p in all_probes())
