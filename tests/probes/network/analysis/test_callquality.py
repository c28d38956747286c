"""Delay, jitter, loss and speed figures from raw samples (pure functions)."""

from __future__ import annotations

import math
import random

import pytest

from probes.network.analysis import callquality, steady_rate, stream
from probes.network.analysis.stream import Echo, Sent


def test_percentiles_interpolate() -> None:
    values = [float(v) for v in range(1, 101)]
    assert callquality.percentile(values, 50) == pytest.approx(50.5)
    assert callquality.percentile(values, 95) == pytest.approx(95.05)
    stats = callquality.rtt_stats([30.0, 10.0, 20.0])
    assert stats is not None and (stats.min_ms, stats.median_ms) == (10.0, 20.0)


def test_rfc3550_jitter_is_zero_for_constant_transit_and_2j_for_alternating() -> None:
    assert callquality.mean_jitter_ms([50.0] * 100) == 0.0
    alternating = [50.0 + (3.0 if i % 2 else -3.0) for i in range(400)]
    series = callquality.rfc3550_jitter(alternating)
    assert series[-1] == pytest.approx(6.0)  # |D| is always 6 ms


def test_rfc3550_jitter_of_uniform_delay_is_two_thirds_of_the_spread() -> None:
    # One-way delays uniform on +-j: E|D| = 2j/3, which J estimates.
    rng = random.Random(7)
    j = 6.0
    transits = [40 + rng.uniform(-j, j) for _ in range(5000)]
    assert callquality.mean_jitter_ms(transits) == pytest.approx(2 * j / 3, rel=0.05)


def test_burst_ratio_random_and_bursty() -> None:
    rng = random.Random(3)
    random_loss = [rng.random() < 0.05 for _ in range(20000)]
    assert callquality.burst_ratio(random_loss) == pytest.approx(1.0, abs=0.1)
    bursty = ([True] * 5 + [False] * 95) * 50  # 5 % loss in runs of 5
    assert callquality.burst_ratio(bursty) == pytest.approx(1 / (1 / 95 + 1 / 5), rel=0.01)
    assert callquality.burst_ratio([False] * 10) == 1.0
    stats = callquality.loss_stats(bursty)
    assert (stats.pct, stats.longest_burst) == (5.0, 5)


def test_measurements_from_round_trips_only() -> None:
    rtts: list[float | None] = [20.0, 22.0, None, 21.0, 20.0] * 20
    measured, missing = callquality.measurements_from_rtts(rtts, "TCP ping")
    by_id = {m.metric: m.value for m in measured}
    assert not missing
    assert by_id["network.latency_ms"] == 20.5
    assert by_id["network.loss_up_pct"] == by_id["network.loss_down_pct"] == 20.0
    assert 0 < float(by_id["network.jitter_up_ms"]) < 2
    assert 1 < float(by_id["network.mos"]) < 4.5
    none_measured, none_missing = callquality.measurements_from_rtts([None, None], "TCP ping")
    assert not none_measured and len(none_missing) == 7


def _sent(n: int) -> list[Sent]:
    return [Sent(seq, seq * 20_000_000, seq * 0.02, "idle") for seq in range(n)]


def _echo(seq: int, count: int, up_ms: float = 10.0, down_ms: float = 10.0) -> Echo:
    sent_ns = seq * 20_000_000
    rx = sent_ns + int(up_ms * 1e6)
    tx = rx + 100_000
    return Echo(seq, rx, tx, count, tx + int(down_ms * 1e6), seq * 0.02)


def test_losses_are_told_apart_by_the_server_count() -> None:
    # Packets 0..9. Lost on the way out: 3 and 4; reached the server but the answer was lost: 6.
    reached = [s for s in range(10) if s not in (3, 4)]
    counts = {seq: i + 1 for i, seq in enumerate(reached)}
    echoes = {seq: _echo(seq, counts[seq]) for seq in reached if seq != 6}
    packets = stream.attribute(_sent(10), echoes, final_count=8)
    summary = stream.summarize(packets)
    assert (summary.loss_up.lost, summary.loss_up.total) == (2, 10)
    assert (summary.loss_down.lost, summary.loss_down.total) == (1, 8)
    assert summary.rtt is not None and summary.rtt.median_ms == pytest.approx(20.0)


