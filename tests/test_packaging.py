"""The wheel a user installs (pip, pipx, uv) holds every package and data file of the checkout,
and nothing of the repository's labs, tests or benchmarks; the candidate's install pulls no server
dependency. An editable install hides a missing package, so this builds the real wheel."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("homecheck", "probes", "reports")
NOT_SOURCE = (".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache")
SERVER_ONLY = {
    "starlette",
    "hypercorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "argon2-cffi",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("dist")
    # From a copy of the checkout: setuptools builds in the source's build/ folder, which another
    # pytest-xdist worker (or a developer's own build) may be using at the same time.
    source = tmp_path_factory.mktemp("source") / "homecheck"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("homecheck-*.whl")
    return zipfile.ZipFile(built)


def _source_files(top: str, pattern: str) -> set[str]:
    tracked = subprocess.run(
        ["git", "ls-files", top], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return {name for name in tracked if Path(name).match(pattern)}


def test_every_package_of_the_checkout_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    members = set(wheel.namelist())
    for top in SHIPPED:
        for init in _source_files(top, "*.py"):
            assert init in members, f"{init} is missing from the wheel"


@pytest.mark.parametrize(
    ("top", "pattern"),
    [
        ("homecheck", "*.toml"),
        ("homecheck", "*.mako"),  # Alembic's template, beside the migrations the server applies
        ("reports", "*.json"),
        ("reports", "*.j2"),
        ("reports", "*.css"),
        ("homecheck", "*.html.j2"),  # the dashboard's templates
        ("homecheck", "*.css"),  # and its stylesheet
        ("homecheck", "*.js"),  # and the invites page's copy button
    ],
)
def test_data_files_are_in_the_wheel(wheel: zipfile.ZipFile, top: str, pattern: str) -> None:
    wanted = _source_files(top, pattern)
    assert wanted, f"no {pattern} under {top}/"
    assert wanted <= set(wheel.namelist())


def test_labs_tests_and_benchmarks_stay_out(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert tops - {f"{t}" for t in SHIPPED} == {n for n in tops if n.endswith(".dist-info")}


def test_the_server_stack_comes_only_with_the_serve_extra(wheel: zipfile.ZipFile) -> None:
    (meta,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    message = email.message_from_bytes(wheel.read(meta))
    requires = message.get_all("Requires-Dist") or []
    base = {r.split(";")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower()
            for r in requires if "extra ==" not in r}  # fmt: skip
    serve = {r.split(">")[0].split("<")[0].strip().lower() for r in requires if "'serve'" in r
             or '"serve"' in r}  # fmt: skip
    assert not base & SERVER_ONLY, base
    assert {name.split("[")[0] for name in serve} >= SERVER_ONLY
    assert "serve" in (message.get_all("Provides-Extra") or [])
