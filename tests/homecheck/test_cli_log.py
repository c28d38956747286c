"""`homecheck run` logs an unexpected probe error's traceback to a file; the report keeps one
sentence. Runs the real CLI (`main`) with a test probe that raises, put in the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import platformdirs
import pytest

from homecheck.cli import main
from homecheck.model import ProbeResult
from homecheck.probe import ProbeContext, ProbeOptions


class _Broken:
    name: ClassVar[str] = "broken"
    title: ClassVar[str] = "Broken"
    metrics: ClassVar[tuple[str, ...]] = ("system.ram_total_gb",)
    runs = 0

    def expected_seconds(self, options: ProbeOptions) -> float:
        return 0.1

    def timeout_seconds(self, options: ProbeOptions) -> float:
        return 5.0

    def run(self, context: ProbeContext) -> ProbeResult:
        _Broken.runs += 1
        return self._parse_counters({})

    def _parse_counters(self, counters: dict[str, int]) -> ProbeResult:
        counters["rx_bytes"] += 1  # a bug: KeyError
        return ProbeResult(self.name)


@pytest.fixture(autouse=True)
def _broken_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("homecheck.registry.all_probes", lambda: (_Broken(),))
    _Broken.runs = 0
    # The default log lives in the user's cache folder, which platformdirs asks the OS for
    # (XDG_CACHE_HOME, ~/Library/Caches, the Windows known folder): the OS's answer is put here.
    _cache_folder(monkeypatch, tmp_path / "cache")


def _cache_folder(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    def user_cache_dir(appname: str, appauthor: object = None) -> str:
        return str(folder / appname)

    monkeypatch.setattr(platformdirs, "user_cache_dir", user_cache_dir)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["run", "--quiet", "--no-speech", *argv])
    return code, capsys.readouterr().err


def _one_sentence(json_path: Path) -> str:
    reason = json.loads(json_path.read_text())["probes"][0]["reason"]
    assert isinstance(reason, str) and "\n" not in reason and "Traceback" not in reason
    assert reason == "the broken check failed unexpectedly (KeyError: 'rx_bytes')"
    return reason


def _holds_the_traceback(log: Path) -> None:
    text = log.read_text()
    assert "ERROR homecheck [probe-broken] the broken probe failed unexpectedly" in text
    assert "Traceback (most recent call last)" in text
    assert "in _parse_counters" in text and "KeyError: 'rx_bytes'" in text


def test_the_log_file_holds_the_traceback_and_the_report_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, report = tmp_path / "run.log", tmp_path / "report.json"
    code, err = _run(["--log-file", str(log), "--json", str(report)], capsys)
    assert code == 2  # incomplete
    _holds_the_traceback(log)
    _one_sentence(report)
    assert f"homecheck: a check failed unexpectedly: traceback in {log}\n" in err
    assert "Traceback" not in err


def test_by_default_the_log_is_in_the_cache_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, err = _run(["--json", str(tmp_path / "report.json")], capsys)
    log = tmp_path / "cache" / "homecheck" / "homecheck.log"
    _holds_the_traceback(log)
    assert f"traceback in {log}" in err


def test_an_unwritable_default_log_never_stops_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _cache_folder(monkeypatch, blocker / "cache")  # mkdir fails, even as root
    report = tmp_path / "report.json"
    code, err = _run(["--json", str(report)], capsys)
    assert code == 2 and _Broken.runs == 1
    _one_sentence(report)
    assert "Traceback" not in err and "traceback in" not in err and "Logging error" not in err


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        ("no/such/folder/run.log", "does not exist"),
        (".", "is a folder"),
        ("/proc/homecheck-test.log", "cannot write (No such file or directory)"),
        ("-", "give a file name"),
    ],
)
def test_an_unusable_log_file_is_a_usage_error_before_measuring(
    where: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = where if where.startswith(("/", "-")) else str(tmp_path / where)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--quiet", "--log-file", path])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"homecheck: error: --log-file {path}: "), err
    assert problem in err
    assert _Broken.runs == 0  # refused before measuring
