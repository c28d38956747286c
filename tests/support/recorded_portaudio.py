"""Another computer's sound system at the sounddevice boundary, for the real device code.

A fixture under tests/fixtures/audio/ holds what `sd.query_hostapis()`, `sd.query_devices()` and
`sd.default.device` return on that machine. `RecordedPortAudio` answers those calls from it and
opens streams the way that host API does:
- WASAPI in shared mode accepts only the device's mix-format rate (its default_samplerate);
  PortAudio's IsFormatSupported fails with paInvalidSampleRate (-9997) for any other rate.
- MME, DirectSound and Core Audio accept any common rate and convert (the Windows mixer,
  PortAudio's Core Audio converter).
- `open_error`, when given, is raised by InputStream() as PortAudio raises it on that machine;
  otherwise the stream's callback gets `signal` (mono, at the stream's rate) in 10 ms blocks at
  the pace of a real device, from PortAudio's side: another thread.
Errors are the real `sounddevice.PortAudioError`.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import sounddevice

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "audio"
PA_INVALID_SAMPLE_RATE = -9997


class _Default:
    def __init__(self, device: list[int]) -> None:
        self.device = device


class RecordedPortAudio:
    PortAudioError = sounddevice.PortAudioError

    def __init__(
        self,
        fixture: str,
        open_error: BaseException | None = None,
        signal: np.ndarray | None = None,
    ) -> None:
        self.signal = signal
        data = json.loads((FIXTURES / fixture).read_text())
        self._apis: list[dict[str, Any]] = data["hostapis"]
        self._devices: list[dict[str, Any]] = data["devices"]
        self.default = _Default(list(data["default_device"]))
        self.open_error = open_error
        self.tried: list[tuple[int, int, int]] = []  # (device, channels, rate) as checked

    def query_hostapis(self) -> tuple[dict[str, Any], ...]:
        return tuple(dict(api) for api in self._apis)

    def query_devices(self) -> tuple[dict[str, Any], ...]:
        return tuple(dict(device) for device in self._devices)

    def check_input_settings(
        self, device: int, channels: int, dtype: str, samplerate: float
    ) -> None:
        self.tried.append((device, channels, round(samplerate)))
        info = self._devices[device]
        if channels > info["max_input_channels"]:
            raise sounddevice.PortAudioError("Invalid number of channels", -9998)
        api = self._apis[info["hostapi"]]["name"]
        if api == "Windows WASAPI" and round(samplerate) != round(info["default_samplerate"]):
            raise sounddevice.PortAudioError("Invalid sample rate", PA_INVALID_SAMPLE_RATE)

    def InputStream(self, **settings: Any) -> _Stream:  # sounddevice's name
        if self.open_error is not None:
            raise self.open_error
        signal = self.signal if self.signal is not None else np.zeros(0)
        return _Stream(signal, int(settings["samplerate"]), int(settings["channels"]), settings)

    def _terminate(self) -> None:
        pass

    def _initialize(self) -> None:
        pass


class _Stream:
    def __init__(self, signal: np.ndarray, rate: int, channels: int, settings: Any) -> None:
        self._signal = signal.astype(np.float32)
        self._block = rate // 100
        self._channels = channels
        self._callback = settings["callback"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        for start in range(0, len(self._signal), self._block):
            if self._stop.wait(0.01):
                return
            block = self._signal[start : start + self._block]
            frames = np.repeat(block[:, None], self._channels, axis=1)
            self._callback(frames, len(block), None, sounddevice.CallbackFlags())

    def close(self, ignore_errors: bool = True) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
