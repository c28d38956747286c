"""Record from a microphone into memory: an input stream whose callback keeps the blocks in a list.

Nothing is written to disk: the samples live in this object until the probe has analysed them.
The callback style lets the probe wait in short slices, so Ctrl-C and a silent or stalled device
are noticed at once instead of blocking in a read.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from types import ModuleType, TracebackType
from typing import Any

import numpy as np

from homecheck.probe import ProbeError
from probes.audio.devices import permission_steps

# Sound servers deliver the first block 0.1-2 s after a stream starts (PulseAudio's default
# fragment is about 2 s); past this, the device is not delivering at all.
FIRST_DATA_TIMEOUT_S = 6.0
# Converters and sound servers settle (DC filters, automatic gain) during the first moments.
WARMUP_S = 0.3
# PortAudio's paInternalError: what Core Audio's kAudioComponentErr_NotPermitted (-66748, the
# microphone privacy setting) becomes when a stream is opened (PortAudio#514, #520).
PA_INTERNAL_ERROR = -9986
# Some drivers hand out exact zeros before the real signal; skip them for up to this long.
LEADING_ZERO_GRACE_S = 1.5
STALL_TIMEOUT_S = 3.0
POLL_S = 0.05

Samples = np.ndarray[Any, np.dtype[np.float64]]


class Recorder:
    def __init__(
        self, sd: ModuleType, device: int, rate: int, channels: int, host_api: str = ""
    ) -> None:
        self._sd = sd
        self.host_api = host_api
        self._device = device
        self.rate = rate
        self.channels = channels
        self._lock = threading.Lock()
        self._blocks: list[np.ndarray[Any, np.dtype[np.float32]]] = []
        self._base = 0  # absolute index of the first sample still held
        self._received = 0  # samples received since the stream started
        self._position = 0  # absolute index of the next sample to hand out
        self._last_arrival = time.monotonic()
        self.overflows = 0
        self._stream: Any = None

    def __enter__(self) -> Recorder:
        try:
            self._stream = self._sd.InputStream(
                device=self._device,
                samplerate=self.rate,
                channels=self.channels,
                dtype="float32",
                callback=self._callback,
            )
            self._stream.start()
        except (self._sd.PortAudioError, ValueError) as exc:
            self.__exit__(None, None, None)
            raise ProbeError(explain_open_error(exc, self.host_api)) from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(self._sd.PortAudioError):
                stream.close(ignore_errors=True)
        with self._lock:
            self._blocks.clear()

    def _callback(self, indata: Any, frames: int, when: Any, status: Any) -> None:
        # PortAudio's thread: copy the block (the buffer is reused) and return at once.
        block = np.array(indata, dtype=np.float32, copy=True)
        with self._lock:
            self._blocks.append(block)
            self._received += frames
            self._last_arrival = time.monotonic()
            if status and status.input_overflow:
                self.overflows += 1

    def wait_for_sound(self, cancelled: threading.Event) -> None:
        """Wait for the first data, then drop the settling time and any leading exact zeros."""
        deadline = time.monotonic() + FIRST_DATA_TIMEOUT_S
        while self._received == 0:
            if cancelled.wait(POLL_S):
                return
            if time.monotonic() > deadline:
                raise ProbeError(
                    "the microphone was opened but sent no sound data for "
                    f"{FIRST_DATA_TIMEOUT_S:g} s: it may be in use by another program or "
                    "disconnected; close other programs that use it, or choose another one with "
                    "--mic (see `homecheck devices`)"
                )
        self.record(WARMUP_S, cancelled, None)
        zero_deadline = time.monotonic() + LEADING_ZERO_GRACE_S
        while not self._skip_zeros() and time.monotonic() < zero_deadline:
            if cancelled.wait(POLL_S):
                return

    def record(
        self,
        seconds: float,
        cancelled: threading.Event,
        progress: Callable[[float], None] | None,
    ) -> Samples:
        """The next `seconds` of sound (fewer if cancelled), shape (samples, channels)."""
        wanted = max(1, round(seconds * self.rate))
        start = self._position
        end = start + wanted
        while self._received < end:
            if cancelled.wait(POLL_S):
                break
            if progress is not None:
                progress(min(1.0, (self._received - start) / wanted))
            if time.monotonic() - self._last_arrival > STALL_TIMEOUT_S:
                raise ProbeError(
                    "the microphone stopped sending sound in the middle of the test: it may have "
                    "been unplugged or taken by another program; run homecheck again"
                )
        return self._take(min(end, self._received))

    def _skip_zeros(self) -> bool:
        """Drop held samples up to the first non-zero one; True once one was found."""
        with self._lock:
            if not self._blocks:
                return False
            held = np.concatenate(self._blocks)
            first = max(0, self._position - self._base)
            live = np.flatnonzero(np.any(held[first:] != 0, axis=1))
            cut = first + int(live[0]) if len(live) else len(held)
            rest = held[cut:]
            self._blocks = [rest] if len(rest) else []
            self._base += cut
            self._position = self._base
            return len(live) > 0

    def _take(self, end: int) -> Samples:
        with self._lock:
            held = (
                np.concatenate(self._blocks)
                if self._blocks
                else np.zeros((0, self.channels), dtype=np.float32)
            )
            first = max(0, self._position - self._base)
            last = max(first, end - self._base)
            chunk = held[first:last]
            rest = held[last:]
            self._blocks = [rest] if len(rest) else []
            self._base += last
            self._position = self._base
        return chunk.astype(np.float64)


def explain_open_error(exc: BaseException, host_api: str = "") -> str:
    """A PortAudio error when opening the microphone, as advice a person can act on; the steps
    for the privacy settings are those of the system `host_api` belongs to."""
    text = str(exc)
    lowered = text.casefold()
    code = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
    # sounddevice's host error info is (host API index, host error code, host error text).
    host = exc.args[2] if len(exc.args) > 2 else None
    host_code = host[1] if isinstance(host, tuple) and len(host) > 1 else None
    # paDeviceUnavailable (-9985); ALSA reports EBUSY (-16) for a device another program holds.
    if code == -9985 or host_code == -16 or "busy" in lowered or "unavailable" in lowered:
        return (
            "the microphone is in use by another program or blocked: close programs that may "
            "use it (Zoom, Teams, a softphone, a browser tab), then run homecheck again "
            f"({text})"
        )
    # EACCES (-13) on Linux (not in the audio group); macOS/Windows privacy settings. On macOS
    # the privacy refusal reaches us only as an internal error from Core Audio.
    denied = host_code == -13 or any(w in lowered for w in ("permission", "denied", "access"))
    if denied or (host_api == "Core Audio" and code == PA_INTERNAL_ERROR):
        return (
            "homecheck is not allowed to use the microphone: allow it "
            f"({permission_steps(host_api)}), then run homecheck again ({text})"
        )
    return f"the microphone could not be opened ({text}); choose another one with --mic"
