"""The web plane's command-line block (homecheck/server/command.py): its options, defaults, and
one line for a bad certificate, key or proxy list before anything listens."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from homecheck.errors import HomecheckError
from homecheck.server.command import (
    DEFAULT_WEB_PORT,
    add_arguments,
    add_web_arguments,
    web_options,
)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)  # --tls-cert/--tls-key and --idle-timeout are shared by both planes
    add_web_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_are_plain_http_on_the_web_port() -> None:
    args = parse()
    options = web_options(args, speed_test_url="http://host:8765")
    assert args.web_port == DEFAULT_WEB_PORT == 8766
    assert (options.tls_cert, options.tls_key, options.forwarded_allow_ips) == (None, None, None)
    assert options.idle_timeout_s == 10.0
    assert options.speed_test_url == "http://host:8765"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--tls-cert", "{tmp}/c.pem"], "--tls-cert and --tls-key go together"),
        (
            ["--tls-cert", "{tmp}/c.pem", "--tls-key", "{tmp}/k.pem"],
            "--tls-cert {tmp}/c.pem: no such file",
        ),
        (
            ["--forwarded-allow-ips", "10.0.0.0/8,nginx"],
            "--forwarded-allow-ips: 'nginx' is not an IP address",
        ),
        (["--forwarded-allow-ips", " , "], "--forwarded-allow-ips: give the proxy's address"),
    ],
)
def test_bad_web_options_are_one_line(tmp_path: Path, argv: list[str], expected: str) -> None:
    args = parse(*(a.format(tmp=tmp_path) for a in argv))
    with pytest.raises(HomecheckError) as raised:
        web_options(args)
    assert expected.format(tmp=tmp_path) in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_proxy_list_with_networks_and_ipv6_is_accepted() -> None:
    options = web_options(parse("--forwarded-allow-ips", "127.0.0.1, 10.0.0.0/8, ::1"))
    assert options.forwarded_allow_ips == "127.0.0.1, 10.0.0.0/8, ::1"
