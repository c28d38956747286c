"""Uploads with a Content-Length (homecheck/server/measure/: counted as they are read, never
copied) keep every bound of the server: time, bytes, idle, a client that leaves, a server that
stops, and `Expect: 100-continue`."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable

from tests.support.serve import Served

MB = 1_000_000


def _token(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/api/speed/session", body=b'{"seconds": 30}')
        return str(json.loads(conn.getresponse().read())["token"])
    finally:
        conn.close()


def _records(port: int, token: str) -> dict[str, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", f"/api/speed/session/{token}/uploads")
        return dict(json.loads(conn.getresponse().read())["uploads"])
    finally:
        conn.close()


def _start(
    port: int, token: str, length: int, extra: bytes = b"", seconds: int = 30
) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(
        b"POST /api/speed/upload?token=%s&seconds=%d&stream=1 HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: %d\r\n%s\r\n" % (token.encode(), seconds, length, extra)
    )
    return conn


def _keep_sending(conn: socket.socket, stop: threading.Event) -> threading.Thread:
    """About 60 MB/s, far from any declared length in these tests."""

    def send() -> None:
        block = b"z" * (1 << 16)
        while not stop.is_set():
            try:
                conn.sendall(block)
            except OSError:
                return
            time.sleep(0.001)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def _reply(conn: socket.socket) -> dict[str, object]:
    """The JSON reply; the server closes the connection after it."""
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    conn.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"connection: close" in head.lower()
    return dict(json.loads(body))


def test_small_and_large_bodies_are_counted_exactly(loopback_server: Served) -> None:
    port = loopback_server.port
    token = _token(port)
    conn = _start(port, token, 10, b"")
    conn.sendall(b"0123456789")
    assert _reply(conn)["bytes"] == 10
    conn = _start(port, token, 0)
    assert _reply(conn) | {"seconds": 0} == {"bytes": 0, "seconds": 0, "stopped": "end"}
    conn = _start(port, token, 30 * MB)
    conn.sendall(b"y" * (30 * MB))
    reply = _reply(conn)
    assert (reply["bytes"], reply["stopped"]) == (30 * MB, "end")


def test_upload_is_cut_at_the_time_and_byte_limits(serve_factory: Callable[..., Served]) -> None:
    served = serve_factory("--max-transfer-seconds", "1", "--max-transfer-mb", "500")
    token = _token(served.port)
    conn = _start(served.port, token, 500 * MB, seconds=1)
    stop = threading.Event()
    _keep_sending(conn, stop)
    began = time.monotonic()
    reply = _reply(conn)
    stop.set()
    assert reply["stopped"] == "time limit" and 0 < int(str(reply["bytes"])) < 500 * MB
    assert time.monotonic() - began < 2.0

    conn = _start(served.port, token, 20 * MB, seconds=1)
    conn.sendall(b"y" * (20 * MB))
    assert _reply(conn)["stopped"] == "end"
    conn = _start(served.port, token, 501 * MB, seconds=1)
    assert b" 413 " in conn.recv(1000)
    conn.close()


def test_upload_of_exactly_the_byte_limit(serve_factory: Callable[..., Served]) -> None:
    served = serve_factory("--max-transfer-mb", "5")
    token = _token(served.port)
    conn = _start(served.port, token, 5 * MB)
    conn.sendall(b"y" * (5 * MB))
    reply = _reply(conn)
    assert (reply["bytes"], reply["stopped"]) == (5 * MB, "byte limit")


def test_stalled_upload_ends_by_the_idle_timeout(serve_factory: Callable[..., Served]) -> None:
    served = serve_factory("--idle-timeout", "1")
    conn = _start(served.port, _token(served.port), 1000)
    conn.sendall(b"x" * 16)
    began = time.monotonic()
    reply = _reply(conn)
    assert (reply["bytes"], reply["stopped"]) == (16, "idle")
    assert time.monotonic() - began < 3.0


def test_a_client_that_leaves_keeps_its_record(loopback_server: Served) -> None:
    port = loopback_server.port
    token = _token(port)
    conn = _start(port, token, 1000 * MB)
    conn.sendall(b"y" * (20 * MB))
    time.sleep(0.3)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # a reset, as the probe ends its phase
    time.sleep(0.3)
    samples = _records(port, token)["1"]["samples"]
    assert isinstance(samples, list) and samples[-1][1] >= 19 * MB
    assert _token(port)  # and the server carries on


def test_a_stopping_server_ends_the_upload_at_once(serve_factory: Callable[..., Served]) -> None:
    served = serve_factory()
    conn = _start(served.port, _token(served.port), 1000 * MB)
    stop = threading.Event()
    _keep_sending(conn, stop)
    time.sleep(0.5)
    began = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    reply = _reply(conn)
    stop.set()
    assert reply["stopped"] == "server stopping"
    assert served.process.wait(5) == 0 and time.monotonic() - began < 3.0


def test_expect_100_continue_is_answered(loopback_server: Served) -> None:
    port = loopback_server.port
    conn = _start(port, _token(port), 1 * MB, b"Expect: 100-continue\r\n")
    assert conn.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    conn.sendall(b"y" * MB)
    assert _reply(conn)["bytes"] == MB


def test_the_last_sample_is_the_count_when_the_client_left(loopback_server: Served) -> None:
    # The handler takes its last sample after the socket is gone; it must carry the kernel's
    # count from the moment the connection ended, not the last periodic one (which here was
    # taken as the second megabyte began to arrive).
    port = loopback_server.port
    token = _token(port)
    conn = _start(port, token, 1000 * MB)
    time.sleep(0.2)  # the handler has started: every body byte is counted from here
    conn.sendall(b"a" * MB)
    time.sleep(0.3)
    conn.sendall(b"b" * MB)
    conn.close()
    time.sleep(0.3)
    samples = _records(port, token)["1"]["samples"]
    assert isinstance(samples, list)
    # (+1: the kernel's count runs in sequence numbers, and the client's FIN takes one.)
    assert 2 * MB <= samples[-1][1] <= 2 * MB + 1, samples