def test_the_tail_is_settled_by_the_final_count_or_left_unknown() -> None:
    echoes = {seq: _echo(seq, seq + 1) for seq in range(5)}  # 5..7 never answered
    told = stream.attribute(_sent(8), echoes, final_count=7)  # 2 of 3 reached
    assert [p.reached_server for p in told[5:]] == [False, True, True]
    unknown = stream.attribute(_sent(8), echoes, final_count=None)
    assert [p.reached_server for p in unknown[5:]] == [None, None, None]
    assert stream.summarize(unknown).loss_up.total == 5


def test_one_way_jitter_per_direction() -> None:
    rng = random.Random(11)
    echoes = {
        seq: _echo(seq, seq + 1, up_ms=10 + rng.uniform(-3, 3), down_ms=10.0) for seq in range(500)
    }
    summary = stream.summarize(stream.attribute(_sent(500), echoes, 500))
    assert summary.jitter_up_ms == pytest.approx(2.0, abs=0.3)
    assert summary.jitter_down_ms == pytest.approx(0.0, abs=0.01)


def test_windows_cover_the_stretch() -> None:
    echoes = {seq: _echo(seq, seq + 1) for seq in range(1500)}  # 30 s
    packets = stream.attribute(_sent(1500), echoes, 1500)
    found = stream.windows(packets, 10.0)
    assert len(found) == 3
    assert all(s.packets == 500 for _, s in found)


def _ramp_then_flat(rate_bytes_s: float, ramp_s: float, total_s: float) -> list[tuple[float, int]]:
    samples, so_far = [], 0.0
    for i in range(int(total_s / 0.1) + 1):
        t = i * 0.1
        speed = rate_bytes_s * min(1.0, math.exp(5 * (t - ramp_s))) if t < ramp_s else rate_bytes_s
        samples.append((t, int(so_far)))
        so_far += speed * 0.1
    return samples


def test_steady_rate_discards_the_ramp_up() -> None:
    samples = _ramp_then_flat(2_500_000, ramp_s=1.5, total_s=5.0)  # 20 Mbit/s after 1.5 s
    steady = steady_rate.steady_rate(samples)
    assert steady is not None
    assert steady.mbps == pytest.approx(20.0, rel=0.01)
    assert 1.5 <= steady.start_s <= 2.0  # the ramp ends at 1.5 s; the 0.5 s smoothing lags
    naive = samples[-1][1] * 8 / samples[-1][0] / 1e6
    assert naive < 19  # averaging over the ramp would under-report


def test_merge_cumulative_adds_streams() -> None:
    a = [(0.0, 0), (1.0, 100), (2.0, 200)]
    b = [(0.5, 0), (1.5, 50), (2.0, 75)]
    merged = steady_rate.merge_cumulative([a, b], step_s=0.5)
    assert merged[0] == (0.0, 0)
    assert merged[-1] == (2.0, 275)


@pytest.mark.parametrize("count", [1, 2, 3, callquality.MIN_PROBES - 1])
def test_too_few_round_trips_give_a_delay_but_no_jitter_loss_or_mos(count: int) -> None:
    """One answer once read as jitter 0.00 ms and loss 0 % and passed: now NOT MEASURED."""
    rtts: list[float | None] = [20.0] * count
    measured, missing = callquality.measurements_from_rtts(rtts, "TCP ping", "the sampler died")
    assert {m.metric for m in measured} == {"network.latency_ms", "network.latency_p95_ms"}
    reasons = {u.metric: u.reason for u in missing}
    assert set(reasons) == set(callquality.SPREAD_METRICS)
    assert all(f"only {count} probe" in r and "the sampler died" in r for r in reasons.values())
    assert all(str(callquality.MIN_PROBES) in r for r in reasons.values())


def test_enough_probes_but_one_answer_gives_loss_and_no_jitter() -> None:
    rtts: list[float | None] = [20.0] + [None] * (callquality.MIN_PROBES - 1)
    measured, missing = callquality.measurements_from_rtts(rtts, "TCP ping")
    values = {m.metric: m.value for m in measured}
    assert values["network.loss_up_pct"] == pytest.approx(97.5)
    assert {u.metric for u in missing} == {"network.jitter_up_ms", "network.jitter_down_ms",
                                           "network.mos"}  # fmt: skip
