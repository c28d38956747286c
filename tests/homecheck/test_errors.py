"""One exception root: every error homecheck raises for the user is a HomecheckError."""

from __future__ import annotations

import subprocess
import sys

import pytest

from homecheck.cli import main
from homecheck.errors import HomecheckError, UsageError
from homecheck.probe import ProbeError
from homecheck.profiles import ProfileError
from homecheck.server.serve import ServeError
from homecheck.server.sessions import Busy
from labs.network import LabError


@pytest.mark.parametrize("error", [UsageError, ProbeError, ProfileError, ServeError, Busy])
def test_project_errors_share_the_root(error: type[Exception]) -> None:
    assert issubclass(error, HomecheckError)


def test_the_lab_is_not_part_of_the_root() -> None:
    # Test tooling: a broken bench must never pass for a user's bad input.
    assert not issubclass(LabError, HomecheckError)


def test_errors_module_imports_no_other_part_of_homecheck() -> None:
    code = (
        "import sys, homecheck.errors; "
        "print(sorted(m for m in sys.modules if m.startswith('homecheck.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['homecheck.errors']"


def test_the_cli_shows_any_homecheck_error_as_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse() -> int:
        raise ProbeError("no microphone permission: allow it in Settings")

    monkeypatch.setattr("homecheck.cli._profiles", refuse)
    with pytest.raises(SystemExit) as exit_info:
        main(["profiles"])
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr().err
        == "homecheck: error: no microphone permission: allow it in Settings\n"
    )
