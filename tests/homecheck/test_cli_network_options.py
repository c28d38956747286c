"""Bad network options (`--server`, `--duration`, `--public-backend`) are usage errors: one line,
exit 2, before anything is measured."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = [sys.executable, "-m", "homecheck", "run", "--only", "network", "--quiet"]
RUN += ["--dns-names", "localhost"]  # were it to measure: no name lookup off this machine


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("", "the address is empty"),
        ("   ", "the address is empty"),
        ("http://[::1", "IPv6 address goes in brackets"),  # bracket never closed
        ("http://::1:8765", "IPv6 address goes in brackets"),
        ("fd00::2", "IPv6 address goes in brackets"),
        ("http://[::1]:99999", "a number from 1 to 65535"),
        ("http://127.0.0.1:0", "a number from 1 to 65535"),
        ("http://127.0.0.1:http", "a number from 1 to 65535"),
        ("ftp://127.0.0.1", "only http:// and https://"),
        ("http://:8765", "no host name"),
        ("http://my server", "not a valid address"),
    ],
)
def test_a_bad_server_address_is_one_line_before_measuring(address: str, says: str) -> None:
    began = time.monotonic()
    done = subprocess.run(
        [*RUN, "--server", address],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("homecheck: error: --server: ") and says in line
    assert done.stdout == ""  # no report: nothing was measured
    assert time.monotonic() - began < 10


@pytest.mark.parametrize("seconds", ["1", "9.5"])
def test_a_duration_shorter_than_one_window_is_refused(seconds: str) -> None:
    # A "worst 10 s window" needs a 10 s window; a shorter run would report one from 1 s.
    done = subprocess.run(
        [*RUN, "--server", "http://127.0.0.1:9", "--duration", seconds],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--duration: must be between 10 and 3600 seconds" in done.stderr
    assert done.stdout == ""


def test_an_unknown_public_backend_is_refused_before_measuring() -> None:
    done = subprocess.run(
        [*RUN, "--public-backend", "mlab"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--public-backend: 'mlab' is not one of speedtest, cloudflare, auto" in done.stderr
    assert done.stdout == ""


def test_a_public_backend_with_a_server_is_a_usage_error() -> None:
    # --server measures against the employer: no public service would be contacted.
    done = subprocess.run(
        [*RUN, "--server", "http://127.0.0.1:9", "--public-backend", "cloudflare"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line == (
        "homecheck: error: --public-backend chooses a public speed test, used only without --server"
    )
    assert done.stdout == ""
