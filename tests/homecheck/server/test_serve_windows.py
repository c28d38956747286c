"""`homecheck serve` as it runs on Windows (tests/support/windows.py: the event loop
cannot watch sockets, as the ProactorEventLoop; sockets have no recvmsg; the wall clock ticks
every 15.6 ms), on 127.0.0.1."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from homecheck import wire
from homecheck.wire import FLAG_ECHO, LOSS_REPLY_MAGIC, REPLY_MAGIC, EchoPacket, LossPacket
from tests.support.serve import Served, echo_socket, open_session, start_serve, stop_serve


@pytest.fixture
def windows_server() -> Iterator[Served]:
    served = start_serve(module="tests.support.windows")
    yield served
    stop_serve(served)


def test_the_udp_echo_answers_without_add_reader_and_recvmsg(windows_server: Served) -> None:
    port = windows_server.port
    status, session = open_session(port)
    assert status == 201
    token = bytes.fromhex(str(session["token"]))
    sock = echo_socket(port)
    held = []
    for seq in range(20):
        sock.send(wire.encode(EchoPacket(token, seq)))
        reply = wire.decode(sock.recv(2048), REPLY_MAGIC)
        assert reply is not None and (reply.seq, reply.server_count) == (seq, seq + 1)
        held.append(reply.server_tx_ns - reply.server_rx_ns)
    # Stamped with the fine clock, not the 15.6 ms one: the hold is neither 0 nor a tick.
    assert all(0 < ns < 10_000_000 for ns in held), held
    sock.send(wire.encode_loss(LossPacket(token, 0, FLAG_ECHO)))  # the loss probe too
    answer = wire.decode_loss(sock.recv(256), LOSS_REPLY_MAGIC)
    assert answer is not None and answer.seq == 0


def test_ctrl_c_stops_it_cleanly(windows_server: Served) -> None:
    open_session(windows_server.port)
    began = time.monotonic()
    windows_server.process.send_signal(signal.SIGINT)
    assert windows_server.process.wait(10) == 0
    assert time.monotonic() - began < 5
    stderr = windows_server.process.stderr.read() if windows_server.process.stderr else ""
    assert "stopped" in stderr and "Traceback" not in stderr and "ERROR" not in stderr
