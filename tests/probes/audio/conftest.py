"""Fixtures for the audio probe tests: one virtual microphone for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import need
from tests.probes.audio.virtual_mic import VirtualMic, tools_missing


@pytest.fixture(scope="session")
def virtual_mic() -> Iterator[VirtualMic]:
    """A PulseAudio null sink whose monitor is the default microphone of this process."""
    missing = tools_missing()
    need(not missing, f"PulseAudio tools missing: {', '.join(missing)} (make test-debs)")
    mic = VirtualMic()
    try:
        mic.start()
    except (OSError, RuntimeError) as exc:
        mic.stop()
        need(False, f"cannot start the virtual microphone: {exc}")
    try:
        with mic.in_this_process():
            yield mic
    finally:
        mic.stop()
