"""Microphones: load PortAudio, list input devices, pick one, guess what kind of headset it is.

Device names come from drivers and from the devices themselves (a Bluetooth headset names itself),
so they are untrusted text: control characters are removed before a name is shown, and names
written into a report are also cut short and stripped of the owner's name ("Alice's AirPods"),
the login name and the computer's name.

On Linux the usual input devices are PulseAudio/PipeWire's ("default", "pulse", "pipewire"): they
say nothing about the microphone behind them, and they advertise 44.1 kHz whatever the hardware
runs at. When `pactl` is available we ask the sound server which microphone is the default, its
native rate, whether it is muted, and its bus and form factor (USB, Bluetooth, headset, internal).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import getpass
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from homecheck.probe import ProbeError

# Rates tried, most preferred first, when the sound server does not tell us the native one:
# 48 kHz is what USB headsets, laptop codecs and PipeWire run at.
PREFERRED_RATES = (48000, 44100, 32000, 16000, 8000)
SOUND_SERVER_DEVICES = {"default", "pulse", "pipewire", "sysdefault"}

USB_HEADSET, WIRED_HEADSET, BLUETOOTH_HEADSET, BUILTIN, UNKNOWN = (
    "usb_headset",
    "wired_headset",
    "bluetooth_headset",
    "builtin",
    "unknown",
)
# Headset makers whose USB products are nearly always headsets with a microphone.
HEADSET_BRANDS = (
    "jabra",
    "plantronics",
    "poly ",
    "blackwire",
    "sennheiser",
    "epos",
    "yealink",
    "hyperx",
    "logitech h",
    "logi h",
    "logitech zone",
    "steelseries",
    "corsair",
    "razer",
    "avaya",
    "cisco headset",
)
BLUETOOTH_WORDS = (
    "bluetooth",
    "bluez",
    "hands-free",
    "handsfree",
    "airpods",
    "buds",
    " hfp",
    " hsp",
)
BUILTIN_WORDS = (
    "built-in",
    "builtin",
    "internal",
    "digital microphone",
    "dmic",
    "microphone array",
    "mic array",
    "macbook",
    "imac",
)
WEBCAM_WORDS = ("webcam", "camera", "c920", "c922", "c930", "brio")


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
class ServerSource:
    """The sound server's default microphone (PulseAudio or PipeWire, from `pactl`)."""

    name: str
    description: str
    rate: int | None
    muted: bool
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    host_api: str
    channels: int
    default_rate: float
    is_default: bool
    kind: str  # usb_headset, wired_headset, bluetooth_headset, builtin or unknown
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
    server = None
    found: list[InputDevice] = []
    for info in devices:
        if int(info["max_input_channels"]) <= 0:
            continue
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


def headset_kind(name: str, host_api: str, source: ServerSource | None) -> tuple[str, bool, str]:
    """(category, narrowband, hint) from the device name, host API and the server's facts."""
    if source is not None:
        props = source.properties
        text = f"{source.description} {source.name}".casefold()
        bus = props.get("device.bus", "").casefold()
        form = props.get("device.form_factor", "").casefold()
        profile = (
            props.get("bluetooth.protocol", "") + props.get("api.bluez5.profile", "")
        ).casefold()
        if props.get("device.class") == "monitor" or text.endswith(".monitor"):
            return UNKNOWN, False, "the default input is a recording of an output, not a microphone"
        if bus == "bluetooth" or props.get("device.api") == "bluez5" or "bluez" in text:
            narrow = (
                any(p in profile for p in ("head_unit", "head-unit"))
                or (source.rate or 48000) <= 8000
            )
            return BLUETOOTH_HEADSET, narrow, _bluetooth_hint(narrow)
        if bus == "usb" and form in {"headset", "headphone", "hands-free"}:
            return USB_HEADSET, False, "USB headset (sound server)"
        if form == "internal":
            return BUILTIN, False, "built-in microphone (sound server)"
        kind, narrow, hint = _kind_from_name(text, host_api)
        if kind == UNKNOWN and bus == "usb":
            return UNKNOWN, False, "a USB microphone or webcam, not known to be a headset"
        return kind, narrow, hint
    return _kind_from_name(name.casefold(), host_api)


