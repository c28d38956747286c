"""`homecheck serve` on 127.0.0.1: the endpoints, their limits, the UDP echo, start and stop."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from homecheck import wire
from homecheck.server.sessions import Limits
from homecheck.wire import REPLY_MAGIC, EchoPacket
from tests.support.serve import ROOT, Served, call, echo_socket, open_session


def test_session_download_and_upload_counted_at_the_receiver(loopback_server: Served) -> None:
    port = loopback_server.port
    status, hello = call(port, "GET", "/api/speed/")
    assert status == 200 and json.loads(hello)["service"] == "homecheck"
    status, session = open_session(port)
    assert status == 201 and session["udp_port"] == port
    token = session["token"]

    began = time.monotonic()
    status, data = call(port, "GET", f"/api/speed/download?token={token}&seconds=0.5")
    assert status == 200 and len(data) > 1_000_000
    assert 0.4 < time.monotonic() - began < 3.0

    body = b"x" * 3_000_000
    status, reply = call(port, "POST", f"/api/speed/upload?token={token}&seconds=5&stream=2", body)
    assert status == 200 and json.loads(reply)["bytes"] == len(body)
    status, records = call(port, "GET", f"/api/speed/session/{token}/uploads")
    record = json.loads(records)["uploads"]["2"]
    # Counted by the server's kernel from the moment it started on this stream: what arrived
    # before (up to a read buffer's worth on loopback) is left out; rates are unaffected.
    assert record["kernel"] is True
    assert 0.2 * len(body) < record["samples"][-1][1] <= len(body) + 1000
    assert call(port, "DELETE", f"/api/speed/session/{token}")[0] == 204
    assert call(port, "GET", f"/api/speed/download?token={token}&seconds=1")[0] == 403


def test_bad_requests_are_refused_plainly(loopback_server: Served) -> None:
    port = loopback_server.port
    assert call(port, "GET", "/api/speed/download?token=00&seconds=1")[0] == 403
    assert call(port, "POST", "/api/speed/session", b"not json")[0] == 400
    assert call(port, "POST", "/api/speed/session", b"x" * 5000)[0] == 413
    _, session = open_session(port)
    status, _ = call(port, "GET", f"/api/speed/download?token={session['token']}&seconds=nan")
    assert status == 400


def test_limits_on_tests_time_and_bytes(serve_factory: Callable[..., Served]) -> None:
    served = serve_factory(
        "--max-tests", "2", "--max-transfer-seconds", "1", "--max-transfer-mb", "5"
    )
    port = served.port
    sessions = [open_session(port) for _ in range(3)]
    assert [s[0] for s in sessions] == [201, 201, 503]
    assert "maximum number of tests" in str(sessions[2][1]["error"])
    token = sessions[0][1]["token"]
    # Asking for more than the server allows is refused, not clamped ...
    status, data = call(port, "GET", f"/api/speed/download?token={token}&seconds=100")
    assert status == 400 and b"from 0.1 to 1" in data
    # ... a download stops at the 5 MB limit ...
    status, data = call(port, "GET", f"/api/speed/download?token={token}&seconds=1")
    assert status == 200 and len(data) == 5_000_000
    # ... and an upload is cut at its time, at most the server's 1 s.
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(
        b"POST /api/speed/upload?token=%s&seconds=1 HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" % str(token).encode()
    )
    began = time.monotonic()
    reply = b""
    while b"stopped" not in reply and time.monotonic() - began < 5:
        conn.sendall(b"1000\r\n" + b"y" * 4096 + b"\r\n")
        conn.settimeout(0.01)
        with contextlib.suppress(TimeoutError):
            reply += conn.recv(4096)
        conn.settimeout(10)
        time.sleep(0.005)
    conn.close()
    assert b'"stopped":"time limit"' in reply
    assert time.monotonic() - began < 2.5


def test_streams_per_test_are_limited(loopback_server: Served) -> None:
    port = loopback_server.port
    _, session = open_session(port)
    request = (
        b"GET /api/speed/download?token=%s&seconds=3 HTTP/1.1\r\nHost: x\r\n\r\n"
        % str(session["token"]).encode()
    )
    conns = []
    for _ in range(Limits().max_transfers_per_session):  # the default limit
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn.sendall(request)
        assert conn.recv(12).startswith(b"HTTP/1.1 200")
        conns.append(conn)
    extra = socket.create_connection(("127.0.0.1", port), timeout=5)
    extra.sendall(request)
    assert extra.recv(12).startswith(b"HTTP/1.1 429")
    for conn in [*conns, extra]:
        conn.close()


def test_a_stalled_upload_is_cut_off_by_the_idle_timeout(
    serve_factory: Callable[..., Served],
) -> None:
    served = serve_factory("--idle-timeout", "1")
    _, session = open_session(served.port)
    conn = socket.create_connection(("127.0.0.1", served.port), timeout=6)
    conn.sendall(
        b"POST /api/speed/upload?token=%s&seconds=30 HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n"
        % str(session["token"]).encode()
    )
    began = time.monotonic()
    reply = b""
    while chunk := conn.recv(4096):  # we go quiet; the server must answer and close on its own
        reply += chunk
    conn.close()
    assert b'"stopped":"idle"' in reply
    assert time.monotonic() - began < 3.0


def test_udp_echo_stamps_counts_and_ignores_strangers(loopback_server: Served) -> None:
    port = loopback_server.port
    _, session = open_session(port)
    token = bytes.fromhex(str(session["token"]))
    sock = echo_socket(port)
    for seq in range(3):
        sock.send(wire.encode(EchoPacket(token, seq, 0, time.time_ns())))
        data = sock.recv(2048)
        reply = wire.decode(data, REPLY_MAGIC)
        assert reply is not None and len(data) == wire.PACKET_BYTES
        assert (reply.seq, reply.server_count) == (seq, seq + 1)
        assert reply.server_rx_ns <= reply.server_tx_ns
    sock.send(wire.encode(EchoPacket(b"\x01" * 16, 7)))  # no such session: no answer
    with pytest.raises(TimeoutError):
        sock.recv(2048)
    sock.send(b"HCQ1short")  # not even a packet
    with pytest.raises(TimeoutError):
        sock.recv(2048)


def test_udp_echo_is_rate_limited(loopback_server: Served) -> None:
    _, session = open_session(loopback_server.port)
    token = bytes.fromhex(str(session["token"]))
    sock = echo_socket(loopback_server.port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    for seq in range(600):  # a flood, far above 50 packets/s
        sock.send(wire.encode(EchoPacket(token, seq)))
    answered = 0
    sock.settimeout(0.3)
    try:
        while True:
            sock.recv(2048)
            answered += 1
    except TimeoutError:
        pass
    assert 150 <= answered <= 260  # one second's allowance (200) and what refilled meanwhile


def test_port_in_use_is_one_clear_line(loopback_server: Served) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "homecheck",
            "serve",
            "--port",
            str(loopback_server.port),
            "--web-port",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "already in use" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stops_cleanly_on_ctrl_c_and_sigterm(
    serve_factory: Callable[..., Served], sig: signal.Signals
) -> None:
    served = serve_factory()
    _, session = open_session(served.port)
    # A download in progress must not hold the shutdown up for long.
    conn = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    conn.sendall(
        b"GET /api/speed/download?token=%s&seconds=20 HTTP/1.1\r\nHost: x\r\n\r\n"
        % str(session["token"]).encode()
    )
    conn.recv(1000)
    began = time.monotonic()
    served.process.send_signal(sig)
    code = served.process.wait(10)
    conn.close()
    assert code == 0
    assert time.monotonic() - began < 5
    stderr = served.process.stderr.read() if served.process.stderr else ""
    assert "stopped" in stderr and "Traceback" not in stderr
