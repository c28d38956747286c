"""Microphones: load PortAudio, list input devices, pick one, and tell its headset kind
(probes/audio/headset.py).

Device names come from drivers and from the devices themselves (a Bluetooth headset names itself),
so they are untrusted text: control characters are removed before a name is shown, and names
written into a report are also cut short and stripped of the owner's name ("Alice's AirPods"),
the login name and the computer's name.

On Linux the usual input devices are PulseAudio/PipeWire's ("default", "pulse", "pipewire"): they
say nothing about the microphone behind them, and they advertise 44.1 kHz whatever the hardware
runs at; probes/audio/headset.py asks the sound server for the default microphone's native rate,
mute state, bus and form factor.

On Windows PortAudio lists every microphone three or four times, once per host API: MME (names
cut to 31 characters, every device at 44.1 kHz, and PortAudio's default input is MME's),
DirectSound, WASAPI and WDM-KS. Only the WASAPI copies are listed and its default microphone is
the default (WASAPI shared mode is what softphones and browsers use; SuperCollider made the same
choice, supercollider#6994). On macOS there is one host API, Core Audio. WASAPI and Core Audio
report the device's own rate (WASAPI's mix format, Core Audio's nominal rate), so that rate is
tried first: Core Audio would accept 48 kHz from a 44.1 kHz interface or a 24 kHz AirPods
microphone and resample it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import getpass
import re
import socket
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from homecheck.metrics import HeadsetKind
from homecheck.probe import ProbeError
from probes.audio.headset import ServerSource, headset_kind, pulse_default_source

# Rates tried, most preferred first, when the sound server does not tell us the native one:
# 48 kHz is what USB headsets, laptop codecs and PipeWire run at.
PREFERRED_RATES = (48000, 44100, 32000, 16000, 8000)
SOUND_SERVER_DEVICES = {"default", "pulse", "pipewire", "sysdefault"}
# When one of these host APIs has microphones, only its devices are listed (one copy of each).
PREFERRED_HOST_APIS = ("Windows WASAPI",)
# Host APIs whose default_samplerate is the rate the device really runs at (MME and DirectSound
# say 44.1 kHz for everything; ALSA's is whatever PortAudio probed first).
NATIVE_RATE_HOST_APIS = {"Windows WASAPI", "Core Audio"}
# PortAudio builds after PortAudio#672 list WASAPI loopback copies of speakers as inputs.
LOOPBACK_SUFFIX = "[Loopback]"


class AudioUnavailable(ProbeError):
    """The microphone cannot be tested at all (no sound library); the message says how to fix it."""


def portaudio_advice() -> str:
    if sys.platform.startswith("linux"):
        return (
            "install it (Debian/Ubuntu: sudo apt install libportaudio2; Fedora: sudo dnf install "
            "portaudio; Arch: sudo pacman -S portaudio)"
        )
    if sys.platform == "darwin":
        return "reinstall homecheck, or install it with Homebrew (brew install portaudio)"
    return "reinstall homecheck (the sounddevice package ships PortAudio on Windows)"


def load_sounddevice() -> ModuleType:
    """Import sounddevice (which loads PortAudio) only when the microphone is measured, so a
    machine without PortAudio can still run every other check."""
    _quiet_alsa()
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError("PortAudio library not found")
        raise AudioUnavailable(
            f"The sound library PortAudio is missing ({exc}), so the microphone cannot be "
            f"tested: {portaudio_advice()}, then run homecheck again."
        ) from None
    except ImportError:
        raise AudioUnavailable(
            "The Python package sounddevice is missing, so the microphone cannot be tested: "
            "reinstall homecheck (pip install homecheck), then run homecheck again."
        ) from None
    module: ModuleType = sounddevice
    return module


_ALSA_HANDLER: Any = None


def _quiet_alsa() -> None:
    """ALSA prints configuration chatter ("Unknown PCM cards.pcm.rear") straight to stderr while
    PortAudio probes devices; that would tear through the progress display. A no-op error handler
    (snd_lib_error_set_handler, ALSA library API) keeps it quiet."""
    global _ALSA_HANDLER
    if _ALSA_HANDLER is not None or not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("asound") or "libasound.so.2"
    try:
        alsa = ctypes.CDLL(name)
    except OSError:
        return
    prototype = ctypes.CFUNCTYPE(
        None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
    )
    _ALSA_HANDLER = prototype(lambda *args: None)  # kept alive: ALSA holds the pointer
    alsa.snd_lib_error_set_handler(_ALSA_HANDLER)


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    host_api: str
    channels: int
    default_rate: float
    is_default: bool
    kind: HeadsetKind
    narrowband: bool  # a telephone-band microphone (Bluetooth hands-free, 8 kHz)
    hint: str  # why we think so, in words
    server_source: ServerSource | None = None


def rescan(sd: ModuleType) -> None:
    """PortAudio reads the device list once, when it starts: restart it to see a headset plugged
    in (or a sound server started) since. sounddevice documents _terminate/_initialize for this."""
    try:
        sd._terminate()
        sd._initialize()
    except (AttributeError, sd.PortAudioError):
        pass


def list_inputs(sd: ModuleType, *, rescan_if_empty: bool = True) -> list[InputDevice]:
    """Every device with input channels, in PortAudio's index order."""
    found = _list_inputs(sd)
    if not found and rescan_if_empty:
        rescan(sd)
        found = _list_inputs(sd)
    return found


