"""Behind a reverse proxy (--forwarded-allow-ips): X-Forwarded-For and X-Forwarded-Proto are
believed from the proxy's address only; anyone else sending them is seen as what it is."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable

from tests.homecheck.server.web.conftest import Running
from tests.support.environment import need

FORWARDED = b"X-Forwarded-For: 198.51.100.9, 203.0.113.7\r\nX-Forwarded-Proto: https\r\n"


def get_from(source: str, port: int, extra_headers: bytes) -> dict[str, object]:
    """GET / from the local address `source` (127.0.0.1 or another loopback address)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        try:
            sock.bind((source, 0))
        except OSError as exc:
            need(False, f"cannot use {source} as a source address: {exc}")
        sock.settimeout(5)
        sock.connect(("127.0.0.1", port))
        sock.sendall(
            b"GET / HTTP/1.1\r\nHost: web.example\r\nConnection: close\r\n"
            + extra_headers
            + b"\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    finally:
        sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    page: dict[str, object] = json.loads(body)
    return page


def access_log_clients(running: Running, expected: int) -> list[str]:
    deadline = time.monotonic() + 3
    while True:
        clients = re.findall(r' INFO (\S+) "GET / HTTP/1.1" 200', running.log_text())
        if len(clients) >= expected or time.monotonic() > deadline:
            return clients


def test_forwarded_headers_are_believed_only_from_the_allowed_proxy(
    web_plane: Callable[..., Running],
) -> None:
    running = web_plane(forwarded_allow_ips="127.0.0.1", access_log=True, log_level=20)
    from_proxy = get_from("127.0.0.1", running.port, FORWARDED)
    from_elsewhere = get_from("127.0.0.2", running.port, FORWARDED)
    plain = get_from("127.0.0.1", running.port, b"")
    assert from_proxy["url"] == "https://web.example/"
    assert from_elsewhere["url"] == "http://web.example/"
    assert plain["url"] == "http://web.example/"
    # The client is the right-most address the proxy did not add itself; the others as they are.
    assert access_log_clients(running, 3) == ["203.0.113.7", "127.0.0.2", "127.0.0.1"]


def test_a_chain_of_trusted_proxies_is_skipped_and_garbage_is_ignored(
    web_plane: Callable[..., Running],
) -> None:
    running = web_plane(forwarded_allow_ips="127.0.0.0/8", access_log=True, log_level=20)
    get_from("127.0.0.1", running.port, b"X-Forwarded-For: 203.0.113.7, 127.0.0.5\r\n")
    get_from(
        "127.0.0.1", running.port, b"X-Forwarded-For: <script>\r\nX-Forwarded-Proto: gopher\r\n"
    )
    assert access_log_clients(running, 2) == ["203.0.113.7", "127.0.0.1"]


def test_without_allowed_proxies_no_forwarded_header_is_believed(
    web_plane: Callable[..., Running],
) -> None:
    running = web_plane(access_log=True, log_level=20)
    assert get_from("127.0.0.1", running.port, FORWARDED)["url"] == "http://web.example/"
    assert access_log_clients(running, 1) == ["127.0.0.1"]
