"""The loss probe on `homecheck serve`: its counting, echo, cookie and downstream burst, on
127.0.0.1 (the arithmetic on the counts is tests/probes/network/analysis/test_loss.py)."""

from __future__ import annotations

import base64
import json
import socket
import time

from homecheck import wire
from homecheck.wire import (
    FLAG_ECHO,
    FLAG_ORIGINATED,
    LOSS_REPLY_MAGIC,
    LossPacket,
)
from tests.support.serve import Served, call, echo_socket, open_session


def _token(port: int) -> tuple[bytes, str]:
    _, session = open_session(port)
    return bytes.fromhex(str(session["token"])), str(session["token"])


def _counts(port: int, token_hex: str) -> dict[str, object]:
    status, body = call(port, "GET", f"/api/speed/session/{token_hex}/loss")
    assert status == 200
    return dict(json.loads(body))


def _drain(sock: socket.socket, wait_s: float = 0.3) -> list[LossPacket]:
    sock.settimeout(wait_s)
    got = []
    try:
        while True:
            packet = wire.decode_loss(sock.recv(256), LOSS_REPLY_MAGIC)
            if packet is not None:
                got.append(packet)
    except TimeoutError:
        return got


def _downstream(port: int, token_hex: str, **body: object) -> tuple[int, dict[str, object]]:
    path = f"/api/speed/session/{token_hex}/downstream"
    status, raw = call(port, "POST", path, json.dumps(body).encode())
    return status, dict(json.loads(raw))


def test_counts_every_seq_once_and_answers_only_when_asked(loopback_server: Served) -> None:
    port = loopback_server.port
    token, token_hex = _token(port)
    sock = echo_socket(port)
    for seq in (0, 1, 2, 5, 5, 9):  # 5 twice: counted once
        sock.send(wire.encode_loss(LossPacket(token, seq, FLAG_ECHO if seq < 3 else 0)))
    answers = _drain(sock)
    assert sorted(p.seq for p in answers) == [0, 1, 2]  # only those that asked
    assert len({p.cookie for p in answers}) == 1 and answers[0].cookie != bytes(8)
    counts = _counts(port, token_hex)
    bits = base64.b64decode(str(counts["up_seen"]))
    seen = [i for i in range(len(bits) * 8) if bits[i // 8] >> (i % 8) & 1]
    assert seen == [0, 1, 2, 5, 9] and counts["up_received"] == 5
    assert counts["down_sent"] == 0 and counts["down_done"] is True
    sock.send(wire.encode_loss(LossPacket(b"\x02" * 16, 3, FLAG_ECHO)))  # no such session
    sock.send(b"HCL1" + token + b"\0" * 4)  # too short
    assert _drain(sock) == []


def test_the_cookie_is_tied_to_the_address(loopback_server: Served) -> None:
    port = loopback_server.port
    token, _ = _token(port)
    first, second = echo_socket(port), echo_socket(port)
    cookies = []
    for sock in (first, second):
        sock.send(wire.encode_loss(LossPacket(token, 0, FLAG_ECHO)))
        cookies.append(_drain(sock)[0].cookie)
    assert cookies[0] != cookies[1]


def test_downstream_burst_goes_to_the_proven_address_at_the_asked_rate(
    loopback_server: Served,
) -> None:
    port = loopback_server.port
    token, token_hex = _token(port)
    sock, stranger = echo_socket(port), echo_socket(port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.send(wire.encode_loss(LossPacket(token, 0, FLAG_ECHO)))
    cookie = _drain(sock)[0].cookie.hex()
    assert _downstream(port, token_hex, seconds=1, pps=200)[0] == 400  # no cookie
    assert _downstream(port, token_hex, seconds=1, pps=200, cookie="00" * 8)[0] == 403
    assert _downstream(port, "ab" * 16, seconds=1, pps=200, cookie=cookie)[0] == 404
    began = time.monotonic()
    status, reply = _downstream(port, token_hex, seconds=1.0, pps=200, cookie=cookie)
    assert status == 202 and reply["packets"] == 200
    # One burst at a time.
    assert _downstream(port, token_hex, seconds=1, pps=200, cookie=cookie)[0] == 409
    got = _drain(sock, 0.5)
    took = time.monotonic() - began
    assert [p.seq for p in got] == list(range(200))  # numbered, in order, none lost on loopback
    assert all(p.flags & FLAG_ORIGINATED and p.token == token for p in got)
    assert 0.9 < took - 0.5 < 1.6  # paced over about a second, not sent at once
    assert _drain(stranger, 0.1) == []  # nobody else got anything
    counts = _counts(port, token_hex)
    assert counts["down_sent"] == 200 and counts["down_done"] is True


def test_downstream_rate_and_length_are_bounded(loopback_server: Served) -> None:
    port = loopback_server.port
    token, token_hex = _token(port)
    sock = echo_socket(port)
    sock.send(wire.encode_loss(LossPacket(token, 0, FLAG_ECHO)))
    cookie = _drain(sock)[0].cookie.hex()
    # Beyond max_transfer_s or max_loss_pps: refused, never clamped silently.
    status, reply = _downstream(port, token_hex, seconds=9999, pps=500, cookie=cookie)
    assert status == 400 and "seconds" in str(reply["error"])
    status, reply = _downstream(port, token_hex, seconds=30, pps=10**9, cookie=cookie)
    assert status == 400 and "pps" in str(reply["error"])
    status, reply = _downstream(port, token_hex, seconds=30, pps=1000, cookie=cookie)
    assert status == 202
    assert reply["pps"] == 1000.0 and reply["seconds"] == 30.0  # max_loss_pps, max_transfer_s
    call(port, "DELETE", f"/api/speed/session/{token_hex}")  # ending the test ends the burst
    _drain(sock, 0.3)
    assert _drain(sock, 0.3) == []


def test_loss_packets_are_rate_limited(loopback_server: Served) -> None:
    port = loopback_server.port
    token, token_hex = _token(port)
    sock = echo_socket(port)
    for seq in range(3000):  # a flood, far above the 500/s the client sends
        sock.send(wire.encode_loss(LossPacket(token, seq)))
    time.sleep(0.2)
    received = int(str(_counts(port, token_hex)["up_received"]))
    assert 900 <= received <= 1500  # one second's allowance (1,000) and what refilled meanwhile
