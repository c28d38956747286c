"""From the call-like stream's packets to per-direction delay, jitter and loss (pure functions).

Which direction lost a packet: every answer carries the server's count of packets received so
far. Between two answers (packets a < b, counts ca < cb) the server got cb - ca - 1 of the
b - a - 1 packets whose answer is missing; those were lost on the way back, the rest on the way
out. (Which ones in the gap is not known; losses are placed in the gap's order, which only
matters for the burst figure.) After the last answer, the server's final count (asked with a
query packet) settles the tail; without it the tail counts for neither direction. This assumes
packets stay in order, as they do on nearly every access link.

One-way transit times: up = server receive - client send, down = client receive - server send,
each on two different clocks; only their differences are used (RFC 3550 jitter). The round trip
is (client receive - client send) - (server send - server receive): the time the server held the
packet is taken out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from homecheck.model import Phase
from probes.network.analysis import callquality, emodel
from probes.network.analysis.callquality import LossStats, RttStats

NS_PER_MS = 1e6


@dataclass(frozen=True)
class Sent:
    seq: int
    sent_ns: int  # wall clock (ns), the same clock as the receive stamps
    at: float  # time.monotonic(), for charts and phases
    phase: Phase


@dataclass(frozen=True)
class Echo:
    seq: int
    server_rx_ns: int
    server_tx_ns: int
    server_count: int
    received_ns: int
    at: float  # time.monotonic() when it was read


@dataclass(frozen=True)
class Packet:
    seq: int
    at: float  # client monotonic send time (s)
    phase: Phase
    reached_server: bool | None  # None: unknown (the tail, without a final count)
    echo: Echo | None
    sent_ns: int

    @property
    def rtt_ms(self) -> float | None:
        if self.echo is None:
            return None
        held = self.echo.server_tx_ns - self.echo.server_rx_ns
        return (self.echo.received_ns - self.sent_ns - held) / NS_PER_MS

    @property
    def up_transit_ms(self) -> float | None:
        return None if self.echo is None else (self.echo.server_rx_ns - self.sent_ns) / NS_PER_MS

    @property
    def down_transit_ms(self) -> float | None:
        if self.echo is None:
            return None
        return (self.echo.received_ns - self.echo.server_tx_ns) / NS_PER_MS


@dataclass(frozen=True)
class Summary:
    """Figures for one stretch of the stream (a phase or a window)."""

    packets: int
    rtt: RttStats | None
    jitter_up_ms: float | None
    jitter_down_ms: float | None
    loss_up: LossStats
    loss_down: LossStats
    quality: emodel.CallQuality | None


def attribute(
    sent: Sequence[Sent], echoes: dict[int, Echo], final_count: int | None
) -> list[Packet]:
    packets: list[Packet] = []
    ordered = sorted(sent, key=lambda s: s.seq)
    prev_count = 0
    gap: list[Sent] = []

    def settle(reached: int | None) -> None:
        if reached is None:
            packets.extend(Packet(s.seq, s.at, s.phase, None, None, s.sent_ns) for s in gap)
        else:
            reached = max(0, min(len(gap), reached))
            lost_out = len(gap) - reached
            for i, s in enumerate(gap):
                packets.append(Packet(s.seq, s.at, s.phase, i >= lost_out, None, s.sent_ns))
        gap.clear()

    for s in ordered:
        echo = echoes.get(s.seq)
        if echo is None:
            gap.append(s)
            continue
        settle(echo.server_count - prev_count - 1)
        prev_count = max(prev_count, echo.server_count)
        packets.append(Packet(s.seq, s.at, s.phase, True, echo, s.sent_ns))
    settle(None if final_count is None else final_count - prev_count)
    return packets


def summarize(
    packets: Sequence[Packet],
    up_loss_packets: Sequence[Packet] | None = None,
    down_loss_packets: Sequence[Packet] | None = None,
) -> Summary:
    """Delay and jitter from `packets`; loss from the given packets per direction (default the
    same ones). MOS uses the median round trip, the larger jitter and the larger loss."""
    up_pool = packets if up_loss_packets is None else up_loss_packets
    down_pool = packets if down_loss_packets is None else down_loss_packets
    rtts = [p.rtt_ms for p in packets if p.rtt_ms is not None]
    rtt = callquality.rtt_stats(rtts)
    jitter_up = callquality.mean_jitter_ms(_present(p.up_transit_ms for p in packets))
    jitter_down = callquality.mean_jitter_ms(_present(p.down_transit_ms for p in packets))
    loss_up = callquality.loss_stats(
        [not p.reached_server for p in up_pool if p.reached_server is not None]
    )
    loss_down = callquality.loss_stats([p.echo is None for p in down_pool if p.reached_server])
    quality = None
    if rtt is not None:
        jitter = max(jitter_up or 0.0, jitter_down or 0.0)
        worse = loss_up if loss_up.pct >= loss_down.pct else loss_down
        quality = emodel.call_quality(rtt.median_ms, jitter, worse.pct, worse.burst_r)
    return Summary(len(packets), rtt, jitter_up, jitter_down, loss_up, loss_down, quality)


def in_phases(packets: Iterable[Packet], *phases: Phase) -> list[Packet]:
    return [p for p in packets if p.phase in phases]


def between(packets: Iterable[Packet], start: float, end: float) -> list[Packet]:
    return [p for p in packets if start <= p.at < end]


# A window counts when the packets sent in it span this share of it (one 20 ms packet interval
# and the pacing's lag are missing from the span of a window that was really run through).
FULL_WINDOW_SHARE = 0.95


def windows(packets: Sequence[Packet], window_s: float) -> list[tuple[float, Summary]]:
    """Consecutive full windows of `window_s` from the first packet. A last window covering less
    than FULL_WINDOW_SHARE of `window_s` is dropped, so a stretch shorter than one window has
    none: a "worst 10 s" figure from 1 s of packets would compare nothing with nothing."""
    if not packets:
        return []
    start, end = packets[0].at, packets[-1].at
    count = math.floor((end - start) / window_s + (1 - FULL_WINDOW_SHARE))
    result: list[tuple[float, Summary]] = []
    for i in range(count):
        t = start + i * window_s
        chunk = between(packets, t, t + window_s)
        if chunk:
            result.append((t, summarize(chunk)))
    return result


def _present(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None]
