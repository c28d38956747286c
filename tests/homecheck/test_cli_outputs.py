"""Where the report goes: real `homecheck` subprocesses with real encodings (cp1252 and cp437, as
a redirected stdout or an old console on Windows), real write failures (a file size limit, a
read-only file system) and real symlinks; never a mock of the file system.

Reliability review §3, §4, §10; platforms review §3."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest

from homecheck.cli import main
from reports import OutputFormat, render
from tests.support import canned
from tests.support.environment import need

ROOT = Path(__file__).resolve().parents[2]
HOMECHECK = [sys.executable, "-m", "homecheck"]
# An employer's profile named in a script cp1252 does not have: it reaches the table and the JSON.
PROFILE = 'name = "サポート ✔"\n[requirements."system.ram_total_gb"]\nmin = 0.001\nadvice = "x"\n'


def run(
    args: list[str], tmp_path: Path, *, encoding: str | None = None, stdout: IO[bytes] | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONUTF8", None)
    if encoding:
        env["PYTHONIOENCODING"] = encoding
    log = ["--log-file", str(tmp_path / "run.log")] if args[0] == "run" else []
    return subprocess.run(
        [*HOMECHECK, *args, *log],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        timeout=60,
        check=False,
    )


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "support.toml"
    path.write_text(PROFILE, encoding="utf-8")
    return path


def test_cp1252_stdout_redirected_to_a_file_gets_valid_utf8_json(
    tmp_path: Path, profile: Path
) -> None:
    """`PYTHONIOENCODING=cp1252 homecheck run --only system --json - > out` (Windows, redirected)."""
    out = tmp_path / "out"
    with out.open("wb") as file:
        done = run(
            ["run", "--only", "system", "--quiet", "--profile", str(profile), "--json", "-"],
            tmp_path,
            encoding="cp1252",
            stdout=file,
        )
    assert done.returncode in (0, 1, 2), done.stderr
    assert b"Traceback" not in done.stderr
    data = json.loads(out.read_bytes().decode("utf-8"))  # UTF-8, as RFC 8259 and `report` want
    assert data["profile"]["name"] == "サポート ✔"
    assert b"Overall:" in done.stderr  # the table went to stderr, readable in cp1252


@pytest.mark.parametrize("encoding", ["cp1252", "cp437"])
def test_a_code_page_without_the_icons_gets_an_ascii_table_and_the_files(
    tmp_path: Path, profile: Path, encoding: str
) -> None:
    page, saved = tmp_path / "r.html", tmp_path / "r.json"
    done = run(
        [
            "run",
            "--only",
            "system",
            "--quiet",
            "--profile",
            str(profile),
            *("--json", str(saved), "--html", str(page)),
        ],
        tmp_path,
        encoding=encoding,
    )  # stdout is a pipe, as in `homecheck run | more`
    assert done.returncode in (0, 1, 2), done.stderr
    assert b"Traceback" not in done.stderr
    table = done.stdout.decode(encoding)
    assert "+ PASS" in table and "Overall: + READY" in table  # the words stay, in ASCII
    assert "+---" in table  # an ASCII box
    assert "\\u30b5" in table  # the profile's name, escaped where the code page has no glyph
    assert json.loads(saved.read_text(encoding="utf-8"))["overall"]["verdict"] == "pass"
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_unicode_terminal_keeps_its_icons(tmp_path: Path, profile: Path) -> None:
    done = run(
        ["run", "--only", "system", "--quiet", "--profile", str(profile)],
        tmp_path,
        encoding="utf-8",
    )
    assert "✔ PASS" in done.stdout.decode("utf-8") and "┏" in done.stdout.decode("utf-8")


def test_a_failed_write_keeps_the_previous_report_and_writes_the_others(tmp_path: Path) -> None:
    """A file size limit (RLIMIT_FSIZE) makes the kernel refuse the JSON and HTML (~30 and ~40 KB)
    past 16 KB, like a full disk; the Markdown (~5 KB) fits."""
    saved, page, summary = tmp_path / "r.json", tmp_path / "r.html", tmp_path / "r.md"
    previous = render(canned.system_only_report(), OutputFormat.JSON)
    saved.write_text(previous, encoding="utf-8")

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_000, 16_000))

    done = subprocess.run(
        [
            *HOMECHECK,
            "run",
            "--only",
            "system",
            "--quiet",
            "--log-file",
            str(tmp_path / "l"),
            *("--json", str(saved), "--html", str(page), "--markdown", str(summary)),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=limit_file_size,
    )
    assert done.returncode == 2, done.stderr  # a file could not be written
    assert "Traceback" not in done.stderr
    assert "--json" in done.stderr and "File too large" in done.stderr
    assert "--html" in done.stderr
    assert saved.read_text(encoding="utf-8") == previous  # the previous report, intact
    assert not page.exists()
    assert "## homecheck:" in summary.read_text(encoding="utf-8")  # the others were written
    assert "Overall:" in done.stdout  # and the table shown
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l", "r.json", "r.md"]  # no temp left


def test_a_read_only_folder_is_refused_before_measuring(tmp_path: Path) -> None:
    need(os.geteuid() == 0, "mounting a read-only tmpfs needs root")
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)], check=False
    )
    need(mounted.returncode == 0, "mount -t tmpfs is not allowed here")
    try:
        done = run(
            [
                "run",
                "--only",
                "system",
                "--quiet",
                "--json",
                str(folder / "r.json"),
                *("--html", str(tmp_path / "ok.html")),
            ],
            tmp_path,
        )
    finally:
        subprocess.run(["umount", str(folder)], check=True)
    assert done.returncode == 2
    err = done.stderr.decode()
    assert err.startswith("homecheck: error: --json") and "Read-only file system" in err
    assert "Overall:" not in done.stdout.decode()  # refused before measuring


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("homecheck: error: "), err
    return err


def test_an_output_never_overwrites_an_input_or_another_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = tmp_path / "r.json"
    saved.write_text(render(canned.full_report(), OutputFormat.JSON), encoding="utf-8")
    before = saved.read_bytes()
    mine = tmp_path / "mine.toml"
    mine.write_text(PROFILE, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.html").symlink_to(tmp_path / "r.html")
    (tmp_path / "hard.json").hardlink_to(saved)
    monkeypatch.chdir(tmp_path)

    assert "the report input" in _error(capsys, ["report", str(saved), "--html", str(saved)])
    assert "report input" in _error(capsys, ["report", "r.json", "--markdown", "sub/../r.json"])
    assert "report input" in _error(capsys, ["report", "r.json", "--html", "hard.json"])
    assert "--profile input" in _error(
        capsys, ["run", "--profile", "mine.toml", "--json", str(mine)]
    )
    assert "--json output" in _error(
        capsys, ["run", "--profile", "chat", "--json", "r.html", "--html", "link.html"]
    )
    assert "--log-file" in _error(
        capsys, ["run", "--profile", "chat", "--json", "x.log", "--log-file", "./x.log"]
    )
    assert saved.read_bytes() == before and mine.read_text(encoding="utf-8") == PROFILE


def test_a_symlinked_output_is_written_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "r.json"
    saved.write_text(render(canned.full_report(), OutputFormat.JSON), encoding="utf-8")
    real = tmp_path / "real.md"
    real.write_text("old", encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "link.md"
    link.symlink_to(real)
    assert main(["report", str(saved), "--markdown", str(link)]) == 0
    assert link.is_symlink() and "## homecheck:" in real.read_text(encoding="utf-8")
    assert real.stat().st_mode & 0o777 == 0o640  # the replaced report keeps its permissions
    assert main(["report", str(saved), "--markdown", os.devnull]) == 0  # a device stays one
    assert Path(os.devnull).is_char_device()
