"""Device facts that need no sound system: headset hints, names, PortAudio's error messages."""

from __future__ import annotations

import pytest

from probes.audio import devices
from probes.audio import headset as audio_headset
from probes.audio.recorder import explain_open_error


@pytest.mark.parametrize(
    ("name", "host_api", "kind", "narrowband"),
    [
        ("Jabra Evolve2 40 Mono: USB Audio (hw:2,0)", "ALSA", "usb_headset", False),
        ("Headset Microphone (Logitech USB Headset H390)", "Windows WASAPI", "usb_headset", False),
        ("Headset (WH-1000XM4 Hands-Free AG Audio)", "Windows WASAPI", "bluetooth_headset", True),
        ("AirPods Pro", "Core Audio", "bluetooth_headset", False),
        ("MacBook Pro Microphone", "Core Audio", "builtin", False),
        ("Microphone Array (Realtek(R) Audio)", "Windows WASAPI", "builtin", False),
        ("HDA Intel PCH: ALC3246 Headset Mic (hw:0,0)", "ALSA", "wired_headset", False),
        ("HD Pro Webcam C920: USB Audio (hw:1,0)", "ALSA", "unknown", False),
        ("HDA Intel PCH: ALC887-VD Analog (hw:0,0)", "ALSA", "unknown", False),
    ],
)
def test_headset_hint_from_the_name(name: str, host_api: str, kind: str, narrowband: bool) -> None:
    assert audio_headset.headset_kind(name, host_api, None)[:2] == (kind, narrowband)


@pytest.mark.parametrize(
    ("properties", "kind", "narrowband"),
    [
        ({"device.bus": "usb", "device.form_factor": "headset"}, "usb_headset", False),
        (
            {"device.bus": "bluetooth", "bluetooth.protocol": "handsfree_head_unit"},
            "bluetooth_headset",
            True,
        ),
        ({"device.api": "bluez5", "api.bluez5.profile": "a2dp-sink"}, "bluetooth_headset", False),
        ({"device.form_factor": "internal"}, "builtin", False),
        ({"device.class": "monitor"}, "unknown", False),
    ],
)
def test_headset_hint_from_the_sound_server(
    properties: dict[str, str], kind: str, narrowband: bool
) -> None:
    source = audio_headset.ServerSource("alsa_input.x", "Some microphone", 48000, False, properties)
    assert audio_headset.headset_kind("default", "ALSA", source)[:2] == (kind, narrowband)


def test_choose_by_index_name_or_default() -> None:
    found = [
        devices.InputDevice(0, "pulse", "ALSA", 32, 44100.0, False, "unknown", False, ""),
        devices.InputDevice(3, "Jabra Evolve2", "ALSA", 1, 48000.0, True, "usb_headset", False, ""),
    ]
    assert devices.choose(found, None) is found[1]
    assert devices.choose(found, "0") is found[0]
    assert devices.choose(found, "jabra") is found[1]
    assert devices.choose(found, "7") is None
    assert devices.choose(found, "nothing like it") is None
    assert devices.choose([], None) is None


def test_open_errors_become_advice() -> None:
    sd = devices.load_sounddevice()
    busy = sd.PortAudioError("Error opening InputStream: Device unavailable", -9985)
    assert "in use by another program" in explain_open_error(busy)
    denied = sd.PortAudioError(
        "Error opening InputStream: Unanticipated host error", -9999, (0, -13, "Permission denied")
    )
    assert "not allowed to use the microphone" in explain_open_error(denied)


def test_device_names_in_reports_lose_owner_and_control_characters() -> None:
    assert devices.report_name("Alice\u2019s AirPods Pro") == "[owner]'s AirPods Pro"
    assert devices.display_name("Evil\x1b[31mRed\x07 Mic") == "Evil[31mRed Mic"
    assert devices.display_name("\u202eevil") == "evil"
    assert len(devices.report_name("x" * 200)) == 60
