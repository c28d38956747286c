"""CSV cells are neutralised at one place (homecheck/dashboard/export.py)."""

from __future__ import annotations

import pytest

from homecheck.dashboard.export import neutralise


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        (
            '=HYPERLINK("http://evil.example/","click")',
            '\'=HYPERLINK("http://evil.example/","click")',
        ),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Ann Lee", "Ann Lee"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise(cell: str, shown: str) -> None:
    assert neutralise(cell) == shown
