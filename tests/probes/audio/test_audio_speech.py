"""The read-aloud check: synthetic speech (espeak-ng) over room noise at known ratios."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import numpy as np
import pytest

from homecheck.model import Cause, ProbeResult
from homecheck.probe import ProbeContext, ProbeOptions
from labs.audio import signals
from labs.audio.virtual_mic import Player, VirtualMic
from probes.audio import AudioProbe
from tests.support.environment import need

pytestmark = pytest.mark.audio

NOISE_DBFS = -50.0


@pytest.fixture(scope="module")
def spoken() -> tuple[np.ndarray, float]:
    """The sentence spoken by espeak-ng, and its ITU-T P.56 active level."""
    need(
        None not in (shutil.which("espeak-ng"), shutil.which("sox")),
        "espeak-ng and sox are not installed",
    )
    voice = signals.speech()
    return voice, signals.p56_active_level_dbfs(voice)


def read_aloud(
    mic: VirtualMic, voice: np.ndarray, room: np.ndarray, speech_seconds: float = 5.5
) -> ProbeResult:
    """Run the probe with `room` playing throughout and `voice` starting when the probe asks
    the person to read (as a person reacting to the prompt would)."""
    started: list[Player] = []

    def progress(fraction: float, message: str) -> None:
        if message.startswith("Read aloud now") and not started:
            started.append(mic.play(voice))

    probe = AudioProbe(room_seconds=3.0, speech_seconds=speech_seconds, ready_seconds=1.0)
    context = ProbeContext(options=ProbeOptions(speech=True), progress=progress)
    with mic.play(room):
        try:
            return probe.run(context)
        finally:
            for player in started:
                player.stop()


@pytest.fixture
def pink_room() -> Iterator[np.ndarray]:
    yield signals.pink(15.0, NOISE_DBFS, seed=7)


@pytest.mark.parametrize("snr_db", [10.0, 20.0, 30.0])
def test_speech_to_noise_ratio_within_1_5_db(
    virtual_mic: VirtualMic, spoken: tuple[np.ndarray, float], pink_room: np.ndarray, snr_db: float
) -> None:
    voice, active_level = spoken
    assert len(voice) / signals.RATE < 5.0  # fits the 5.5 s window
    # The set ratio: P.56 active speech level of the voice over the RMS of the noise.
    gain = 10 ** ((NOISE_DBFS + snr_db - active_level) / 20)
    result = read_aloud(virtual_mic, voice * gain, pink_room)
    measured = result.measurement("audio.speech_snr_db")
    assert measured is not None, (result.reason, result.unmeasured)
    assert measured.value == pytest.approx(snr_db, abs=1.5)
    assert result.details["speech_active_level_dbfs"] == pytest.approx(NOISE_DBFS + snr_db, abs=1.5)
    # The room is still measured before the speech, and the speech did not clip.
    floor = result.measurement("audio.noise_floor_dbfs")
    assert floor is not None and floor.value == pytest.approx(NOISE_DBFS, abs=1.0)
    assert result.measurement("audio.clipping_pct").value == 0.0  # type: ignore[union-attr]
    level_series = next(s for s in result.series if s.name == "level_dbfs")
    assert [name for name, _, _ in level_series.phases] == ["room", "speech"]


def test_silence_while_asked_to_read_is_no_voice_heard(
    virtual_mic: VirtualMic, pink_room: np.ndarray
) -> None:
    result = read_aloud(virtual_mic, np.zeros(10), pink_room, speech_seconds=2.0)
    assert result.measurement("audio.speech_snr_db") is None
    reason = {u.metric: u.reason for u in result.unmeasured}["audio.speech_snr_db"]
    assert "no voice was heard" in reason


def test_speech_check_skipped_says_how_to_include_it(virtual_mic: VirtualMic) -> None:
    with virtual_mic.play(signals.white(12.0, -50.0)):
        result = AudioProbe(room_seconds=1.0).run(ProbeContext(options=ProbeOptions(speech=False)))
    (skipped,) = [u for u in result.unmeasured if u.metric == "audio.speech_snr_db"]
    assert "--speech" in skipped.reason
    assert skipped.cause is Cause.SKIPPED_BY_USER