def _list_inputs(sd: ModuleType) -> list[InputDevice]:
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default_index = _default_input_index(sd)
    except sd.PortAudioError as exc:
        raise ProbeError(f"the sound system did not list its devices ({exc})") from None
    inputs = [
        info
        for info in devices
        if int(info["max_input_channels"]) > 0 and not str(info["name"]).endswith(LOOPBACK_SUFFIX)
    ]
    preferred = _preferred_host_api(apis, inputs)
    if preferred is not None:
        inputs = [info for info in inputs if int(info["hostapi"]) == preferred]
        default_index = int(apis[preferred]["default_input_device"])
    server = None
    found: list[InputDevice] = []
    for info in inputs:
        name = str(info["name"])
        host_api = str(apis[int(info["hostapi"])]["name"])
        source = None
        if _is_sound_server_device(name, host_api):
            server = server or pulse_default_source()
            source = server
        kind, narrowband, hint = headset_kind(name, host_api, source)
        found.append(
            InputDevice(
                index=int(info["index"]),
                name=name,
                host_api=host_api,
                channels=int(info["max_input_channels"]),
                default_rate=float(info["default_samplerate"]),
                is_default=int(info["index"]) == default_index,
                kind=kind,
                narrowband=narrowband,
                hint=hint,
                server_source=source,
            )
        )
    return found


def _preferred_host_api(apis: Any, inputs: list[Any]) -> int | None:
    """The index of the host API to list alone (WASAPI on Windows), or None to list them all."""
    for wanted in PREFERRED_HOST_APIS:
        for index, api in enumerate(apis):
            if api["name"] == wanted and any(int(i["hostapi"]) == index for i in inputs):
                return index
    return None


def _default_input_index(sd: ModuleType) -> int:
    try:
        return int(sd.default.device[0])
    except (TypeError, ValueError, IndexError):
        return -1


def choose(devices: list[InputDevice], wanted: str | None) -> InputDevice | None:
    """The device `--mic` names (an index, or part of a name, case-insensitive), else the
    system default, else the first input. None when `wanted` matches nothing."""
    if not devices:
        return None
    if wanted is None or not wanted.strip():
        return next((d for d in devices if d.is_default), devices[0])
    text = wanted.strip()
    if text.isdigit():
        return next((d for d in devices if d.index == int(text)), None)
    exact = [d for d in devices if d.name.casefold() == text.casefold()]
    if exact:
        return exact[0]
    return next((d for d in devices if text.casefold() in d.name.casefold()), None)


