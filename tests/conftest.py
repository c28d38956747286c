"""Shared test helpers."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def need(condition: object, reason: str) -> None:
    """Skip locally, or fail in CI (where every tool must be present), when `condition` is false."""
    if condition:
        return
    _missing(reason)


def _missing(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"test environment incomplete in CI: {reason}")
    pytest.skip(reason)
