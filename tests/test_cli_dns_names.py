"""`homecheck run --dns-names`: which names the network probe times lookups of."""

from __future__ import annotations

import pytest

from homecheck.cli import build_parser


def test_names_are_split_and_trimmed() -> None:
    args = build_parser().parse_args(["run", "--dns-names", "crm.example.com, voip.example.com"])
    assert args.dns_names == ("crm.example.com", "voip.example.com")


def test_default_is_the_probes_own_list() -> None:
    assert build_parser().parse_args(["run"]).dns_names is None


@pytest.mark.parametrize("bad", ["", " , ", "two words"])
def test_bad_lists_are_a_usage_error(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["run", "--dns-names", bad])
    assert stopped.value.code == 2
    assert "host names" in capsys.readouterr().err
