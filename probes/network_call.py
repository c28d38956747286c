"""Delay, jitter, loss, bufferbloat, MOS and stability from the call-like stream, or delay alone
from TCP timings when UDP is blocked (see probes/network.py for what each figure means)."""

from __future__ import annotations

import math
import statistics

from homecheck.model import JSON, Measurement
from probes import callquality, emodel
from probes.callquality import LossStats
from probes.loss_analysis import Counted, ProbeLoss, probe_loss
from probes.network_run import (
    CALL_METRICS,
    LOST,
    NEEDS_DURATION,
    STREAM_METHOD,
    UDP_BLOCKED,
    Out,
    Run,
    loaded_window,
    rtt_series,
)
from probes.stream_analysis import (
    Packet,
    Summary,
    attribute,
    between,
    in_phases,
    summarize,
    windows,
)
from probes.voip_stream import INTERVAL_S, CallStream, TcpTimer

__all__ = ["NEEDS_DURATION", "stream_figures", "tcp_figures"]


def stream_figures(run: Run, stream: CallStream, out: Out, reason_cut: str | None) -> None:
    packets = attribute(stream.sent, stream.echoes, stream.final_count)
    cutoff = math.inf
    if run.lost:
        # Packets sent after the last one that came back had no chance: not "loss".
        answered = [p.at for p in packets if p.echo is not None]
        cutoff = max(answered, default=run.started)
        packets = [p for p in packets if p.at <= cutoff]
    idle = in_phases(packets, "idle")
    up_pool = in_phases(packets, "idle", "download")
    down_pool = in_phases(packets, "idle", "upload")
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
            for phase in ("download", "upload")
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
        _jitter_loss_mos(quiet, idle, dense, out)
    increases: dict[str, JSON] = {}
    for direction in ("download", "upload"):
        window = loaded_window(run, direction)
        phase = in_phases(packets, direction)
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
    start, end = run.phases.get("idle", [run.started, run.started])
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
    pooled = {}
    for direction, loss, when, extra in (
        ("up", quiet.loss_up, "downloading", dense.up if dense else None),
        ("down", quiet.loss_down, "uploading", dense.down if dense else None),
    ):
        counted, how = _pooled(loss, extra)
        pooled[direction] = counted
        out.measurements.append(
            Measurement(
                f"network.loss_{direction}_pct",
                round(counted.pct, 2),
                "%",
                (),
                f"{how} (quiet line and while {when}); voice stream: burst ratio "
                f"{loss.burst_r:.2f}, longest run {loss.longest_burst}",
            )
        )
    quality = _quality(quiet, pooled["up"], pooled["down"])
    if quality is not None:
        q = quality
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
    increases: dict[str, JSON], out: Out, reason_cut: str | None, how: str
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


def _worst_windows(run: Run, idle: list[Packet], echo_until: float, out: Out) -> None:
    window_s = run.window_s
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
    for metric, values, unit in (("loss_pct", loss, "%"), ("jitter_ms", jitter, "ms")):
        out.measurements.append(
            Measurement(
                f"network.worst_window_{metric}",
                round(max(values), 2),
                unit,
                tuple(round(v, 2) for v in values),
                how,
            )
        )
    if mos:
        out.measurements.append(
            Measurement("network.worst_window_mos", min(mos), "MOS", tuple(mos), how)
        )


def tcp_figures(run: Run, tcp: TcpTimer, out: Out) -> None:
    idle = [s.rtt_ms for s in tcp.samples if s.phase == "idle" and s.rtt_ms is not None]
    method = "TCP connection set-up time (UDP blocked)"
    rtt_series(run, [(s.at, s.rtt_ms) for s in tcp.samples if s.rtt_ms is not None], out)
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
        window = loaded_window(run, direction)
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
