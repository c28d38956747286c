"""Profiles: the built-ins load, and every kind of mistake is one clear line naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from homecheck import profiles
from homecheck.metrics import BY_ID
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
            "this metric is a flag: use allowed",
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
