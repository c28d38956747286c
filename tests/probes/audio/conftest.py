"""Fixtures for the audio probe tests: one virtual microphone server for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labs.audio.virtual_mic import VirtualMic, tools_missing
from tests.support.environment import need


@pytest.fixture(scope="session")
def virtual_mic_server() -> Iterator[VirtualMic]:
    """A private PulseAudio with a null sink, started once (~0.3 s) and stopped at the end."""
    missing = tools_missing()
    need(not missing, f"PulseAudio tools missing: {', '.join(missing)} (make test-debs)")
    mic = VirtualMic()
    try:
        mic.start()
    except (OSError, RuntimeError) as exc:
        mic.stop()
        need(False, f"cannot start the virtual microphone: {exc}")
    try:
        yield mic
    finally:
        mic.stop()


@pytest.fixture
def virtual_mic(virtual_mic_server: VirtualMic) -> Iterator[VirtualMic]:
    """The virtual microphone as this process's default microphone, for one test only (so other
    tests' subprocesses never inherit it)."""
    with virtual_mic_server.in_this_process():
        yield virtual_mic_server
