"""`homecheck report FILE --html/--markdown` and `homecheck run --html/--markdown`.

Bad report files end in one line on stderr and exit 2, never a traceback. The last test runs the
real command twice (`run --only system` measures this machine for ~3 s) as a user would.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from homecheck.cli import main
from homecheck.model import Report
from reports import OutputFormat, json_report, render
from tests.support.privacy import assert_private

ROOT = Path(__file__).resolve().parents[2]


def _saved(report: Report, tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    path.write_text(render(report, OutputFormat.JSON), encoding="utf-8")
    return path


def _error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("homecheck: error: "), err
    return err.strip()


def test_report_renders_html_and_markdown(
    full_report: Report, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = _saved(full_report, tmp_path)
    out_html, out_md = tmp_path / "r.html", tmp_path / "r.md"
    assert main(["report", str(saved), "--html", str(out_html), "--markdown", str(out_md)]) == 0
    loaded = json_report.loads(saved.read_text())
    assert out_html.read_text() == render(loaded, OutputFormat.HTML)
    assert out_md.read_text() == render(loaded, OutputFormat.MARKDOWN)
    assert "&lt;script&gt;" in out_html.read_text()  # the device name survived the round trip
    err = capsys.readouterr().err
    assert f"HTML report written to {out_html}" in err


def test_report_reads_stdin(
    full_report: Report, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(render(full_report, OutputFormat.JSON)))
    assert main(["report", "-", "--markdown", "-"]) == 0
    assert capsys.readouterr().out == render(full_report, OutputFormat.MARKDOWN)
    monkeypatch.setattr("sys.stdin", io.StringIO("{}"))
    line = _error_line(capsys, ["report", "-"])
    assert line.startswith("homecheck: error: report stdin: not a homecheck report")


def test_report_markdown_to_stdout_and_table_by_default(
    system_only_report: Report, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = _saved(system_only_report, tmp_path)
    assert main(["report", str(saved), "--markdown", "-"]) == 0
    assert capsys.readouterr().out.startswith("## homecheck: ? INCOMPLETE")
    assert main(["report", str(saved)]) == 0
    assert "Overall: ? INCOMPLETE" in capsys.readouterr().out


def _damaged(report: Report) -> dict[str, str]:
    good = json_report.to_dict(report)
    wrong_version = dict(good, schema_version=99)
    missing = {k: v for k, v in good.items() if k != "findings"}
    bad_level = json.loads(json.dumps(good))
    bad_level["profile"]["requirements"][0]["level"] = "mandatory"
    bad_probe = json.loads(json.dumps(good))
    bad_probe["probes"][0] = 5
    infinite = json.loads(json.dumps(good))
    infinite["profile"]["requirements"][0]["min"] = float("inf")  # dumped as Infinity
    return {
        "not JSON": "this is not json {",
        "wrong schema_version": json.dumps(wrong_version),
        "damaged": json.dumps(missing),
        "bad enum": json.dumps(bad_level),
        "wrong type": json.dumps(bad_probe),
        "a list": "[1, 2]",
        "empty": "",
        "Infinity": json.dumps(infinite),
    }


@pytest.mark.parametrize(
    "case",
    [
        "not JSON",
        "wrong schema_version",
        "damaged",
        "bad enum",
        "wrong type",
        "a list",
        "empty",
        "Infinity",
    ],
)
def test_bad_report_files(
    case: str, full_report: Report, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(_damaged(full_report)[case], encoding="utf-8")
    out = tmp_path / "out.html"
    line = _error_line(capsys, ["report", str(path), "--html", str(out)])
    assert f"report {path}: " in line
    assert not out.exists()  # nothing half-written


def test_a_renderer_bug_is_not_a_damaged_report(
    full_report: Report,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A valid report that a renderer fails on is a bug of homecheck: it keeps its traceback
    instead of telling the user their file is damaged."""
    saved = _saved(full_report, tmp_path)

    def broken(report: Report, fmt: OutputFormat, color: bool = False) -> str:
        return report.profile.no_such_field  # type: ignore[attr-defined, no-any-return]

    monkeypatch.setattr("homecheck.cli.render", broken)
    with pytest.raises(AttributeError, match="no_such_field"):
        main(["report", str(saved), "--markdown", str(tmp_path / "out.md")])
    assert "damaged" not in capsys.readouterr().err
    assert not (tmp_path / "out.md").exists()


