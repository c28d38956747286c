"""The shared canned reports (tests/support/canned.py) as fixtures; `canned_report` runs a test
once per canned report."""

from __future__ import annotations

import pytest

from homecheck.model import Report
from tests.support import canned


@pytest.fixture
def full_report() -> Report:
    return canned.full_report()


@pytest.fixture
def system_only_report() -> Report:
    return canned.system_only_report()


@pytest.fixture
def interrupted_report() -> Report:
    return canned.interrupted_report()


@pytest.fixture
def failed_probe_report() -> Report:
    return canned.failed_probe_report()


@pytest.fixture(params=list(canned.CANNED))
def canned_report(request: pytest.FixtureRequest) -> Report:
    return canned.CANNED[request.param]()
