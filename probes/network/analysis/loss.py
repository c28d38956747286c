"""Loss per direction from the loss probe (probes/network/employer/loss_stream.py), pooled with
the voice stream.

Up: every probe packet sent while the upstream was quiet (idle, downloading) counts; it was lost
when the server's bitmap lacks its seq. Down: probe packets the server received and answered while
the line was idle (the answer came back or not), plus the downstream burst sent while uploading.
Answers to the last packets of the idle phase travel back while the download has begun to fill
the downstream; `echo_until` leaves those out. After the last burst packet that arrived, the rest
count for neither side (they may still be on their way when the counts are taken, and packets
stay in order on nearly every access link).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class LossCounts(Protocol):
    """What the loss probe recorded (probes/network/employer/loss_stream.py `LossStream`)."""

    sent_at: array[float]  # time.monotonic() each seq was sent; the seq is the index
    asked_echo: bytearray  # 1 where the packet asked for an answer
    echoed: bytearray  # 1 where its answer came back
    down_seen: bytearray  # 1 where downstream packet seq arrived
    up_seen: bytes | None  # the server's bitmap of the seqs it received
    down_sent: int | None  # packets of the downstream burst the server sent


@dataclass(frozen=True)
class Counted:
    lost: int
    total: int

    @property
    def pct(self) -> float:
        return 100 * self.lost / self.total if self.total else 0.0

    def __add__(self, other: Counted) -> Counted:
        return Counted(self.lost + other.lost, self.total + other.total)


@dataclass(frozen=True)
class ProbeLoss:
    up: Counted
    down: Counted


def probe_loss(
    stream: LossCounts,
    up_until: float,
    echo_until: float,
    start: float = -math.inf,
    with_burst: bool = True,
) -> ProbeLoss | None:
    """Counts for packets sent in [start, up_until) (up) and [start, echo_until) (down answers),
    plus the downstream burst when `with_burst`; None without the server's counts."""
    if stream.up_seen is None or stream.down_sent is None:
        return None
    at = np.frombuffer(stream.sent_at, dtype=np.float64)
    n = at.size
    seen = _bits(stream.up_seen, n)
    asked = np.frombuffer(bytes(stream.asked_echo[:n]), dtype=np.uint8).astype(bool)
    echoed = np.frombuffer(bytes(stream.echoed[:n]), dtype=np.uint8).astype(bool)
    up_window = (at >= start) & (at < up_until)
    up = Counted(int((up_window & ~seen).sum()), int(up_window.sum()))
    answered = (at >= start) & (at < echo_until) & asked & seen
    down = Counted(int((answered & ~echoed).sum()), int(answered.sum()))
    if with_burst and stream.down_sent > 0:
        down = down + burst_loss(stream.down_seen, stream.down_sent)
    return ProbeLoss(up, down)


def burst_loss(arrived: bytes | bytearray, sent: int) -> Counted:
    got = np.flatnonzero(np.frombuffer(bytes(arrived[:sent]), dtype=np.uint8))
    if got.size == 0:
        # Nothing of the burst arrived: lost all the way, unless the link died (the caller's
        # cut-off rule handles that case before it gets here).
        return Counted(sent, sent)
    resolved = int(got[-1]) + 1
    return Counted(resolved - int(got.size), resolved)


def _bits(bitmap: bytes, n: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little").astype(bool)
    if bits.size < n:
        bits = np.concatenate([bits, np.zeros(n - bits.size, dtype=bool)])
    return bits[:n]
