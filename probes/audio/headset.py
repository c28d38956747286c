"""What kind of microphone this is: headset hints from the device name and the sound server.

Categories (metric audio.headset, the values profiles allow; `homecheck.metrics.HeadsetKind`):
usb_headset, wired_headset, bluetooth_headset, builtin, unknown. A Bluetooth headset in hands-free
mode (HFP/HSP) is narrowband: telephone-band sound (8 kHz sampling, or 16 kHz with mSBC), muffled
to customers.

On Linux the sound server (PulseAudio or PipeWire, asked through `pactl`) knows more than the
ALSA device name: the default microphone's bus (usb, bluetooth), form factor (headset, internal),
native sample rate and whether it is muted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from homecheck.metrics import HeadsetKind

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


@dataclass(frozen=True)
class ServerSource:
    """The sound server's default microphone (PulseAudio or PipeWire, from `pactl`)."""

    name: str
    description: str
    rate: int | None
    muted: bool
    properties: dict[str, str] = field(default_factory=dict)


def headset_kind(
    name: str, host_api: str, source: ServerSource | None
) -> tuple[HeadsetKind, bool, str]:
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
            return (
                HeadsetKind.UNKNOWN,
                False,
                "the default input is a recording of an output, not a microphone",
            )
        if bus == "bluetooth" or props.get("device.api") == "bluez5" or "bluez" in text:
            narrow = (
                any(p in profile for p in ("head_unit", "head-unit"))
                or (source.rate or 48000) <= 8000
            )
            return HeadsetKind.BLUETOOTH_HEADSET, narrow, _bluetooth_hint(narrow)
        if bus == "usb" and form in {"headset", "headphone", "hands-free"}:
            return HeadsetKind.USB_HEADSET, False, "USB headset (sound server)"
        if form == "internal":
            return HeadsetKind.BUILTIN, False, "built-in microphone (sound server)"
        kind, narrow, hint = _kind_from_name(text, host_api)
        if kind == HeadsetKind.UNKNOWN and bus == "usb":
            return (
                HeadsetKind.UNKNOWN,
                False,
                "a USB microphone or webcam, not known to be a headset",
            )
        return kind, narrow, hint
    return _kind_from_name(name.casefold(), host_api)


def _kind_from_name(text: str, host_api: str) -> tuple[HeadsetKind, bool, str]:
    padded = f" {text} "
    if any(word in padded for word in BLUETOOTH_WORDS):
        narrow = any(w in text for w in ("hands-free", "handsfree", "hfp", "hsp", "headset ("))
        return HeadsetKind.BLUETOOTH_HEADSET, narrow, _bluetooth_hint(narrow)
    if any(word in padded for word in WEBCAM_WORDS):
        return (
            HeadsetKind.UNKNOWN,
            False,
            "a webcam microphone (picks up the room more than a headset)",
        )
    if any(brand in padded for brand in HEADSET_BRANDS) or ("usb" in text and "head" in text):
        return HeadsetKind.USB_HEADSET, False, "USB headset (from its name)"
    if "head" in text:  # "Headset Mic", "Headphone mic": the jack of the sound card
        return (
            HeadsetKind.WIRED_HEADSET,
            False,
            "headset on the computer's audio jack (from its name)",
        )
    if any(word in text for word in BUILTIN_WORDS):
        return HeadsetKind.BUILTIN, False, "built-in microphone (from its name)"
    if host_api == "ALSA" and ("usb" in text):
        return HeadsetKind.UNKNOWN, False, "a USB microphone or webcam, not known to be a headset"
    return HeadsetKind.UNKNOWN, False, "the name does not say what kind of microphone this is"


def _bluetooth_hint(narrow: bool) -> str:
    if narrow:
        return (
            "Bluetooth headset in hands-free mode: telephone-band sound (8-16 kHz), "
            "which customers hear as muffled"
        )
    return "Bluetooth headset: its microphone switches to a telephone-band mode during calls"


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
