"""Device facts that need no sound system: headset hints, names, PortAudio's error messages."""

from __future__ import annotations

import numpy as np
import pytest
from sounddevice import PortAudioError

from homecheck.probe import ProbeContext, ProbeOptions
from probes.audio import AudioProbe, devices
from probes.audio import headset as audio_headset
from probes.audio.recorder import explain_open_error
from tests.support.recorded_portaudio import RecordedPortAudio


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


# --- Windows and macOS sound systems, as sounddevice lists them there (tests/fixtures/audio) ----


def test_windows_lists_each_microphone_once_the_wasapi_copy() -> None:
    sd = RecordedPortAudio("windows11_wasapi_mme.json")
    inputs = devices.list_inputs(sd)  # type: ignore[arg-type]
    assert [(d.index, d.name) for d in inputs] == [
        (11, "Headset Microphone (Jabra Evolve2 40)"),
        (12, "Microphone Array (Realtek(R) Audio)"),
    ]
    assert {d.host_api for d in inputs} == {"Windows WASAPI"}


def test_windows_default_is_the_wasapi_copy_of_the_default_microphone() -> None:
    sd = RecordedPortAudio("windows11_wasapi_mme.json")
    # PortAudio's own default input is MME's copy, named "Headset Microphone (Jabra Evolv".
    assert sd.default.device[0] == 1
    chosen = devices.choose(devices.list_inputs(sd), None)  # type: ignore[arg-type]
    assert chosen is not None
    assert (chosen.index, chosen.name) == (11, "Headset Microphone (Jabra Evolve2 40)")
    assert chosen.kind == "usb_headset"
    assert devices.choose(devices.list_inputs(sd), "realtek").index == 12  # type: ignore[arg-type,union-attr]


def test_windows_opens_at_the_mix_format_rate_first() -> None:
    sd = RecordedPortAudio("windows11_wasapi_mme.json")
    headset = devices.choose(devices.list_inputs(sd), None)  # type: ignore[arg-type]
    assert headset is not None
    assert devices.capture_settings(sd, headset) == (16000, 1)  # type: ignore[arg-type]
    assert sd.tried == [(11, 1, 16000)]


def test_macos_lists_core_audio_and_opens_at_the_device_rate_first() -> None:
    sd = RecordedPortAudio("macos14_coreaudio.json")
    inputs = devices.list_inputs(sd)  # type: ignore[arg-type]
    assert [d.name for d in inputs] == [
        "MacBook Pro Microphone",
        "AirPods Pro",
        "Scarlett 2i2 USB",
        "Microsoft Teams Audio",
    ]
    default = devices.choose(inputs, None)
    assert default is not None and default.name == "Scarlett 2i2 USB"
    # Core Audio would accept 48 kHz from both and resample; their own rates come first.
    assert devices.capture_settings(sd, default) == (44100, 1)  # type: ignore[arg-type]
    airpods = devices.choose(inputs, "airpods")
    assert airpods is not None
    assert devices.capture_settings(sd, airpods) == (24000, 1)  # type: ignore[arg-type]


# What PortAudio raises on macOS when the microphone privacy setting refuses the app: Core Audio's
# kAudioComponentErr_NotPermitted (-66748) comes out as paInternalError (PortAudio#514, #520).
MACOS_DENIED = ("Error opening InputStream: Internal PortAudio error", -9986)


def test_macos_permission_refusal_gives_the_macos_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    sd = RecordedPortAudio("macos14_coreaudio.json", open_error=PortAudioError(*MACOS_DENIED))
    monkeypatch.setattr(devices, "load_sounddevice", lambda: sd)
    context = ProbeContext(options=ProbeOptions(speech=False))
    result = AudioProbe(room_seconds=1.0).run(context)
    assert result.reason is not None
    assert "not allowed to use the microphone" in result.reason
    assert "System Settings > Privacy & Security > Microphone" in result.reason
    assert "Windows" not in result.reason and "Linux" not in result.reason


def test_macos_silence_names_the_privacy_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    # macOS 14 may instead open the stream and hand out exact zeros (python-sounddevice #267).
    sd = RecordedPortAudio("macos14_coreaudio.json", signal=np.zeros(48000 * 6))
    monkeypatch.setattr(devices, "load_sounddevice", lambda: sd)
    context = ProbeContext(options=ProbeOptions(speech=False))
    result = AudioProbe(room_seconds=1.0).run(context)
    live = result.measurement("audio.input_live")
    assert live is not None and live.value is False, (result.reason, result.unmeasured)
    assert "System Settings > Privacy & Security > Microphone" in live.method
