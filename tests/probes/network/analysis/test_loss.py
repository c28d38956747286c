"""The arithmetic that turns the loss probe's counts into loss per direction (pure)."""

from __future__ import annotations

import socket

import pytest

from probes.network.analysis.loss import Counted, burst_loss, probe_loss
from probes.network.employer.loss_stream import LossStream


def _stream(sent_at: list[float], asked: list[int], echoed: list[int]) -> LossStream:
    stream = LossStream(("127.0.0.1", 9), socket.AF_INET, b"\0" * 16)
    stream.close()
    stream.sent_at.extend(sent_at)
    stream.asked_echo.extend(asked)
    stream.echoed.extend(echoed)
    return stream


def _bitmap(seqs: list[int]) -> bytes:
    bits = bytearray(8)
    for s in seqs:
        bits[s // 8] |= 1 << (s % 8)
    return bytes(bits)


def test_loss_arithmetic_per_direction_window_and_burst() -> None:
    # 10 packets at t = 0..9: 0-5 asked for answers (idle), 6-9 only counted (downloading).
    stream = _stream([float(t) for t in range(10)], [1] * 6 + [0] * 4, [1, 0, 1, 0, 1, 0] + [0] * 4)
    stream.up_seen = _bitmap([0, 2, 3, 4, 6, 7, 8])  # 1, 5 and 9 lost on the way up
    stream.down_sent = 0
    found = probe_loss(stream, up_until=99, echo_until=99)
    assert found is not None
    assert found.up == Counted(3, 10)
    assert found.down == Counted(1, 4)  # reached the server 0, 2, 3, 4; answer of 3 lost
    # Answers to packets sent after echo_until are not counted; a window limits both.
    assert probe_loss(stream, 99, echo_until=3).down == Counted(0, 2)  # type: ignore[union-attr]
    assert probe_loss(stream, 5, 5, start=2).up == Counted(0, 3)  # type: ignore[union-attr]
    # The downstream burst: 10 sent, 0-6 but 3 arrived; 7-9 may still be under way: not counted.
    stream.down_seen = bytearray([1, 1, 1, 0, 1, 1, 1, 0, 0, 0])
    stream.down_sent = 10
    assert probe_loss(stream, 99, 99).down == Counted(1 + 1, 4 + 7)  # type: ignore[union-attr]
    assert burst_loss(bytearray(10), 10) == Counted(10, 10)
    # Without the server's counts there is nothing to say.
    stream.up_seen = None
    assert probe_loss(stream, 99, 99) is None


@pytest.mark.parametrize("pct", [0.0, 3.0])
def test_counted_percentages(pct: float) -> None:
    lost = int(pct * 10)
    assert Counted(lost, 1000).pct == pytest.approx(pct)
    assert (Counted(1, 10) + Counted(2, 90)).pct == pytest.approx(3.0)