def describe_choices(devices: list[InputDevice]) -> str:
    if not devices:
        return "no microphone was found"
    return "choose from: " + ", ".join(f"{d.index} {display_name(d.name)!r}" for d in devices)


def _is_sound_server_device(name: str, host_api: str) -> bool:
    return host_api == "ALSA" and name.split(" ")[0].casefold() in SOUND_SERVER_DEVICES


def capture_settings(sd: ModuleType, device: InputDevice) -> tuple[int, int]:
    """(sample rate, channels) to open the device with: its native rate when the sound server
    (Linux) or the host API (WASAPI, Core Audio) says it (resampling changes levels: noise
    recorded at 44.1 kHz from a 48 kHz source read 1.3 dB low), otherwise the first preferred
    rate the device accepts; one channel when possible, else two (the louder is analysed)."""
    rates: list[int] = []
    if device.server_source is not None and device.server_source.rate:
        rates.append(device.server_source.rate)
    if device.host_api in NATIVE_RATE_HOST_APIS and device.default_rate > 0:
        rates.append(round(device.default_rate))
    rates += [r for r in PREFERRED_RATES if r not in rates]
    if round(device.default_rate) not in rates:
        rates.append(round(device.default_rate))
    for channels in (1, min(2, device.channels)):
        for rate in rates:
            try:
                sd.check_input_settings(
                    device=device.index, channels=channels, dtype="float32", samplerate=rate
                )
            except (sd.PortAudioError, ValueError):
                continue
            return rate, channels
    raise ProbeError(
        f"the microphone {display_name(device.name)!r} accepts none of the usual sample rates "
        f"({', '.join(str(r) for r in rates)} Hz); choose another one with --mic "
        "(see `homecheck devices`)"
    )


MACOS_MICROPHONE_STEPS = (
    "macOS: System Settings > Privacy & Security > Microphone, turn it on for the app you run "
    "homecheck in (Terminal, iTerm, Visual Studio Code ...), then quit and reopen that app"
)
WINDOWS_MICROPHONE_STEPS = (
    "Windows: Settings > Privacy & security > Microphone, turn on 'Microphone access' and "
    "'Let desktop apps access your microphone'"
)
LINUX_MICROPHONE_STEPS = "Linux: add your user to the 'audio' group"


def permission_steps(host_api: str) -> str:
    """How to let homecheck use the microphone on the system this host API belongs to."""
    if host_api == "Core Audio":
        return MACOS_MICROPHONE_STEPS
    if host_api.startswith("Windows ") or host_api == "MME":
        return WINDOWS_MICROPHONE_STEPS
    if host_api == "ALSA":
        return LINUX_MICROPHONE_STEPS
    return "; ".join((MACOS_MICROPHONE_STEPS, WINDOWS_MICROPHONE_STEPS, LINUX_MICROPHONE_STEPS))


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def display_name(name: str, limit: int = 80) -> str:
    """A device name safe to print: no control or bidirectional-override characters."""
    clean = _CONTROL.sub("", name).strip()
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def report_name(name: str) -> str:
    """A device name safe to put in a report that leaves this computer: as display_name, and
    without the owner's, the login or the computer's name."""
    clean = display_name(name, limit=60)
    clean = re.sub(r"^.{1,40}?['\u2019]s\s+", "[owner]'s ", clean)
    for private, label in ((_login_name(), "[user]"), (socket.gethostname(), "[computer]")):
        if private and len(private) >= 3:
            clean = re.sub(re.escape(private), label, clean, flags=re.IGNORECASE)
    return clean


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def validate_mic(wanted: str) -> str | None:
    """For the command line: why `--mic wanted` names no microphone, or None if it does (or if
    it cannot be told yet, e.g. PortAudio is missing: the probe then says so in the report)."""
    try:
        sd = load_sounddevice()
        inputs = list_inputs(sd)
    except ProbeError:
        return None
    if choose(inputs, wanted) is not None:
        return None
    return f"--mic {wanted}: no such microphone ({describe_choices(inputs)})"
