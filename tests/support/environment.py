"""Tests that need something of the environment (root, namespaces, an audio server, a browser)
call `need(condition, reason)`: in CI (CI=true) a missing environment is a failure, elsewhere a
skip with the reason."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(condition: bool, reason: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and the test environment is missing: {reason}")
    pytest.skip(reason)
