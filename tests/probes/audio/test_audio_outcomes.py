"""What a person sees when the microphone cannot be measured, through the real command line.

Each case runs `python -m homecheck` in a subprocess whose environment really lacks the thing:
no sound server and no sound card (no input device), or a dynamic-linker cache without
PortAudio in a private mount namespace (sounddevice's `find_library` fails exactly as on a
machine where libportaudio2 is not installed).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from labs.audio import signals
from labs.audio.virtual_mic import VirtualMic
from reports import json_report
from tests.support.environment import need

pytestmark = pytest.mark.audio

AUDIO_METRICS = ("audio.input_present", "audio.noise_floor_dbfs", "audio.speech_snr_db")


def homecheck(
    *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "homecheck", *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=120,
        check=False,
    )


def valid_report(text: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(text)
    jsonschema.validate(data, json_report.schema(), format_checker=jsonschema.FormatChecker())
    json_report.loads(text)  # and it reads back
    return data


def findings(report: dict[str, object]) -> dict[str, dict[str, object]]:
    return {f["metric"]: f for f in report["findings"]}  # type: ignore[attr-defined,index]


def audio_result(report: dict[str, object]) -> dict[str, object]:
    return next(p for p in report["probes"] if p["name"] == "audio")  # type: ignore[attr-defined,index]


def no_sound_env(tmp_path: Path) -> dict[str, str]:
    """No sound server to reach (its socket does not exist) and, on this machine, no card."""
    need(
        not any(Path("/dev/snd").glob("pcmC*c")),
        "this machine has a real sound card with a microphone",
    )
    return {
        **os.environ,
        "PULSE_SERVER": f"unix:{tmp_path / 'no-server'}",
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(tmp_path),
    }


def test_no_input_device_fails_microphone_present_with_advice(tmp_path: Path) -> None:
    done = homecheck(
        "run", "--only", "audio", "--no-speech", "--json", "-", env=no_sound_env(tmp_path)
    )
    assert "Traceback" not in done.stderr
    report = valid_report(done.stdout)
    result = audio_result(report)
    present = next(m for m in result["measurements"] if m["metric"] == "audio.input_present")  # type: ignore[attr-defined]
    assert present["value"] is False
    line = findings(report)["audio.input_present"]
    assert line["verdict"] == "fail"
    assert "Plug in a headset" in str(line["advice"])
    assert done.returncode == 1  # not ready


def test_devices_without_a_microphone_says_so(tmp_path: Path) -> None:
    done = homecheck("devices", env=no_sound_env(tmp_path))
    assert done.returncode == 1
    assert "No microphone" in done.stdout
    assert done.stderr == ""


@pytest.fixture
def without_portaudio(tmp_path: Path) -> tuple[str, ...]:
    """A command prefix that runs a process in a mount namespace where the linker's cache
    (/etc/ld.so.cache, what ctypes.util.find_library reads) has no PortAudio in it."""
    need(
        os.geteuid() == 0 and shutil.which("unshare") is not None,
        "needs root and unshare (mount namespace)",
    )
    empty = tmp_path / "ld.so.cache"
    empty.write_bytes(b"")
    script = f'mount --bind {empty} /etc/ld.so.cache && exec "$@"'
    prefix = ("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh")
    probe = subprocess.run(
        [
            *prefix,
            sys.executable,
            "-c",
            "import ctypes.util as u; print(u.find_library('portaudio'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    need(probe.stdout.strip() == "None", f"cannot hide PortAudio: {probe.stdout}{probe.stderr}")
    return prefix


def test_no_portaudio_is_not_measured_with_the_fix(without_portaudio: tuple[str, ...]) -> None:
    done = homecheck(
        "run", "--only", "audio", "--no-speech", "--json", "-", prefix=without_portaudio
    )
    assert "Traceback" not in done.stderr
    report = valid_report(done.stdout)
    reason = str(audio_result(report)["reason"])
    assert "PortAudio" in reason and "libportaudio2" in reason
    lines = findings(report)
    for metric in AUDIO_METRICS:
        assert lines[metric]["verdict"] == "not_measured"
    assert "libportaudio2" in str(lines["audio.input_present"]["reason"])
    assert done.returncode == 2  # incomplete


def test_no_portaudio_leaves_the_other_checks_working(without_portaudio: tuple[str, ...]) -> None:
    done = homecheck("run", "--only", "system", "--json", "-", prefix=without_portaudio)
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout)["probes"][0]["reason"] is None
    listing = homecheck("devices", prefix=without_portaudio)
    assert listing.returncode == 2
    assert listing.stderr.count("\n") == 1 and "libportaudio2" in listing.stderr


def test_bad_mic_is_one_line_and_exit_2(virtual_mic: VirtualMic) -> None:
    done = homecheck("run", "--only", "audio", "--mic", "no-such-mic", env=virtual_mic.env)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "--mic no-such-mic: no such microphone" in done.stderr
    assert "'default'" in done.stderr  # the choices are listed


def test_report_of_a_run_on_the_virtual_microphone(virtual_mic: VirtualMic) -> None:
    with virtual_mic.play(signals.pink(15.0, -45.0)):
        done = homecheck(
            "run", "--only", "audio", "--no-speech", "--json", "-", env=virtual_mic.env
        )
    report = valid_report(done.stdout)
    assert socket.gethostname() not in done.stdout
    assert not re.search(rf"\b{re.escape(getpass.getuser())}\b", done.stdout)
    result = audio_result(report)
    assert result["reason"] is None
    series = {s["name"]: s for s in result["series"]}  # type: ignore[attr-defined]
    assert series["level_dbfs"]["x_unit"] == "s" and len(series["level_dbfs"]["points"]) == 50
    assert series["spectrum_dbfs"]["x_unit"] == "Hz"
    lines = findings(report)
    assert lines["audio.input_present"]["verdict"] == "pass"
    assert lines["audio.noise_floor_dbfs"]["verdict"] == "warn"  # -45 dBFS: over the -50 ideal
    assert lines["audio.speech_snr_db"]["verdict"] == "not_measured"
    assert done.returncode == 2  # the required speech line was skipped: incomplete


def test_devices_lists_the_virtual_microphone(virtual_mic: VirtualMic) -> None:
    done = homecheck("devices", env=virtual_mic.env)
    assert done.returncode == 0, done.stderr
    assert "default" in done.stdout and "48000 Hz" in done.stdout
    assert any(line.startswith("*") for line in done.stdout.splitlines())


def test_full_run_by_index_keeps_no_audio_file(virtual_mic: VirtualMic, tmp_path: Path) -> None:
    """The recording stays in memory: the run's home, temp and working folders stay empty, and
    no file but /dev/null is opened for writing by Python code while it runs (audit hook,
    PEP 578)."""
    home, temp, work = (tmp_path / name for name in ("home", "tmp", "work"))
    for folder in (home, temp, work):
        folder.mkdir()
    env = {**virtual_mic.env, "HOME": str(home), "TMPDIR": str(temp)}
    driver = (
        "import sys, json\n"
        "writes = []\n"
        "def hook(event, args):\n"
        "    if event == 'open' and isinstance(args[0], str) and args[0] != '/dev/null' and (\n"
        "        'w' in str(args[1]) or 'a' in str(args[1]) or (args[2] or 0) & 0o3):\n"
        "        writes.append(args[0])\n"
        "sys.addaudithook(hook)\n"
        "from homecheck.probe import ProbeContext, ProbeOptions\n"
        "from probes.audio import AudioProbe\n"
        "r = AudioProbe(room_seconds=1.0).run(ProbeContext(options=ProbeOptions(mic='1')))\n"
        "print(json.dumps({'writes': writes, 'live': r.measurement('audio.input_live').value}))\n"
    )
    with virtual_mic.play(signals.white(10.0, -40.0)):
        done = subprocess.run(
            [sys.executable, "-c", driver],
            cwd=work,
            env={**env, "PYTHONPATH": os.getcwd()},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["live"] is True
    assert outcome["writes"] == []
    left = {p for folder in (home, temp, work) for p in folder.rglob("*") if p.is_file()}
    # libpulse (the sound server's client library) keeps its 256-byte login cookie in HOME.
    cookie = home / ".config" / "pulse" / "cookie"
    assert left <= {cookie}
    assert all(p.stat().st_size <= 256 for p in left)
