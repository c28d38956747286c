"""Turn one network run (stream packets, TCP timings, transfers) into the probe's result.

Separate from probes/network.py, which drives the phases, so the rules for what counts (which
packets make the loss figure, which stretch is "loaded", when a figure is not measured and why)
sit in one place.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

from homecheck.model import JSON, Measurement, ProbeResult, Series, Unmeasured
from probes import callquality
from probes.rate import SAMPLE_S
from probes.stream_analysis import (
    Packet,
    Summary,
    attribute,
    between,
    in_phases,
    summarize,
    windows,
)
from probes.throughput import Transfer
from probes.voip_stream import INTERVAL_S, CallStream, TcpTimer

LOST = (
    "the connection to the test server was lost during the test, so this was not measured; "
    "check your connection (cable, Wi-Fi) and run homecheck again"
)
STOPPED = "stopped by the user (Ctrl-C) before this was measured"
UDP_BLOCKED = (
    "voice traffic (UDP) is blocked on this network, so this could not be measured; "
    "see the 'Voice traffic (UDP) gets through' line"
)
NEEDS_DURATION = (
    "measured only in a longer run: use --duration 60 (or more) to check the connection's "
    "stability over time"
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
    lost_in: str | None = None  # the phase during which the connection was lost
    udp_ok: bool | None = None
    stream: CallStream | None = None
    tcp: TcpTimer | None = None
    transfers: dict[str, Transfer] = field(default_factory=dict)
    phases: dict[str, list[float]] = field(default_factory=dict)

    def phase_start(self, name: str, at: float) -> None:
        self.phases[name] = [at, at]

    def phase_end(self, name: str) -> None:
        self.phases[name][1] = time.monotonic()


@dataclass
class _Out:
    measurements: list[Measurement] = field(default_factory=list)
    unmeasured: list[Unmeasured] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    details: dict[str, JSON] = field(default_factory=dict)

    def missing(self, reason: str, *metrics: str) -> None:
        self.unmeasured.extend(Unmeasured(f"network.{m}", reason) for m in metrics)


def build(probe: str, run: Run) -> ProbeResult:
    out = _Out()
    reason_cut = STOPPED if run.cancelled else LOST if run.lost else None
    _throughput(run, out, reason_cut)
    if run.udp_ok is not None:
        out.measurements.append(
            Measurement("network.udp_ok", run.udp_ok, "", (), "UDP echo answered within 1.5 s")
        )
    if run.stream is not None:
        _stream_figures(run, run.stream, out, reason_cut)
    elif run.tcp is not None:
        _tcp_figures(run, run.tcp, out)
    else:
        out.missing(
            reason_cut or UDP_BLOCKED,
            "latency_ms",
            "latency_p95_ms",
            "jitter_up_ms",
            "jitter_down_ms",
            "loss_up_pct",
            "loss_down_pct",
            "mos",
            "loaded_latency_increase_ms",
        )
    if not run.stability:
        out.missing(
            NEEDS_DURATION, "worst_window_loss_pct", "worst_window_jitter_ms", "worst_window_mos"
        )
    out.details["phases_s"] = {
        name: [round(a - run.started, 3), round(b - run.started, 3)]
        for name, (a, b) in run.phases.items()
    }
    measured = {m.metric for m in out.measurements}
    return ProbeResult(
        probe=probe,
        measurements=tuple(out.measurements),
        unmeasured=tuple(u for u in out.unmeasured if u.metric not in measured),
        series=tuple(out.series),
        details=out.details,
        duration_s=round(run.ended - run.started, 3),
        partial=run.cancelled or run.lost,
    )


def _throughput(run: Run, out: _Out, reason_cut: str | None) -> None:
    info: dict[str, JSON] = {}
    for direction in ("download", "upload"):
        metric = f"{direction}_mbps"
        transfer = run.transfers.get(direction)
        if transfer is None:
            out.missing(reason_cut or LOST, metric)
            continue
        rates = transfer.rate_series()
        out.series.append(
            Series(
                metric, "Mbit/s", tuple((round(t - run.started, 3), round(r, 3)) for t, r in rates)
            )
        )
        steady = transfer.steady
        info[direction] = {
            "steady_from_s": None if steady is None else round(steady.start_s - run.started, 3),
            "steady_to_s": None if steady is None else round(steady.end_s - run.started, 3),
            "stalled": transfer.stalled,
            "errors": list(dict.fromkeys(transfer.errors))[:5],
        }
        if transfer.stalled or run.lost_in == direction or (reason_cut and steady is None):
            out.missing(reason_cut or LOST, metric)
        elif steady is None:
            out.missing(
                f"the {direction} test moved too little data to measure a speed; run homecheck "
                "again, and if it repeats the connection to the test server is very poor",
                metric,
            )
        else:
            samples = [r for t, r in rates if steady.start_s < t <= steady.end_s]
            share = _voice_share_mbps(run, direction, steady.start_s, steady.end_s)
            info[direction]["voice_stream_mbps"] = round(share, 3)  # type: ignore[index]
            method = (
                f"{transfer.streams} parallel TCP streams, bytes counted at the receiver "
                f"{'by its kernel (TCP_INFO) ' if transfer.kernel_counted else ''}"
                f"every {SAMPLE_S * 1000:.0f} ms, first "
                f"{steady.start_s - transfer.started:.1f} s of ramp-up discarded"
                + (f", plus {share:.3f} for the call-like stream sharing the line" if share else "")
            )
            out.measurements.append(
                Measurement(
                    f"network.{metric}",
                    round(steady.mbps + share, 2),
                    "Mbit/s",
                    callquality.decimate(samples),
                    method,
                )
            )
    out.details["throughput"] = info


def _voice_share_mbps(run: Run, direction: str, start: float, end: float) -> float:
    """The line's capacity the call-like stream used while TCP was measured, in TCP-goodput
    terms: its packets that got through that way, at 214 bytes on the wire each (172 UDP
    payload + 8 UDP + 20 IP + 14 Ethernet), scaled by TCP's payload share of a full frame
    (1448 of 1514 bytes). Without it a 1 Mbit/s uplink would read 8 % low: the stream sends
    86 kbit/s each way while the speed is measured, as a call would."""
    if run.stream is None or end <= start:
        return 0.0
    stream = run.stream
    if direction == "upload":  # packets sent in the window that reached the server
        count = sum(1 for s in stream.sent if start <= s.at < end and s.seq in stream.echoes)
    else:  # answers that arrived in the window
        count = sum(1 for e in stream.echoes.values() if start <= e.at < end)
    return count * WIRE_BYTES * 8 * TCP_PAYLOAD_SHARE / (end - start) / 1e6


def _loaded_window(run: Run, direction: str) -> tuple[float, float] | None:
    transfer = run.transfers.get(direction)
    if transfer is None:
        return None
    if transfer.steady is not None:
        return transfer.steady.start_s, transfer.steady.end_s
    return (transfer.started + transfer.ended) / 2, transfer.ended


def _stream_figures(run: Run, stream: CallStream, out: _Out, reason_cut: str | None) -> None:
    packets = attribute(stream.sent, stream.echoes, stream.final_count)
    if run.lost:
        # Packets sent after the last one that came back had no chance: not "loss".
        answered = [p.at for p in packets if p.echo is not None]
        cutoff = max(answered, default=run.started)
        packets = [p for p in packets if p.at <= cutoff]
    idle = in_phases(packets, "idle")
    up_pool = in_phases(packets, "idle", "download")
    down_pool = in_phases(packets, "idle", "upload")
    quiet = summarize(idle, up_pool, down_pool)
    _rtt_series(run, [(p.at, p.rtt_ms) for p in packets if p.rtt_ms is not None], out)
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
            for phase in ("download", "upload")
        },
    }
    if quiet.rtt is None:
        out.missing(
            reason_cut or LOST,
            "latency_ms",
            "latency_p95_ms",
            "jitter_up_ms",
            "jitter_down_ms",
            "loss_up_pct",
            "loss_down_pct",
            "mos",
        )
    else:
        idle_rtts = [p.rtt_ms for p in idle if p.rtt_ms is not None]
        out.measurements.extend(
            callquality.rtt_measurements(idle_rtts, STREAM_METHOD + ", quiet line")[0]
        )
        _jitter_loss_mos(quiet, idle, out)
    increases: dict[str, JSON] = {}
    for direction in ("download", "upload"):
        window = _loaded_window(run, direction)
        phase = in_phases(packets, direction)
        loaded = (
            [p.rtt_ms for p in between(phase, *window) if p.rtt_ms is not None] if window else []
        )
        if loaded and quiet.rtt is not None:
            increases[direction] = round(statistics.median(loaded) - quiet.rtt.median_ms, 2)
    _loaded_measurement(increases, out, reason_cut, "UDP echo round trips")
    if run.stability:
        _worst_windows(idle, run.window_s, out)


def _jitter_loss_mos(quiet: Summary, idle: list[Packet], out: _Out) -> None:
    for direction, jitter in (("up", quiet.jitter_up_ms), ("down", quiet.jitter_down_ms)):
        if jitter is None:
            out.missing("too few answers came back to measure jitter", f"jitter_{direction}_ms")
            continue
        transits = [
            v
            for p in idle
            if (v := (p.up_transit_ms if direction == "up" else p.down_transit_ms)) is not None
        ]
        out.measurements.append(
            Measurement(
                f"network.jitter_{direction}_ms",
                round(jitter, 2),
                "ms",
                callquality.decimate(callquality.rfc3550_jitter(transits)),
                f"RFC 3550 interarrival jitter, mean over the quiet line; {STREAM_METHOD}",
            )
        )
    for direction, loss, when in (
        ("up", quiet.loss_up, "downloading"),
        ("down", quiet.loss_down, "uploading"),
    ):
        out.measurements.append(
            Measurement(
                f"network.loss_{direction}_pct",
                round(loss.pct, 2),
                "%",
                (),
                f"{loss.lost} of {loss.total} packets lost (quiet line and while {when}); "
                f"burst ratio {loss.burst_r:.2f}, longest run {loss.longest_burst}",
            )
        )
    if quiet.quality is not None:
        q = quiet.quality
        out.measurements.append(
            Measurement(
                "network.mos",
                q.mos,
                "MOS",
                (),
                f"ITU-T G.107 E-model, G.711 with PLC: R = {q.r_factor}, "
                f"mouth-to-ear {q.mouth_to_ear_ms} ms, Ie,eff {q.ie_eff}",
            )
        )


def _loaded_measurement(
    increases: dict[str, JSON], out: _Out, reason_cut: str | None, how: str
) -> None:
    out.details["loaded_latency_increase_ms"] = increases
    values = [v for v in increases.values() if isinstance(v, float | int)]
    if not values:
        out.missing(reason_cut or LOST, "loaded_latency_increase_ms")
        return
    out.measurements.append(
        Measurement(
            "network.loaded_latency_increase_ms",
            round(max(0.0, max(values)), 2),
            "ms",
            tuple(float(v) for v in values),
            f"median round trip while the line is full minus quiet, worse of download "
            f"and upload ({how})",
        )
    )


def _worst_windows(idle: list[Packet], window_s: float, out: _Out) -> None:
    found = windows(idle, window_s)
    if not found:
        out.missing(
            "no answers came back during the stability run",
            "worst_window_loss_pct",
            "worst_window_jitter_ms",
            "worst_window_mos",
        )
        return
    rows: list[JSON] = []
    loss, jitter, mos = [], [], []
    for start, s in found:
        row = {"start_s": round(start - idle[0].at, 1), **_summary_json(s)}
        rows.append(row)
        loss.append(max(s.loss_up.pct, s.loss_down.pct))
        jitter.append(max(s.jitter_up_ms or 0.0, s.jitter_down_ms or 0.0))
        if s.quality is not None:
            mos.append(s.quality.mos)
    out.details["windows"] = rows
    how = f"worst of {len(found)} windows of {window_s:g} s"
    out.measurements.append(
        Measurement(
            "network.worst_window_loss_pct",
            round(max(loss), 2),
            "%",
            tuple(round(v, 2) for v in loss),
            how,
        )
    )
    out.measurements.append(
        Measurement(
            "network.worst_window_jitter_ms",
            round(max(jitter), 2),
            "ms",
            tuple(round(v, 2) for v in jitter),
            how,
        )
    )
    if mos:
        out.measurements.append(
            Measurement("network.worst_window_mos", min(mos), "MOS", tuple(mos), how)
        )


def _tcp_figures(run: Run, tcp: TcpTimer, out: _Out) -> None:
    idle = [s.rtt_ms for s in tcp.samples if s.phase == "idle" and s.rtt_ms is not None]
    method = "TCP connection set-up time (UDP blocked)"
    _rtt_series(run, [(s.at, s.rtt_ms) for s in tcp.samples if s.rtt_ms is not None], out)
    out.missing(
        UDP_BLOCKED, "jitter_up_ms", "jitter_down_ms", "loss_up_pct", "loss_down_pct", "mos"
    )
    if not idle:
        out.missing(LOST, "latency_ms", "latency_p95_ms", "loaded_latency_increase_ms")
        return
    out.measurements.extend(callquality.rtt_measurements(idle, method)[0])
    quiet = statistics.median(idle)
    increases: dict[str, JSON] = {}
    for direction in ("download", "upload"):
        window = _loaded_window(run, direction)
        loaded = [
            s.rtt_ms
            for s in tcp.samples
            if s.phase == direction
            and s.rtt_ms is not None
            and window
            and window[0] <= s.at < window[1]
        ]
        if loaded:
            increases[direction] = round(statistics.median(loaded) - quiet, 2)
    _loaded_measurement(increases, out, None, method)


def _rtt_series(run: Run, points: list[tuple[float, float]], out: _Out) -> None:
    phases = tuple(
        (name, round(a - run.started, 3), round(b - run.started, 3))
        for name, (a, b) in run.phases.items()
    )
    out.series.append(
        Series(
            "rtt_ms",
            "ms",
            tuple((round(t - run.started, 3), round(v, 3)) for t, v in points),
            phases,
        )
    )


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
