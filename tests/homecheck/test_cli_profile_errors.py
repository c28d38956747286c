"""A bad profile stops `homecheck run` before anything is measured: one line naming the file and
the key on stderr, exit 2, no traceback (the real command, in a subprocess)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The system probe alone samples the CPU for 3 s: an exit well before that measured nothing.
MEASURING_TAKES_S = 3.0


@pytest.mark.parametrize(
    ("limits", "key", "problem"),
    [
        (
            '[requirements."network.connection"]\nallowed = ["wird"]',
            'requirements."network.connection".allowed',
            "unknown value 'wird'",
        ),
        (
            '[requirements."audio.headset"]\nallowed = ["USB headset"]',
            'requirements."audio.headset".allowed',
            "unknown value 'USB headset'",
        ),
        (
            '[requirements."network.download_mbps"]\nmin = nan',
            'requirements."network.download_mbps".min',
            "must be a finite number",
        ),
        (
            '[requirements."network.latency_ms"]\nmax = inf',
            'requirements."network.latency_ms".max',
            "must be a finite number",
        ),
        (
            '[requirements."system.on_battery"]\nmax = 1',
            'requirements."system.on_battery".max',
            "this metric is a flag",
        ),
        (
            '[requirements."system.cpu_headroom_pct"]\nmin = "thirty"',
            'requirements."system.cpu_headroom_pct".min',
            "must be a number",
        ),
        (
            '[requirements."network.connection"]\nallowed = [true]',
            'requirements."network.connection".allowed',
            "values must be text",
        ),
    ],
)
def test_a_bad_limit_is_one_line_exit_2_before_measuring(
    tmp_path: Path, limits: str, key: str, problem: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'name = "acme"\n{limits}\nadvice = "fix it"\n')
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "homecheck", "run", "--profile", str(path), "--only", "system"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"homecheck: error: {path}: {key}: ")
    assert problem in lines[0]
    assert done.stdout == ""  # no progress, no report: nothing was measured
    assert elapsed < MEASURING_TAKES_S
