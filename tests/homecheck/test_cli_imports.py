"""What the command loads: `--help` none of the probes' dependencies, and `serve` in an install
without the `serve` extra one line saying what to install. Each runs in a fresh interpreter, where
the extra's modules are made unimportable as they are in the candidate's install."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "psutil", "speedtest", "sounddevice", "starlette", "hypercorn")

# A finder that refuses the server stack, as a plain `pip install homecheck` leaves it.
WITHOUT_EXTRA = """
import importlib.abc, sys
class NoServerStack(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"starlette", "hypercorn"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NoServerStack())
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_help_loads_no_probe_dependency() -> None:
    done = _python(
        "import sys, json\n"
        "from homecheck.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "try:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} "
        "or m.startswith('probes'))))"
    )
    assert done.returncode == 0, done.stderr
    assert "--only AREA" in done.stdout
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_serve_without_the_extra_says_what_to_install() -> None:
    done = _python(
        WITHOUT_EXTRA + "from homecheck.cli import main\nraise SystemExit(main(['serve']))"
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "pip install 'homecheck[serve]'" in line


def test_the_candidate_tool_runs_without_the_extra() -> None:
    done = _python(
        WITHOUT_EXTRA + "from homecheck.cli import main\nraise SystemExit(main(['profiles']))"
    )
    assert done.returncode == 0, done.stderr
    assert "voice" in done.stdout
