"""The web plane's answers, from a real WebPlane child over a real socket: what the front page
says, JSON errors for 404/405/413, bounded heads and bodies, and one log line for a bug."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

from tests.homecheck.server.web.conftest import Running

TEST_APP = "tests.support.web_apps:create_test_app"


def raw(port: int, data: bytes, timeout: float = 5.0, half_close: bool = False) -> bytes:
    """Send raw bytes, return everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_the_front_page_says_what_this_server_is_and_where_the_speed_test_is(
    web_plane: Callable[..., Running],
) -> None:
    running = web_plane(speed_test_url="http://tests.example:8765")
    status, body = running.get("/")
    page = json.loads(body)
    assert status == 200
    assert page["service"] == "homecheck serve"
    assert page["speed_test"] == "http://tests.example:8765"
    assert page["run"] == "homecheck run --server http://tests.example:8765"
    assert page["url"] == f"http://127.0.0.1:{running.port}/"
    assert running.get("/healthz") == (200, b"ok\n")


def test_unknown_paths_and_methods_are_json_404_and_405(
    web_plane: Callable[..., Running],
) -> None:
    running = web_plane()
    status, body = running.get("/no/such/page")
    assert (status, json.loads(body)) == (404, {"error": "Not Found"})
    answer = raw(running.port, b"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 405 ")
    allow = answer.split(b"\r\nallow: ")[1].split(b"\r\n")[0]
    assert set(allow.split(b", ")) == {b"GET", b"HEAD"}  # Starlette's order varies by run
    assert answer.endswith(b'{"error":"Method Not Allowed"}')


def test_a_declared_body_over_the_bound_is_413_before_it_is_sent(
    web_plane: Callable[..., Running],
) -> None:
    running = web_plane(max_body_bytes=1000, app_factory=TEST_APP)
    head = b"POST /test/body HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"
    answer = raw(running.port, head)  # no body sent: the answer comes anyway, and the close
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"over 1000 bytes" in answer


def test_a_chunked_body_crossing_the_bound_is_413(web_plane: Callable[..., Running]) -> None:
    running = web_plane(max_body_bytes=1000, app_factory=TEST_APP)
    chunks = b"".join(b"64\r\n" + b"x" * 100 + b"\r\n" for _ in range(20)) + b"0\r\n\r\n"
    head = b"POST /test/body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = raw(running.port, head + chunks)
    assert answer.startswith(b"HTTP/1.1 413 ")
    small = b"POST /test/body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    assert raw(running.port, small).endswith(b"\r\n\r\n5\n")


def test_a_stalled_body_is_408_after_the_idle_timeout(web_plane: Callable[..., Running]) -> None:
    running = web_plane(idle_timeout_s=1.0, app_factory=TEST_APP)
    started = time.monotonic()
    answer = raw(
        running.port, b"POST /test/body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"
    )
    waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 0.9 <= waited < 4


def test_a_request_head_over_the_bound_is_refused_with_4xx(
    web_plane: Callable[..., Running],
) -> None:
    running = web_plane(max_head_bytes=4096)
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 8000
    # Whole in one read: measured by the app.
    answer = raw(running.port, head + b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:40]
    assert answer.count(b"HTTP/1.1") == 1  # the connection closed after it
    # Still arriving and already over the bound: refused by the server before it ends.
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
        sock.sendall(head)
        time.sleep(0.2)
        sock.sendall(b"b" * 8000)
        assert sock.recv(100)[:12] in {b"HTTP/1.1 431", b"HTTP/1.1 400"}
    assert running.get("/")[0] == 200


def test_a_bug_in_a_route_is_a_json_500_and_one_log_line_without_traceback(
    web_plane: Callable[..., Running],
) -> None:
    running = web_plane(app_factory=TEST_APP)
    status, body = running.get("/test/broken")
    assert (status, json.loads(body)) == (500, {"error": "internal error"})
    time.sleep(0.2)  # the child's log handler writes as the request ends
    log = running.log_text()
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1, log
    assert "GET /test/broken failed: RuntimeError: a bug\\nwith a second line" in errors[0]
    assert "Traceback" not in log
    assert "a bug" not in body.decode()
