"""One network run against `homecheck serve`, and how it becomes the probe's result.

probes/network/__init__.py fills a `Run` while it drives the phases; `build` turns it into
measurements: the speeds, then the figures of the call-like stream (delay, jitter, loss per
direction, bufferbloat, MOS and the worst windows of a stability run), or delay alone from TCP
timings when UDP is blocked. The rules for what counts (which packets make the loss figure, which
stretch is "loaded", when a figure is not measured and why) sit here, in one place; the statistics
themselves are pure functions in probes/network/analysis/.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field

from homecheck.metrics import Metric, measured
from homecheck.model import (
    JSON,
    Cause,
    Direction,
    Measurement,
    Phase,
    ProbeResult,
    Series,
    SeriesName,
    Unmeasured,
)
from homecheck.probe import STOPPED_REASON
from probes.network.analysis import callquality, emodel, speeds
from probes.network.analysis.callquality import LossStats
from probes.network.analysis.loss import Counted, ProbeLoss, probe_loss
from probes.network.analysis.steady_rate import SAMPLE_S
from probes.network.analysis.stream import (
    Packet,
    Summary,
    attribute,
    between,
    in_phases,
    summarize,
    windows,
)
from probes.network.employer.loss_stream import LossStream
from probes.network.employer.session import SERVER_STOPPED
from probes.network.employer.throughput import Transfer
from probes.network.employer.voice_stream import INTERVAL_S, CallStream, TcpTimer

LOST = (
    "the connection to the test server was lost during the test, so this was not measured; "
    "check your connection (cable, Wi-Fi) and run homecheck again"
)
STOPPED = STOPPED_REASON
UDP_BLOCKED = (
    "voice traffic (UDP) is blocked on this network, so this could not be measured; "
    "see the 'Voice traffic (UDP) gets through' line"
)
REFUSED = (
    "the test server refused every {direction} request ({answer}), so this was not measured: a "
    "problem with the server or its limits, not with your connection; tell whoever gave you the "
    "server address"
)
NEEDS_DURATION = (
    "measured only in a longer run: use --duration 60 (or more) to check the connection's "
    "stability over time"
)
# Reasons above that are no failure to measure: the aggregator reads the cause, never the text.
CAUSES = {STOPPED: Cause.STOPPED, NEEDS_DURATION: Cause.NEEDS_LONGER_RUN}
# What the call-like stream gives (a lost connection or blocked UDP leaves all of them out).
CALL_METRICS = callquality.CALL_METRICS
WORST_WINDOW_METRICS = (
    Metric.WORST_WINDOW_LOSS_PCT,
    Metric.WORST_WINDOW_JITTER_MS,
    Metric.WORST_WINDOW_MOS,
)
WIRE_BYTES = 172 + 8 + 20 + 14
TCP_PAYLOAD_SHARE = 1448 / 1514
STREAM_METHOD = "UDP echo, 50 packets/s of 172 bytes (G.711-like)"


@dataclass
class Run:
    started: float
    stability: bool
    window_s: float
    ended: float = 0.0
    cancelled: bool = False
    lost: bool = False
    lost_in: Phase | None = None  # the phase during which the connection was lost
    server_stopped: bool = False  # the server shut down during the test (not the line's fault)
    udp_ok: bool | None = None
    stream: CallStream | None = None
    loss: LossStream | None = None
    tcp: TcpTimer | None = None
    transfers: dict[Direction, Transfer] = field(default_factory=dict)
    phases: dict[Phase, list[float]] = field(default_factory=dict)

    def phase_start(self, name: Phase, at: float) -> None:
        self.phases[name] = [at, at]

    def phase_end(self, name: Phase) -> None:
        self.phases[name][1] = time.monotonic()


@dataclass
class Out:
    measurements: list[Measurement] = field(default_factory=list)
    unmeasured: list[Unmeasured] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    details: dict[str, JSON] = field(default_factory=dict)

    def missing(self, reason: str, *metrics: Metric) -> None:
        cause = CAUSES.get(reason, Cause.PROBE_FAILED)
        self.unmeasured.extend(Unmeasured(m, reason, cause) for m in metrics)


def loaded_window(run: Run, direction: Direction) -> tuple[float, float] | None:
    transfer = run.transfers.get(direction)
    if transfer is None:
        return None
    if transfer.steady is not None:
        return transfer.steady.start_s, transfer.steady.end_s
    return (transfer.started + transfer.ended) / 2, transfer.ended


def rtt_series(run: Run, points: list[tuple[float, float]], out: Out) -> None:
    phases = tuple(
        (name, round(a - run.started, 3), round(b - run.started, 3))
        for name, (a, b) in run.phases.items()
    )
    out.series.append(
        Series(
            SeriesName.RTT_MS,
            "ms",
            tuple((round(t - run.started, 3), round(v, 3)) for t, v in points),
            phases,
        )
    )


def build(probe: str, run: Run) -> ProbeResult:
    out = Out()
    reason_cut = (
        STOPPED
        if run.cancelled
        else SERVER_STOPPED
        if run.server_stopped
        else LOST
        if run.lost
        else None
    )
    _throughput(run, out, reason_cut)
    if run.udp_ok is not None:
        out.measurements.append(
            measured(Metric.UDP_OK, run.udp_ok, method="UDP echo answered within 1.5 s")
        )
    if run.stream is not None:
        stream_figures(run, run.stream, out, reason_cut)
    elif run.tcp is not None:
        tcp_figures(run, run.tcp, out)
    else:
        out.missing(reason_cut or UDP_BLOCKED, *CALL_METRICS, Metric.LOADED_LATENCY_INCREASE_MS)
    if not run.stability:
        out.missing(NEEDS_DURATION, *WORST_WINDOW_METRICS)
    out.details["phases_s"] = {
        name: [round(a - run.started, 3), round(b - run.started, 3)]
        for name, (a, b) in run.phases.items()
    }
    done = {m.metric for m in out.measurements}
    return ProbeResult(
        probe=probe,
        measurements=tuple(out.measurements),
        unmeasured=tuple(u for u in out.unmeasured if u.metric not in done),
        series=tuple(out.series),
        details=out.details,
        duration_s=round(run.ended - run.started, 3),
        partial=run.cancelled or run.lost or run.server_stopped,
    )


def _throughput(run: Run, out: Out, reason_cut: str | None) -> None:
    info: dict[str, JSON] = {}
    for direction in Direction:
        metric = speeds.SPEED_METRICS[direction]
        transfer = run.transfers.get(direction)
        if transfer is None:
            out.missing(reason_cut or LOST, metric)
            continue
        out.series.append(speeds.rate_series(direction, transfer, run.started))
        steady = transfer.steady
        info[direction] = speeds.details(transfer, run.started)
        if transfer.server_stopped or (run.server_stopped and run.lost_in == Phase(direction)):
            out.missing(SERVER_STOPPED, metric)
        elif transfer.refused is not None:
            info[direction]["refused"] = transfer.refused  # type: ignore[index]
            out.missing(REFUSED.format(direction=direction, answer=transfer.refused), metric)
        elif transfer.stalled or run.lost_in == Phase(direction) or (reason_cut and steady is None):
            out.missing(reason_cut or LOST, metric)
        elif steady is None:
            out.missing(
                f"the {direction} test moved too little data to measure a speed; run homecheck "
                "again, and if it repeats the connection to the test server is very poor",
                metric,
            )
        else:
            samples = speeds.steady_samples(transfer)
            share = _voice_share_mbps(run, direction, steady.start_s, steady.end_s)
            info[direction]["voice_stream_mbps"] = round(share, 3)  # type: ignore[index]
            method = (
                f"{transfer.streams} parallel TCP streams"
                + (" over TLS" if transfer.tls else "")
                + ", bytes counted at the receiver "
                f"{'by its kernel (TCP_INFO) ' if transfer.kernel_counted else ''}"
                f"every {SAMPLE_S * 1000:.0f} ms, first "
                f"{steady.start_s - transfer.started:.1f} s of ramp-up discarded"
                + (f", plus {share:.3f} for the call-like stream sharing the line" if share else "")
                + (
                    " (over TLS the kernel counts TLS records, the TCP payload as iperf3 counts "
                    "it: about 0.13 % above the decrypted bytes)"
                    if transfer.tls and transfer.kernel_counted
                    else ""
                )
            )
            out.measurements.append(
                measured(
                    metric,
                    round(steady.mbps + share, 2),
                    samples=callquality.decimate(samples),
                    method=method,
                )
            )
    out.details["throughput"] = info


def _voice_share_mbps(run: Run, direction: Direction, start: float, end: float) -> float:
    """The line's capacity the call-like stream used while TCP was measured, in TCP-goodput
    terms: its packets that got through that way, at 214 bytes on the wire each (172 UDP
    payload + 8 UDP + 20 IP + 14 Ethernet), scaled by TCP's payload share of a full frame
    (1448 of 1514 bytes). Without it a 1 Mbit/s uplink would read 8 % low: the stream sends
    86 kbit/s each way while the speed is measured, as a call would."""
    if run.stream is None or end <= start:
        return 0.0
    stream = run.stream
    if direction is Direction.UPLOAD:  # packets sent in the window that reached the server
        count = sum(1 for s in stream.sent if start <= s.at < end and s.seq in stream.echoes)
    else:  # answers that arrived in the window
        count = sum(1 for e in stream.echoes.values() if start <= e.at < end)
    return count * WIRE_BYTES * 8 * TCP_PAYLOAD_SHARE / (end - start) / 1e6


def stream_figures(run: Run, stream: CallStream, out: Out, reason_cut: str | None) -> None:
    packets = attribute(stream.sent, stream.echoes, stream.final_count)
    cutoff = math.inf
    if run.lost:
        # Packets sent after the last one that came back had no chance: not "loss".
        answered = [p.at for p in packets if p.echo is not None]
        cutoff = max(answered, default=run.started)
        packets = [p for p in packets if p.at <= cutoff]
    idle = in_phases(packets, Phase.IDLE)
    up_pool = in_phases(packets, Phase.IDLE, Phase.DOWNLOAD)
    down_pool = in_phases(packets, Phase.IDLE, Phase.UPLOAD)
    quiet = summarize(idle, up_pool, down_pool)
    rtt_series(run, [(p.at, p.rtt_ms) for p in packets if p.rtt_ms is not None], out)
    out.details["stream"] = {
        "sent": len(stream.sent),
        "answered": len(stream.echoes),
        "lost_up": sum(p.reached_server is False for p in packets),
        "lost_down": sum(bool(p.reached_server) and p.echo is None for p in packets),
        "unresolved": sum(p.reached_server is None for p in packets),
        "count_queries": stream.queries_sent,
        "interval_ms": INTERVAL_S * 1000,
        "timestamps": "kernel" if stream.kernel_timestamps else "process",
        "quiet": _summary_json(quiet),
        **{
            phase: _summary_json(summarize(in_phases(packets, phase)))
            for phase in (Phase.DOWNLOAD, Phase.UPLOAD)
        },
    }
    echo_until = _echo_until(run, quiet)
    dense = probe_loss(run.loss, cutoff, echo_until) if run.loss is not None else None
    if run.loss is not None:
        out.details["loss_probe"] = _probe_json(run, dense)
    if quiet.rtt is None:
        out.missing(reason_cut or LOST, *CALL_METRICS)
    else:
        idle_rtts = [p.rtt_ms for p in idle if p.rtt_ms is not None]
        out.measurements.extend(
            callquality.rtt_measurements(idle_rtts, STREAM_METHOD + ", quiet line")[0]
        )
        too_few = callquality.too_few_probes(len(idle))
        if too_few is None:
            _jitter_loss_mos(quiet, idle, dense, out)
        else:  # a run stopped in its first second: a delay, but no jitter/loss/MOS from 3 packets
            out.missing(reason_cut or too_few, *callquality.SPREAD_METRICS)
    increases: dict[str, JSON] = {}
    for direction in Direction:
        window = loaded_window(run, direction)
        phase = in_phases(packets, Phase(direction.value))
        loaded = (
            [p.rtt_ms for p in between(phase, *window) if p.rtt_ms is not None] if window else []
        )
        if loaded and quiet.rtt is not None:
            increases[direction] = round(statistics.median(loaded) - quiet.rtt.median_ms, 2)
    _loaded_measurement(increases, out, reason_cut, "UDP echo round trips")
    if run.stability:
        _worst_windows(run, idle, echo_until, out)


def _echo_until(run: Run, quiet: Summary) -> float:
    """Loss-probe answers to packets sent after this came back through a filling downstream."""
    start, end = run.phases.get(Phase.IDLE, [run.started, run.started])
    idle_end = end if end > start else (run.ended or math.inf)
    rtt_s = quiet.rtt.median_ms / 1000 if quiet.rtt is not None else 0.5
    return idle_end - (2 * rtt_s + 0.05)


def _pooled(voice: LossStats, dense: Counted | None) -> tuple[Counted, str]:
    """Voice-stream and loss-probe counts together (both sample the same line), and how."""
    own = Counted(voice.lost, voice.total)
    if dense is None or dense.total == 0:
        return own, f"{own.lost} of {own.total} voice-stream packets lost"
    both = own + dense
    return both, (
        f"{both.lost} of {both.total} packets lost ({dense.total} of the 500/s loss probe, "
        f"{own.total} of the voice-like stream)"
    )


def _quality(quiet: Summary, up: Counted, down: Counted) -> emodel.CallQuality | None:
    """The E-model with the pooled loss (the burst ratio comes from the voice stream, whose
    20 ms spacing is the one the codec's concealment sees)."""
    if quiet.rtt is None:
        return None
    jitter = max(quiet.jitter_up_ms or 0.0, quiet.jitter_down_ms or 0.0)
    if up.pct >= down.pct:
        return emodel.call_quality(quiet.rtt.median_ms, jitter, up.pct, quiet.loss_up.burst_r)
    return emodel.call_quality(quiet.rtt.median_ms, jitter, down.pct, quiet.loss_down.burst_r)


def _jitter_loss_mos(quiet: Summary, idle: list[Packet], dense: ProbeLoss | None, out: Out) -> None:
    for metric, jitter, transits in (
        (Metric.JITTER_UP_MS, quiet.jitter_up_ms, [p.up_transit_ms for p in idle]),
        (Metric.JITTER_DOWN_MS, quiet.jitter_down_ms, [p.down_transit_ms for p in idle]),
    ):
        if jitter is None:
            out.missing("too few answers came back to measure jitter", metric)
            continue
        known = [v for v in transits if v is not None]
        out.measurements.append(
            measured(
                metric,
                round(jitter, 2),
                samples=callquality.decimate(callquality.rfc3550_jitter(known)),
                method=f"RFC 3550 interarrival jitter, mean over the quiet line; {STREAM_METHOD}",
            )
        )
    pooled = {}
    for metric, loss, when, extra in (
        (Metric.LOSS_UP_PCT, quiet.loss_up, "downloading", dense.up if dense else None),
        (Metric.LOSS_DOWN_PCT, quiet.loss_down, "uploading", dense.down if dense else None),
    ):
        counted, how = _pooled(loss, extra)
        pooled[metric] = counted
        out.measurements.append(
            measured(
                metric,
                round(counted.pct, 2),
                method=f"{how} (quiet line and while {when}); voice stream: burst ratio "
                f"{loss.burst_r:.2f}, longest run {loss.longest_burst}",
            )
        )
    quality = _quality(quiet, pooled[Metric.LOSS_UP_PCT], pooled[Metric.LOSS_DOWN_PCT])
    if quality is not None:
        out.measurements.append(
            measured(
                Metric.MOS,
                quality.mos,
                method=f"ITU-T G.107 E-model, G.711 with PLC: R = {quality.r_factor}, "
                f"mouth-to-ear {quality.mouth_to_ear_ms} ms, Ie,eff {quality.ie_eff}",
            )
        )


def _loaded_measurement(
    increases: dict[str, JSON], out: Out, reason_cut: str | None, how: str
) -> None:
    out.details["loaded_latency_increase_ms"] = increases
    values = [v for v in increases.values() if isinstance(v, float | int)]
    if not values:
        out.missing(reason_cut or LOST, Metric.LOADED_LATENCY_INCREASE_MS)
        return
    out.measurements.append(
        measured(
            Metric.LOADED_LATENCY_INCREASE_MS,
            round(max(0.0, max(values)), 2),
            samples=[float(v) for v in values],
            method=f"median round trip while the line is full minus quiet, worse of download "
            f"and upload ({how})",
        )
    )


def _worst_windows(run: Run, idle: list[Packet], echo_until: float, out: Out) -> None:
    window_s = run.window_s
    found = windows(idle, window_s)
    if not found:
        shorter = bool(idle) and idle[-1].at - idle[0].at < window_s
        reason = NEEDS_DURATION if shorter else "no answers came back during the stability run"
        out.missing(reason, *WORST_WINDOW_METRICS)
        return
    rows: list[JSON] = []
    loss, jitter, mos = [], [], []
    for start, s in found:
        row = {"start_s": round(start - idle[0].at, 1), **_summary_json(s)}
        end = start + window_s
        dense = (
            probe_loss(run.loss, end, min(end, echo_until), start, with_burst=False)
            if run.loss is not None
            else None
        )
        up, _ = _pooled(s.loss_up, dense.up if dense else None)
        down, _ = _pooled(s.loss_down, dense.down if dense else None)
        quality = _quality(s, up, down)
        row.update(
            loss_up_pct=round(up.pct, 2),
            loss_down_pct=round(down.pct, 2),
            lost_up=up.lost,
            lost_down=down.lost,
            r_factor=quality.r_factor if quality else None,
            mos=quality.mos if quality else None,
        )
        rows.append(row)
        loss.append(max(up.pct, down.pct))
        jitter.append(max(s.jitter_up_ms or 0.0, s.jitter_down_ms or 0.0))
        if quality is not None:
            mos.append(quality.mos)
    out.details["windows"] = rows
    how = f"worst of {len(found)} windows of {window_s:g} s"
    for metric, values in (
        (Metric.WORST_WINDOW_LOSS_PCT, loss),
        (Metric.WORST_WINDOW_JITTER_MS, jitter),
    ):
        out.measurements.append(
            measured(
                metric,
                round(max(values), 2),
                samples=[round(v, 2) for v in values],
                method=how,
            )
        )
    if mos:
        out.measurements.append(
            measured(Metric.WORST_WINDOW_MOS, min(mos), samples=mos, method=how)
        )


def tcp_figures(run: Run, tcp: TcpTimer, out: Out) -> None:
    idle = [s.rtt_ms for s in tcp.samples if s.phase == Phase.IDLE and s.rtt_ms is not None]
    method = "TCP connection set-up time (UDP blocked)"
    rtt_series(run, [(s.at, s.rtt_ms) for s in tcp.samples if s.rtt_ms is not None], out)
    out.missing(
        UDP_BLOCKED,
        Metric.JITTER_UP_MS,
        Metric.JITTER_DOWN_MS,
        Metric.LOSS_UP_PCT,
        Metric.LOSS_DOWN_PCT,
        Metric.MOS,
    )
    if not idle:
        out.missing(
            LOST, Metric.LATENCY_MS, Metric.LATENCY_P95_MS, Metric.LOADED_LATENCY_INCREASE_MS
        )
        return
    out.measurements.extend(callquality.rtt_measurements(idle, method)[0])
    quiet = statistics.median(idle)
    increases: dict[str, JSON] = {}
    for direction in Direction:
        window = loaded_window(run, direction)
        loaded = [
            s.rtt_ms
            for s in tcp.samples
            if s.phase == Phase(direction)
            and s.rtt_ms is not None
            and window
            and window[0] <= s.at < window[1]
        ]
        if loaded:
            increases[direction] = round(statistics.median(loaded) - quiet, 2)
    _loaded_measurement(increases, out, None, method)


def _probe_json(run: Run, dense: ProbeLoss | None) -> dict[str, JSON]:
    stream = run.loss
    assert stream is not None
    found: dict[str, JSON] = {
        "pps": stream.pps,
        "sent": len(stream.sent_at),
        "down_planned": stream.down_planned,
        "down_sent": stream.down_sent,
        "errors": list(stream.errors),
    }
    if dense is not None:
        found.update(
            lost_up=dense.up.lost,
            counted_up=dense.up.total,
            lost_down=dense.down.lost,
            counted_down=dense.down.total,
        )
    return found


def _summary_json(s: Summary) -> dict[str, JSON]:
    def num(v: float | None) -> float | None:
        return None if v is None else round(v, 2)

    return {
        "packets": s.packets,
        "rtt_min_ms": num(s.rtt.min_ms if s.rtt else None),
        "rtt_median_ms": num(s.rtt.median_ms if s.rtt else None),
        "rtt_p95_ms": num(s.rtt.p95_ms if s.rtt else None),
        "jitter_up_ms": num(s.jitter_up_ms),
        "jitter_down_ms": num(s.jitter_down_ms),
        "loss_up_pct": num(s.loss_up.pct),
        "loss_down_pct": num(s.loss_down.pct),
        "lost_up": s.loss_up.lost,
        "lost_down": s.loss_down.lost,
        "burst_ratio_up": num(s.loss_up.burst_r),
        "burst_ratio_down": num(s.loss_down.burst_r),
        "longest_burst_up": s.loss_up.longest_burst,
        "longest_burst_down": s.loss_down.longest_burst,
        "r_factor": s.quality.r_factor if s.quality else None,
        "mos": s.quality.mos if s.quality else None,
    }
