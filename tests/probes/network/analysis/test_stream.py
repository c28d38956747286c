"""The stream analysis' windows of a stability run: only full windows count."""

from __future__ import annotations

import pytest

from homecheck.model import Phase
from probes.network.analysis.stream import Echo, Packet, windows

MS = 1_000_000


def _packets(span_s: float, interval_s: float = 0.02) -> list[Packet]:
    """A clean stream: a packet every `interval_s` for `span_s`, each answered in 10 ms."""
    packets = []
    for seq in range(round(span_s / interval_s)):
        at, sent_ns = 100.0 + seq * interval_s, seq * 20 * MS
        echo = Echo(seq, sent_ns + 5 * MS, sent_ns + 5 * MS, seq + 1, sent_ns + 10 * MS, at + 0.01)
        packets.append(Packet(seq, at, Phase.IDLE, True, echo, sent_ns))
    return packets


@pytest.mark.parametrize(
    ("span_s", "full"),
    [
        (1.0, 0),  # --duration 1: no 10 s window at all, not "the worst of 1"
        (9.0, 0),
        (10.0, 1),  # the last packet goes out 20 ms before the window ends
        (25.0, 2),  # the last 5 s are not a window
        (60.0, 6),
    ],
)
def test_only_full_windows_count(span_s: float, full: int) -> None:
    found = windows(_packets(span_s), 10.0)
    assert len(found) == full
    assert all(summary.packets >= 495 for _, summary in found)
