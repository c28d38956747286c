"""`homecheck serve` against a hostile client on 127.0.0.1: silent and slow connections, too many
of them, tests held by one address, polling without traffic, and bad numbers in every field."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from homecheck import wire
from homecheck.wire import REPLY_MAGIC, EchoPacket
from tests.support.serve import Served, call, echo_socket, open_session


def _closed_within(sock: socket.socket, seconds: float) -> tuple[float, bytes]:
    """(seconds until the server closed the connection, what it sent before)."""
    began = time.monotonic()
    sock.settimeout(seconds)
    data = b""
    with contextlib.suppress(ConnectionResetError):  # an abort is a close too
        while chunk := sock.recv(4096):
            data += chunk
    return time.monotonic() - began, data


def test_silent_connections_are_closed_after_the_idle_timeout(
    serve_factory: Callable[..., Served],
) -> None:
    served = serve_factory("--idle-timeout", "1")
    never_asked = socket.create_connection(("127.0.0.1", served.port))
    kept_alive = socket.create_connection(("127.0.0.1", served.port))
    kept_alive.sendall(b"GET /api/speed/ HTTP/1.1\r\nHost: x\r\n\r\n")
    took, data = _closed_within(never_asked, 5)
    assert 0.9 < took < 2.0 and data == b""
    took, data = _closed_within(kept_alive, 5)  # after its answer, silent again: closed too
    assert data.startswith(b"HTTP/1.1 200") and took < 2.0


def test_a_slow_head_is_cut_at_the_head_timeout(serve_factory: Callable[..., Served]) -> None:
    served = serve_factory("--head-timeout", "2", "--idle-timeout", "30")
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    sock.settimeout(0.25)
    began = time.monotonic()
    data = b""
    for byte in b"GET /api/speed/ HTTP/1.1\r\nX-Slow: " + b"a" * 200:
        sock.send(bytes([byte]))  # a byte every 0.25 s, never the end of the head (slowloris)
        with contextlib.suppress(TimeoutError):
            data = sock.recv(4096)
            break
    took = time.monotonic() - began
    assert data.startswith(b"HTTP/1.1 408")
    assert 1.9 < took < 3.0


def test_an_oversized_head_is_refused(loopback_server: Served) -> None:
    sock = socket.create_connection(("127.0.0.1", loopback_server.port), timeout=5)
    sock.sendall(b"GET /api/speed/ HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
    _, data = _closed_within(sock, 5)
    assert data.startswith(b"HTTP/1.1 431")


def test_at_the_connection_bound_idle_ones_make_room(serve_factory: Callable[..., Served]) -> None:
    served = serve_factory("--max-connections", "16")
    idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(40)]
    try:
        for _ in range(3):  # a client still gets in, again and again
            status, body = call(served.port, "GET", "/api/speed/", timeout=5)
            assert status == 200 and json.loads(body)["service"] == "homecheck"
        for sock in idle[:20]:  # the oldest idle ones were closed to make room
            assert _closed_within(sock, 2)[1] == b""
    finally:
        for sock in idle:
            sock.close()


def test_at_the_connection_bound_slow_heads_make_room_too(
    serve_factory: Callable[..., Served],
) -> None:
    served = serve_factory("--max-connections", "16", "--head-timeout", "30")
    slow = []
    for _ in range(30):  # each has begun a head it never finishes
        sock = socket.create_connection(("127.0.0.1", served.port))
        sock.sendall(b"GET /api/speed/ HTTP/1.1\r\n")
        slow.append(sock)
    try:
        status, _ = call(served.port, "GET", "/api/speed/", timeout=5)
        assert status == 200
    finally:
        for sock in slow:
            sock.close()


def _open_from(port: int, source: str) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
    try:
        conn.request("POST", "/api/speed/session", body=b'{"seconds": 30}')
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_tests_at_once_are_limited_per_address(serve_factory: Callable[..., Served]) -> None:
    served = serve_factory()  # the default: 2 tests per address, 8 in total
    assert [_open_from(served.port, "127.0.0.1")[0] for _ in range(2)] == [201, 201]
    status, body = _open_from(served.port, "127.0.0.1")
    assert status == 429 and "this address already runs 2 tests" in str(body["error"])
    status, body = _open_from(served.port, "127.0.0.2")  # another address still gets in
    assert status == 201 and body["token"]


def test_polling_does_not_keep_a_session_but_traffic_does(
    serve_factory: Callable[..., Served],
) -> None:
    served = serve_factory("--idle-timeout", "1")
    _, polled = open_session(served.port)
    _, echoed = open_session(served.port)
    sock = echo_socket(served.port)
    token = bytes.fromhex(str(echoed["token"]))
    began = time.monotonic()
    while time.monotonic() - began < 2.5:
        for session in (polled, echoed):
            call(served.port, "GET", f"/api/speed/session/{session['token']}/uploads")
            call(served.port, "GET", f"/api/speed/session/{session['token']}/loss")
        sock.send(wire.encode(EchoPacket(token, 0)))
        assert wire.decode(sock.recv(2048), REPLY_MAGIC) is not None
        time.sleep(0.2)
    assert call(served.port, "GET", f"/api/speed/session/{polled['token']}/uploads")[0] == 404
    assert call(served.port, "GET", f"/api/speed/session/{echoed['token']}/uploads")[0] == 200


@pytest.fixture
def token(loopback_server: Served) -> Iterator[str]:
    _, session = open_session(loopback_server.port)
    yield str(session["token"])
    call(loopback_server.port, "DELETE", f"/api/speed/session/{session['token']}")


BAD_QUERY_NUMBERS = ["-1", "0", "31", "1e3", "nan", "inf", "NaN", "1" * 400, "abc", "", "10,5"]
BAD_JSON_NUMBERS = ["-1", "1e999", "NaN", "Infinity", "-Infinity", "1" * 400, '"10"', "true", "null", "[1]"]  # fmt: skip


@pytest.mark.parametrize("value", BAD_QUERY_NUMBERS)
@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/api/speed/download?token={token}&seconds={value}", "seconds"),
        ("POST", "/api/speed/upload?token={token}&seconds={value}", "seconds"),
        ("POST", "/api/speed/upload?token={token}&seconds=1&stream={value}", "stream"),
    ],
)
def test_bad_numbers_in_a_query_are_400(
    loopback_server: Served, token: str, method: str, path: str, field: str, value: str
) -> None:
    if field == "stream" and value in ("0", "31"):
        value = "1000000" if value == "0" else "2.5"  # fine as seconds, not as a stream id
    body = b"x" * 10 if method == "POST" else None
    status, raw = call(loopback_server.port, method, path.format(token=token, value=value), body)
    assert status == 400, raw
    assert field in json.loads(raw)["error"]


@pytest.mark.parametrize("value", BAD_JSON_NUMBERS)
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/speed/session", '{{"seconds": {value}}}', "seconds"),
        ("/api/speed/session/{token}/downstream", '{{"seconds": {value}, "pps": 10}}', "seconds"),
        ("/api/speed/session/{token}/downstream", '{{"seconds": 1, "pps": {value}}}', "pps"),
    ],
)
def test_bad_numbers_in_json_are_400(
    loopback_server: Served, token: str, path: str, body: str, field: str, value: str
) -> None:
    payload = body.format(value=value).encode()
    status, raw = call(loopback_server.port, "POST", path.format(token=token), payload)
    assert status == 400, raw
    message = json.loads(raw)["error"]
    # NaN and Infinity are not JSON: the body as a whole is refused; every other value by name.
    assert field in message or (value.strip("-") in ("NaN", "Infinity") and "JSON" in message)


def test_a_json_body_over_the_bound_is_413(loopback_server: Served) -> None:
    body = b'{"seconds": 10, "pad": "' + b"a" * 2000 + b'"}'
    assert call(loopback_server.port, "POST", "/api/speed/session", body)[0] == 413


def test_pipelined_requests_are_all_answered_in_order(loopback_server: Served) -> None:
    sock = socket.create_connection(("127.0.0.1", loopback_server.port), timeout=5)
    one = b"GET /api/speed/ HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /api/speed/nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    sock.sendall(one * 3000 + last)  # one read full of them: no recursion, no loss
    _, data = _closed_within(sock, 10)
    assert data.count(b"HTTP/1.1 200 OK") == 3000
    assert data.rstrip().endswith(b'{"error":"no such endpoint"}')
