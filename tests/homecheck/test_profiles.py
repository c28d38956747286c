"""Profiles: the built-ins load, and every kind of mistake is one clear line naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from homecheck import profiles, registry
from homecheck.metrics import BY_ID, Kind
from homecheck.model import Level


@pytest.mark.parametrize("name", profiles.BUILTIN)
def test_builtin_profiles_load(name: str) -> None:
    profile = profiles.load(name)
    assert profile.name == name
    assert profile.source == f"builtin:{name}"
    assert len(profile.sha256) == 64
    assert profile.requirements
    for req in profile.requirements:
        assert req.metric in BY_ID
        assert req.advice.strip()


@pytest.mark.parametrize("name", profiles.BUILTIN)
def test_every_builtin_limit_cites_a_source(name: str) -> None:
    # Each number in a built-in profile carries a comment naming its source tag, e.g. [TEAMS].
    for line in profiles.builtin_path(name).read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if key in {"min", "max", "warn_min", "warn_max"}:
            assert "#" in line and "[" in line.split("#", 1)[1], f"{name}: no source on {line!r}"


def test_voice_is_the_default_and_stricter_than_chat() -> None:
    voice, chat = profiles.load("voice"), profiles.load("chat")
    assert profiles.DEFAULT == "voice"
    voice_metrics = {r.metric for r in voice.requirements}
    assert "audio.input_present" in voice_metrics
    assert "audio.input_present" not in {r.metric for r in chat.requirements}
    levels = {r.metric: r.level for r in voice.requirements}
    assert levels["network.connection"] is Level.RECOMMENDED


GOOD = b"""
name = "acme"
description = "ACME voice"
[requirements."network.download_mbps"]
min = 20
advice = "faster"
"""


def test_a_custom_file_loads_and_reports_only_its_file_name(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_bytes(GOOD)
    profile = profiles.load(str(path))
    assert profile.name == "acme"
    assert profile.source == "acme.toml"  # no directory: it could hold a user name
    assert profile.requirements[0].min == 20.0
    assert profile.requirements[0].label == BY_ID["network.download_mbps"].label


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('name = "x"\n[requirements', "TOML syntax error"),
        ('[requirements."network.download_mbps"]\nmin = 1\nadvice = "a"', "name: missing"),
        (
            'name = ""\n[requirements."network.download_mbps"]\nmin = 1\nadvice = "a"',
            "name: must be",
        ),
        ('name = "x"\ncolour = "red"', "colour: unknown key"),
        ('name = "x"', "requirements: a profile needs at least one requirement"),
        (
            'name = "x"\n[requirements."network.speed"]\nmin = 1\nadvice = "a"',
            """requirements."network.speed": unknown metric 'network.speed'""",
        ),
        (
            'name = "x"\n[requirements."network.download_mbps"]\nmin = 50\nmax = 10\nadvice = "a"',
            """requirements."network.download_mbps": min (50) is greater than max (10)""",
        ),
        (
            'name = "x"\n[requirements."network.download_mbps"]\nmin = "ten"\nadvice = "a"',
            """requirements."network.download_mbps".min: must be a number, got 'ten'""",
        ),
        (
            'name = "x"\n[requirements."network.download_mbps"]\nmin = true\nadvice = "a"',
            """requirements."network.download_mbps".min: must be a number""",
        ),
        (
            'name = "x"\n[requirements."network.download_mbps"]\nmin = 1\nlevel = "nice"\nadvice = "a"',
            """requirements."network.download_mbps".level: must be 'required' or 'recommended'""",
        ),
        (
            'name = "x"\n[requirements."network.download_mbps"]\nmin = 1',
            """requirements."network.download_mbps".advice: missing""",
        ),
        (
            'name = "x"\n[requirements."network.download_mbps"]\nmin = 1\nadvise = "a"\nadvice = "a"',
            """requirements."network.download_mbps".advise: unknown key""",
        ),
        (
            'name = "x"\n[requirements."network.download_mbps"]\nadvice = "a"',
            "give at least one of min, max",
        ),
        (
            'name = "x"\n[requirements."network.download_mbps"]\nallowed = [1]\nadvice = "a"',
            ".allowed: must be a list of true/false or text values",
        ),
        (
            'name = "x"\n[requirements."network.udp_ok"]\nmin = 1\nadvice = "a"',
            """requirements."network.udp_ok".min: this metric is a flag: use allowed""",
        ),
        (
            'name = "x"\n[requirements."network.udp_ok"]\nallowed = ["yes"]\nadvice = "a"',
            ".allowed: values must be true/false",
        ),
        (
            'name = "x"\n[requirements."network.connection"]\nallowed = [true]\nadvice = "a"',
            ".allowed: values must be text",
        ),
        (
            'name = "x"\n[requirements."network.download_mbps"]\nmin = 10\nwarn_min = 5\nadvice = "a"',
            ".warn_min: (5) is below min (10)",
        ),
        (
            'name = "x"\n[requirements."network.latency_ms"]\nmax = 100\nwarn_max = 150\nadvice = "a"',
            ".warn_max: (150) is above max (100)",
        ),
        # D4: a category value outside the catalogue's closed set is a typo, not a requirement.
        (
            'name = "x"\n[requirements."network.connection"]\nallowed = ["wird"]\nadvice = "a"',
            """requirements."network.connection".allowed: unknown value 'wird' (known: wired, """,
        ),
        (
            'name = "x"\n[requirements."network.connection"]\nallowed = ["wired", "Wifi"]\n'
            'advice = "a"',
            """requirements."network.connection".allowed: unknown value 'Wifi'""",
        ),
        (
            'name = "x"\n[requirements."audio.headset"]\nallowed = ["USB headset"]\nadvice = "a"',
            """requirements."audio.headset".allowed: unknown value 'USB headset' (known: usb_""",
        ),
        # TOML has nan and inf; no limit compares sensibly with them.
        (
            'name = "x"\n[requirements."network.download_mbps"]\nmin = nan\nadvice = "a"',
            """requirements."network.download_mbps".min: must be a finite number, got nan""",
        ),
        (
            'name = "x"\n[requirements."network.latency_ms"]\nmax = inf\nadvice = "a"',
            """requirements."network.latency_ms".max: must be a finite number, got inf""",
        ),
        (
            'name = "x"\n[requirements."network.latency_ms"]\nmax = 100\nwarn_max = -inf\n'
            'advice = "a"',
            """requirements."network.latency_ms".warn_max: must be a finite number, got -inf""",
        ),
        # A limit of the wrong kind.
        (
            'name = "x"\n[requirements."network.latency_ms"]\nmax = "100 ms"\nadvice = "a"',
            """requirements."network.latency_ms".max: must be a number, got '100 ms'""",
        ),
        (
            'name = "x"\n[requirements."network.latency_ms"]\nallowed = [true]\nadvice = "a"',
            """requirements."network.latency_ms".allowed: this metric is a number""",
        ),
        (
            'name = "x"\n[requirements."system.on_battery"]\nmax = 0\nadvice = "a"',
            """requirements."system.on_battery".max: this metric is a flag: use allowed""",
        ),
        (
            'name = "x"\n[requirements."audio.headset"]\nallowed = [true]\nadvice = "a"',
            """requirements."audio.headset".allowed: values must be text""",
        ),
        (
            'name = "x"\n[requirements."system.os"]\nallowed = ["Windows 11"]\nadvice = "a"',
            """requirements."system.os": this metric is free text""",
        ),
        ('name = "x"\nrequirements = 3', "requirements: a profile needs at least one requirement"),
        ('name = "x"\n[requirements]\n"network.download_mbps" = 3', "must be a table of limits"),
    ],
)
def test_profile_errors_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(profiles.ProfileError) as caught:
        profiles.load(str(path))
    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_missing_file_and_binary_file(tmp_path: Path) -> None:
    with pytest.raises(profiles.ProfileError, match="no such profile file"):
        profiles.load(str(tmp_path / "nope.toml"))
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(profiles.ProfileError, match="not UTF-8"):
        profiles.load(str(binary))


def test_the_hash_changes_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_bytes(GOOD)
    first = profiles.load(str(path)).sha256
    path.write_bytes(GOOD.replace(b"min = 20", b"min = 21"))
    assert profiles.load(str(path)).sha256 != first


@pytest.mark.parametrize("name", profiles.BUILTIN)
def test_builtin_category_values_are_the_catalogues(name: str) -> None:
    for req in profiles.load(name).requirements:
        info = BY_ID[req.metric]
        if info.kind is Kind.CATEGORY:
            assert set(req.allowed) <= set(info.values), req.metric


@pytest.mark.parametrize("name", profiles.BUILTIN)
def test_a_description_promises_no_check_homecheck_does_not_make(name: str) -> None:
    # `--profile video` said "(camera and screen sharing)"; no probe looks at a camera
    # (reliability review §14). `homecheck probes` lists every metric there is.
    description = profiles.load(name).description.lower()
    measured = " ".join(str(m) for p in registry.all_probes() for m in p.metrics)
    for thing in ("camera", "webcam"):
        if thing in description:
            assert thing in measured or "not checked" in description, description