def _kind_from_name(text: str, host_api: str) -> tuple[str, bool, str]:
    padded = f" {text} "
    if any(word in padded for word in BLUETOOTH_WORDS):
        narrow = any(w in text for w in ("hands-free", "handsfree", "hfp", "hsp", "headset ("))
        return BLUETOOTH_HEADSET, narrow, _bluetooth_hint(narrow)
    if any(word in padded for word in WEBCAM_WORDS):
        return UNKNOWN, False, "a webcam microphone (picks up the room more than a headset)"
    if any(brand in padded for brand in HEADSET_BRANDS) or ("usb" in text and "head" in text):
        return USB_HEADSET, False, "USB headset (from its name)"
    if "head" in text:  # "Headset Mic", "Headphone mic": the jack of the sound card
        return WIRED_HEADSET, False, "headset on the computer's audio jack (from its name)"
    if any(word in text for word in BUILTIN_WORDS):
        return BUILTIN, False, "built-in microphone (from its name)"
    if host_api == "ALSA" and ("usb" in text):
        return UNKNOWN, False, "a USB microphone or webcam, not known to be a headset"
    return UNKNOWN, False, "the name does not say what kind of microphone this is"


def _bluetooth_hint(narrow: bool) -> str:
    if narrow:
        return (
            "Bluetooth headset in hands-free mode: telephone-band sound (8-16 kHz), "
            "which customers hear as muffled"
        )
    return "Bluetooth headset: its microphone switches to a telephone-band mode during calls"


def _is_sound_server_device(name: str, host_api: str) -> bool:
    return host_api == "ALSA" and name.split(" ")[0].casefold() in SOUND_SERVER_DEVICES


def pulse_default_source() -> ServerSource | None:
    """Ask PulseAudio/PipeWire (`pactl`) for the default microphone; None if it cannot say."""
    pactl = shutil.which("pactl")
    if pactl is None:
        return None
    env = {**os.environ, "LC_ALL": "C"}  # pactl's labels are translated otherwise
    try:
        info, listing = (
            subprocess.run(
                [pactl, *args], capture_output=True, text=True, timeout=3, env=env, check=True
            ).stdout
            for args in (["info"], ["list", "sources"])
        )
    except (OSError, subprocess.SubprocessError):
        return None
    default = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("Default Source:")
        ),
        None,
    )
    if not default:
        return None
    for block in re.split(r"^Source #\d+\s*$", listing, flags=re.MULTILINE):
        fields = _pactl_fields(block)
        if fields.get("Name") == default:
            rate = re.search(r"(\d+)Hz", fields.get("Sample Specification", ""))
            return ServerSource(
                name=default,
                description=fields.get("Description", default),
                rate=int(rate.group(1)) if rate else None,
                muted=fields.get("Mute", "no") == "yes",
                properties=_pactl_properties(block),
            )
    return None


def _pactl_fields(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in block.splitlines():
        if line.startswith("\t") and not line.startswith("\t\t") and ":" in line:
            key, value = line.strip().split(":", 1)
            fields[key.strip()] = value.strip()
    return fields


def _pactl_properties(block: str) -> dict[str, str]:
    return {
        match.group(1): match.group(2)
        for match in re.finditer(r'^\t\t([\w.]+) = "(.*)"$', block, flags=re.MULTILINE)
    }


def capture_settings(sd: ModuleType, device: InputDevice) -> tuple[int, int]:
    """(sample rate, channels) to open the device with: its native rate when the sound server
    says it (resampling in the server changes levels: noise recorded at 44.1 kHz from a 48 kHz
    source read 1.3 dB low), otherwise the first preferred rate the device accepts; one channel
    when possible, else two (the louder is analysed)."""
    rates: list[int] = []
    if device.server_source is not None and device.server_source.rate:
        rates.append(device.server_source.rate)
    rates += [r for r in PREFERRED_RATES if r not in rates]
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
        "(48000, 44100, 16000 Hz); choose another one with --mic (see `homecheck devices`)"
    )


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