def test_unreadable_report_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"
    assert _error_line(capsys, ["report", str(missing)]).endswith("no such file")
    assert _error_line(capsys, ["report", str(tmp_path)]).endswith(
        "is a folder; give the JSON file"
    )
    binary = tmp_path / "photo.json"
    binary.write_bytes(b"\xff\xd8\xff\xe0 JFIF")
    assert "not UTF-8" in _error_line(capsys, ["report", str(binary)])


def test_bad_output_paths(
    full_report: Report, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = _saved(full_report, tmp_path)
    line = _error_line(capsys, ["report", str(saved), "--html", str(tmp_path / "no" / "x.html")])
    assert "--html" in line and "does not exist" in line
    line = _error_line(capsys, ["report", str(saved), "--markdown", str(tmp_path)])
    assert "--markdown" in line and "is a folder" in line
    line = _error_line(capsys, ["report", str(saved), "--html", "-", "--markdown", "-"])
    assert "only one output can go to stdout" in line


def test_run_checks_output_paths_before_measuring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    line = _error_line(
        capsys, ["run", "--only", "system", "--html", str(tmp_path / "a" / "b.html")]
    )
    assert "--html" in line
    assert time.monotonic() - started < 1.0  # refused at once, not after a 3 s measurement


def _mutations(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in [(*path, k), *_mutations(v, (*path, k))]]
    if isinstance(data, list):
        return [p for i, v in enumerate(data[:3]) for p in [(*path, i), *_mutations(v, (*path, i))]]
    return []


def test_damaged_values_never_crash(
    interrupted_report: Report, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Replace values all over a saved report with ones of the wrong type: every case renders or
    ends in one error line (exit 2); none raises."""
    good = json_report.to_dict(interrupted_report)
    paths = _mutations(good)
    rng = random.Random(6)
    out = tmp_path / "out.html"
    path = tmp_path / "mutant.json"
    outcomes = {0: 0, 2: 0}
    for where in rng.sample(paths, 150):
        mutant = json.loads(json.dumps(good))
        node = mutant
        for key in where[:-1]:
            node = node[key]
        node[where[-1]] = rng.choice([None, 7, -1.5, True, "<b>x</b>", [], {}, [[1]], "nan"])
        path.write_text(json.dumps(mutant))
        capsys.readouterr()
        try:
            code = main(["report", str(path), "--html", str(out), "--markdown", str(out) + ".md"])
        except SystemExit as exc:
            code = exc.code
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and err.startswith("homecheck: error: report"), (where, err)
        outcomes[code] += 1
        if code == 0:
            assert "<b>x</b>" not in out.read_text()
    assert outcomes[0] and outcomes[2]  # both kinds happened: the test exercised both paths


def test_real_run_json_rerenders_as_the_same_html(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    saved, direct, again, summary = (
        tmp_path / "run.json",
        tmp_path / "run.html",
        tmp_path / "again.html",
        tmp_path / "run.md",
    )
    run = subprocess.run(
        [sys.executable, "-m", "homecheck", "run", "--only", "system", "--quiet",
         "--json", str(saved), "--html", str(direct), "--markdown", str(summary)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode in {0, 1, 2}, run.stderr  # 2: network/audio lines were left out
    assert "Traceback" not in run.stderr
    report = subprocess.run(
        [sys.executable, "-m", "homecheck", "report", str(saved), "--html", str(again)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert f"HTML report written to {again}" in report.stderr
    page = again.read_text()
    assert page == direct.read_text()  # the JSON holds everything the HTML shows
    assert page.count('class="chart"') == 1 and "CPU use while measuring" in page
    assert "## homecheck:" in summary.read_text()
    assert_private(page)
    assert_private(summary.read_text())


def test_ctrl_c_still_writes_the_html(tmp_path: Path) -> None:
    page, summary = tmp_path / "partial.html", tmp_path / "partial.md"
    proc = subprocess.Popen(
        [sys.executable, "-m", "homecheck", "run", "--only", "system",
         "--html", str(page), "--markdown", str(summary)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.stderr is not None
    assert "measuring" in proc.stderr.readline()
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    text = page.read_text()
    assert "This run was stopped before the end." in text
    assert "Cut short after" in text
    assert "The run was stopped before the end" in summary.read_text()


def test_report_brief_prints_the_verdict_and_what_to_fix(
    failed_probe_report: Report, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = _saved(failed_probe_report, tmp_path)
    assert main(["report", str(saved), "--brief"]) == 0
    out = capsys.readouterr().out
    assert "Overall: ✘ NOT READY" in out and "What to fix first:" in out
    assert "Requirement" not in out  # no table
