"""Fixtures shared across the suite: a real `homecheck serve` on 127.0.0.1, shaped links from the
network lab (root only), and the virtual microphone (a private PulseAudio). In CI a lab that
cannot be built fails the test (tests/support/environment.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from labs.audio.virtual_mic import VirtualMic, tools_missing
from labs.network import Link, LinkSpec, check_environment
from labs.postgres import PostgresUnavailable, TempPostgres
from tests.support.environment import need
from tests.support.serve import Served, start_serve, stop_serve

# `make test` runs the suite in two passes (Makefile): the tests below, whose figures are checked
# against a shaped link, iperf3, a signal of known level or the CPU's load, one after another on a
# machine left to them (marked `serial`); then the rest on pytest-xdist workers, as most of them
# wait on sockets and processes, not on the CPU. Run side by side, a virtual microphone starved of
# CPU drops samples and a link lab's relay adds delay: their figures would be the machine's.
SERIAL = (
    "tests/probes/",
    "tests/homecheck/test_catalogue_contract.py",
    "tests/homecheck/hub/test_lab_flow.py",  # the server's own figures against a shaped link
)
# Under tests/probes/ but checking what happens (which service measured, each reason, the 30 s
# bound), its figures only to within 15 % of the set rate: it keeps those on a busy machine.
NOT_SERIAL = ("tests/probes/network/public/test_failover.py",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SERIAL) and not item.nodeid.startswith(NOT_SERIAL):
            item.add_marker(pytest.mark.serial)


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
    # Shared by a module's tests, which all come from 127.0.0.1 and leave sessions open: the
    # per-address limit (2) is tested with a server of its own.
    served = start_serve("--max-tests-per-client", "100")
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


@pytest.fixture(scope="session")
def postgres() -> Iterator[TempPostgres]:
    """One PostgreSQL server (Debian's binaries, initdb + pg_ctl in a temporary folder) for the
    whole run of the hub's and the dashboard's tests; each test takes a fresh database of it."""
    try:
        server = TempPostgres.start()
    except PostgresUnavailable as exc:
        need(False, str(exc))
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def virtual_mic_server() -> Iterator[VirtualMic]:
    """A private PulseAudio with a null sink, started once (~0.3 s) and stopped at the end."""
    missing = tools_missing()
    need(not missing, f"PulseAudio tools missing: {', '.join(missing)} (make test-debs)")
    mic = VirtualMic()
    try:
        mic.start()
    except (OSError, RuntimeError) as exc:
        mic.stop()
        need(False, f"cannot start the virtual microphone: {exc}")
    try:
        yield mic
    finally:
        mic.stop()


@pytest.fixture
def virtual_mic(virtual_mic_server: VirtualMic) -> Iterator[VirtualMic]:
    """The virtual microphone as this process's default microphone, for one test only (so other
    tests' subprocesses never inherit it)."""
    with virtual_mic_server.in_this_process():
        yield virtual_mic_server
