"""Text from a profile, a process or device name, or an edited saved report cannot steer the
reader's terminal or reorder a verdict: every renderer but JSON shows control characters and bidi
overrides escaped (reliability review §6). The hostile report goes through a real JSON file and
`homecheck report`, as an employer opening a candidate's file would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from homecheck.model import Report
from reports import OutputFormat, json_report, render
from tests.support import canned

ROOT = Path(__file__).resolve().parents[2]

CLEAR_AND_FAKE = "\x1b[2J\x1b[32mREADY\x1b[0m"  # clear the screen, print a green READY
TITLE = "\x1b]0;pwned\x07"  # set the window title
OVERWRITE = "slow\r✔ PASS"  # carriage return: "✔ PASS" printed over the start of the line
REVERSED = "\u202eSSAP"  # right-to-left override: the reader sees "PASS"
HIDDEN = "\x1b[8mhidden\x1b[0m"  # concealed text
NUL_AND_C1 = "a\x00b\x9bc"  # NUL, and CSI as one C1 byte
# Anything that could steer a terminal or the reading order, except the rich colour codes asked
# for with color=True (those are tested in test_terminal.py).
STEERING = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def hostile_report() -> Report:
    report = canned.failed_probe_report()
    first = report.findings[0]
    requirement = replace(first.requirement, label=f"lab{REVERSED}")
    profile = replace(
        report.profile,
        name=f"esc{CLEAR_AND_FAKE}",
        description=f"{TITLE}desc",
        requirements=tuple(
            requirement if r == first.requirement else r for r in report.profile.requirements
        ),
    )
    findings = list(report.findings)
    findings[0] = replace(
        first, requirement=requirement, reason=OVERWRITE, advice=f"{HIDDEN} advice {NUL_AND_C1}"
    )
    results = []
    for result in report.results:
        if result.probe == "system":
            details = dict(result.details)
            details["top_cpu"] = [{"name": f"{TITLE}{CLEAR_AND_FAKE}", "cpu_pct": 99.0}]
            result = replace(result, details=details)
        results.append(result)
    return replace(report, profile=profile, findings=tuple(findings), results=tuple(results))


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.json"
    path.write_text(render(hostile_report(), OutputFormat.JSON), encoding="utf-8")
    return path


def test_clean_escapes_steering_and_keeps_words() -> None:
    from reports.vocabulary import clean

    assert clean(CLEAR_AND_FAKE) == "\\x1b[2J\\x1b[32mREADY\\x1b[0m"
    assert clean(OVERWRITE) == "slow\\r✔ PASS"
    assert clean(REVERSED) == "\\u202eSSAP"
    assert clean("two\nlines\tand tab") == "two lines and tab"
    assert clean("Café — ✔ 日本") == "Café — ✔ 日本"  # printable text is left alone


@pytest.mark.parametrize("fmt", [OutputFormat.TERMINAL, OutputFormat.MARKDOWN, OutputFormat.HTML])
def test_every_renderer_shows_hostile_text_escaped(saved: Path, fmt: OutputFormat) -> None:
    report = json_report.loads(saved.read_text(encoding="utf-8"))
    text = render(report, fmt)
    assert not STEERING.search(text), repr(STEERING.findall(text))
    assert "x1b" in text and "u202eSSAP" in text  # shown, so a reader sees something is off


def test_json_keeps_the_data_exact(saved: Path) -> None:
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["profile"]["name"] == f"esc{CLEAR_AND_FAKE}"  # JSON escapes it itself (\u001b)
    assert "\x1b" not in saved.read_text(encoding="utf-8")


@pytest.mark.parametrize("option", [None, "--markdown"])
def test_homecheck_report_prints_no_escape_sequence(saved: Path, option: str | None) -> None:
    args = [sys.executable, "-m", "homecheck", "report", str(saved)]
    if option:
        args += [option, "-"]
    done = subprocess.run(
        args,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode("utf-8")
    assert not STEERING.search(out), repr(STEERING.findall(out))
    assert "x1b" in out  # the profile name, shown escaped
