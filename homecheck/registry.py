"""The explicit list of probes, in the order they run.

No discovery by file name: a probe that is not listed here does not exist, and
tests/homecheck/test_registry.py checks every listed probe is well formed. The probes are imported
only when asked for, so `homecheck --help` (which names the areas) loads none of their
dependencies (numpy, psutil, speedtest-cli, PortAudio).
"""

from __future__ import annotations

from homecheck.probe import Probe

# The areas' names, in run order; the test checks they are the probes' own names.
NAMES = ("system", "network", "audio")


def all_probes() -> tuple[Probe, ...]:
    from probes.audio import AudioProbe
    from probes.network import NetworkProbe
    from probes.system import SystemProbe

    return (SystemProbe(), NetworkProbe(), AudioProbe())


def names() -> tuple[str, ...]:
    return NAMES
