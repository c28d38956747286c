"""From raw timings to the figures a call cares about: delay, jitter, loss, bursts and MOS.

Pure functions, shared by every network backend (a homecheck server's UDP echo, or the timed
probes of a public speed-test server), so one number always means the same thing:
- round trip: min, median and 95th percentile (ms) of the echoes that came back;
- jitter: the RFC 3550 (section 6.4.1 and A.8) interarrival jitter estimator,
  J += (|D(i-1,i)| - J) / 16, where D is the difference of one-way transit times of consecutive
  packets. Transit = receive time - send time on two different clocks: the unknown clock offset
  cancels in D, so no clock synchronisation is needed. We report the mean of J over the stretch
  measured (J starts at the first |D| rather than 0, so a short stretch is not biased low); J is an
  estimate of the mean |D| (for a uniform +-j delay variation that is 2j/3);
- loss: the share of packets that never arrived (%), and the burst ratio BurstR = 1 / (p + q)
  (ITU-T G.113 Appendix I, the 2-state Markov model G.107 uses): p = P(lost | previous arrived),
  q = P(arrived | previous lost); 1 for random loss, above 1 when losses come in runs;
- MOS / R-factor: probes/network/analysis/emodel.py (ITU-T G.107).

Too few probes are no measurement: jitter, loss and MOS need at least MIN_PROBES probes of the
quiet line, or they are NOT MEASURED with the count in the reason (never 0 ms / 0 % from one
answer). Why 40: with n probes and none lost, the 95 % upper confidence bound of the loss is about
3/n (the "rule of three", Hanley & Lippman-Hand, JAMA 1983); at 40 that is 7.5 %, where the E-model
for G.711 already falls to R 70 / MOS 3.6 (the profiles' fail line), so fewer probes cannot even
tell a usable line from an unusable one. It is also more than two spans of the RFC 3550 estimator
(gain 1/16), so the mean jitter is not just its first few values. Both backends send far more when
nothing goes wrong (the public one ~60 probes in its 3 s quiet stretch, a homecheck server ~150
voice packets plus the loss probe); fewer means the sampler or the run stopped early.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from homecheck.metrics import Metric, measured
from homecheck.model import Measurement, Unmeasured
from probes.network.analysis import emodel

RFC3550_GAIN = 1 / 16
MAX_SAMPLES = 1000  # samples kept in the JSON per measurement (a long --duration is decimated)
MIN_PROBES = 40  # fewest quiet-line probes for jitter, loss and MOS (the module docstring says why)


@dataclass(frozen=True)
class RttStats:
    count: int
    min_ms: float
    median_ms: float
    p95_ms: float


@dataclass(frozen=True)
class LossStats:
    total: int
    lost: int
    pct: float
    burst_r: float
    longest_burst: int


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between order statistics."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def rtt_stats(rtts_ms: Sequence[float]) -> RttStats | None:
    if not rtts_ms:
        return None
    return RttStats(
        count=len(rtts_ms),
        min_ms=min(rtts_ms),
        median_ms=percentile(rtts_ms, 50),
        p95_ms=percentile(rtts_ms, 95),
    )


def rfc3550_jitter(transits_ms: Sequence[float]) -> list[float]:
    """The running RFC 3550 jitter J after each packet from the second on (ms)."""
    series: list[float] = []
    jitter: float | None = None
    for previous, current in itertools.pairwise(transits_ms):
        d = abs(current - previous)
        jitter = d if jitter is None else jitter + (d - jitter) * RFC3550_GAIN
        series.append(jitter)
    return series


def mean_jitter_ms(transits_ms: Sequence[float]) -> float | None:
    series = rfc3550_jitter(transits_ms)
    return sum(series) / len(series) if series else None


def burst_ratio(lost: Sequence[bool]) -> float:
    """BurstR of a loss pattern (True = lost), 1.0 when there is no loss or too little to tell."""
    ok_then_lost = ok_total = lost_then_ok = lost_total = 0
    for previous, current in itertools.pairwise(lost):
        if previous:
            lost_total += 1
            lost_then_ok += not current
        else:
            ok_total += 1
            ok_then_lost += current
    if not ok_total or not lost_total:
        return 1.0
    p = ok_then_lost / ok_total
    q = lost_then_ok / lost_total
    if p + q == 0:
        return 1.0
    return max(1.0, 1 / (p + q))


def loss_stats(lost: Sequence[bool]) -> LossStats:
    longest = run = 0
    for flag in lost:
        run = run + 1 if flag else 0
        longest = max(longest, run)
    count = sum(lost)
    return LossStats(
        total=len(lost),
        lost=count,
        pct=100 * count / len(lost) if lost else 0.0,
        burst_r=burst_ratio(lost),
        longest_burst=longest,
    )


def decimate(
    values: Sequence[float], limit: int = MAX_SAMPLES, digits: int = 2
) -> tuple[float, ...]:
    """At most `limit` evenly spaced values, rounded: enough to redraw a distribution."""
    step = max(1, math.ceil(len(values) / limit))
    return tuple(round(v, digits) for v in values[::step])


# What a stream of round trips gives: the figures of a call over this path.
CALL_METRICS = (
    Metric.LATENCY_MS,
    Metric.LATENCY_P95_MS,
    Metric.JITTER_UP_MS,
    Metric.JITTER_DOWN_MS,
    Metric.LOSS_UP_PCT,
    Metric.LOSS_DOWN_PCT,
    Metric.MOS,
)


# What needs MIN_PROBES: a delay is a delay from a few answers; these are not.
SPREAD_METRICS = (
    Metric.JITTER_UP_MS,
    Metric.JITTER_DOWN_MS,
    Metric.LOSS_UP_PCT,
    Metric.LOSS_DOWN_PCT,
    Metric.MOS,
)


def too_few_probes(count: int, why_short: str | None = None) -> str | None:
    """The reason jitter, loss and MOS are not measured from `count` probes, or None if enough."""
    if count >= MIN_PROBES:
        return None
    cause = f" ({why_short})" if why_short else ""
    return (
        f"only {count} probe(s) of the quiet line{cause}; jitter, loss and call quality need at "
        f"least {MIN_PROBES} to mean anything"
    )


def rtt_measurements(
    rtts_ms: Sequence[float], method: str
) -> tuple[tuple[Measurement, ...], RttStats | None]:
    """`network.latency_ms` (median) and `network.latency_p95_ms` from round-trip samples."""
    stats = rtt_stats(rtts_ms)
    if stats is None:
        return (), None
    samples = decimate(rtts_ms)
    return (
        measured(Metric.LATENCY_MS, round(stats.median_ms, 2), samples=samples, method=method),
        measured(Metric.LATENCY_P95_MS, round(stats.p95_ms, 2), samples=samples, method=method),
    ), stats


def measurements_from_rtts(
    rtts_ms: Sequence[float | None], method: str, why_short: str | None = None
) -> tuple[tuple[Measurement, ...], tuple[Unmeasured, ...]]:
    """For a backend that only has round trips (one entry per probe, None = no answer): delay,
    jitter, loss and MOS. Without one-way times the direction of jitter and loss cannot be told
    apart, so both directions get the round-trip figure: jitter is RFC 3550 applied to the round
    trips divided by sqrt(2) (two independent directions of equal variation add up in the round
    trip), loss is the round-trip loss (an upper bound for each direction).

    Fewer than MIN_PROBES probes: delay only; jitter, loss and MOS are NOT MEASURED with the count
    (and `why_short`, what cut the probes short, when the caller knows)."""
    answered = [r for r in rtts_ms if r is not None]
    if not answered:
        why = "no answer came back from the test server, so delay and call quality are unknown"
        return (), tuple(Unmeasured(m, why) for m in CALL_METRICS)
    rtt_figures, stats = rtt_measurements(answered, method)
    assert stats is not None
    too_few = too_few_probes(len(rtts_ms), why_short)
    if too_few is not None:
        return rtt_figures, tuple(Unmeasured(m, too_few) for m in SPREAD_METRICS)
    loss = loss_stats([r is None for r in rtts_ms])
    loss_method = f"{method}; round-trip loss of {loss.total} probes, both directions"
    loss_figures = (
        measured(Metric.LOSS_UP_PCT, round(loss.pct, 2), method=loss_method),
        measured(Metric.LOSS_DOWN_PCT, round(loss.pct, 2), method=loss_method),
    )
    j_series = rfc3550_jitter(answered)
    if not j_series:  # enough probes sent, but a single one answered
        why = f"only 1 of {len(rtts_ms)} probes was answered: jitter needs two answers or more"
        return (*rtt_figures, *loss_figures), (
            Unmeasured(Metric.JITTER_UP_MS, why),
            Unmeasured(Metric.JITTER_DOWN_MS, why),
            Unmeasured(Metric.MOS, "the call quality needs the jitter, which was not measured"),
        )
    jitter = sum(j_series) / len(j_series) / math.sqrt(2)
    quality = emodel.call_quality(stats.median_ms, jitter, loss.pct, loss.burst_r)
    jitter_method = f"{method}; RFC 3550 on round trips / sqrt(2), both directions"
    return (
        *rtt_figures,
        measured(Metric.JITTER_UP_MS, round(jitter, 2), method=jitter_method),
        measured(Metric.JITTER_DOWN_MS, round(jitter, 2), method=jitter_method),
        *loss_figures,
        measured(Metric.MOS, quality.mos, method=f"ITU-T G.107, R = {quality.r_factor}"),
    ), ()
