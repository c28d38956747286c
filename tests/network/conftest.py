"""Fixtures for the network tests: a real `homecheck serve` on 127.0.0.1, and shaped links from
the link lab (root only; in CI a lab that cannot be built fails the test, see tests/conftest.py)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from linklab import Link, LinkSpec, check_environment
from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen[str]


def start_serve(*extra: str) -> Served:
    """`homecheck serve` on 127.0.0.1 and a free port, started as a user would (the CLI)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "homecheck", "serve", "--port", "0", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:(\d+))", line)
    if not match:
        proc.kill()
        raise AssertionError(
            f"serve did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    return Served(match.group(1), int(match.group(2)), proc)


def stop_serve(served: Served) -> None:
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGINT)
        try:
            served.process.wait(5)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait(5)


@pytest.fixture
def serve_factory() -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def make(*extra: str) -> Served:
        served = start_serve(*extra)
        started.append(served)
        return served

    yield make
    for served in started:
        stop_serve(served)


@pytest.fixture(scope="module")
def loopback_server() -> Iterator[Served]:
    served = start_serve()
    yield served
    stop_serve(served)


@pytest.fixture
def lab() -> Iterator[Callable[[LinkSpec], Link]]:
    """Build links for one test; every one is torn down afterwards, pass or fail."""
    why = check_environment()
    need(why is None, why or "")
    links: list[Link] = []

    def make(spec: LinkSpec) -> Link:
        link = Link(spec)
        links.append(link)
        return link

    yield make
    for link in links:
        link.close()
