"""Fixtures shared across the suite: a real `homecheck serve` on 127.0.0.1 and shaped links from
the network lab (root only; in CI a lab that cannot be built fails the test, see
tests/support/environment.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from labs.network import Link, LinkSpec, check_environment
from tests.support.environment import need
from tests.support.serve import Served, start_serve, stop_serve


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
