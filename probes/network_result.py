"""Turn one network run into the probe's result: the speeds here, the call figures in
network_call.py, the shared pieces in network_run.py. Kept apart from probes/network.py, which
drives the phases, so the rules for what counts (which packets make the loss figure, which stretch
is "loaded", when a figure is not measured and why) sit in one place.
"""

from __future__ import annotations

from homecheck.model import JSON, Measurement, ProbeResult, Series
from probes import callquality
from probes.network_call import stream_figures, tcp_figures
from probes.network_run import (
    CALL_METRICS,
    LOST,
    NEEDS_DURATION,
    STOPPED,
    TCP_PAYLOAD_SHARE,
    UDP_BLOCKED,
    WIRE_BYTES,
    Out,
    Run,
)
from probes.rate import SAMPLE_S

__all__ = ["LOST", "NEEDS_DURATION", "STOPPED", "UDP_BLOCKED", "Run", "build"]


def build(probe: str, run: Run) -> ProbeResult:
    out = Out()
    reason_cut = STOPPED if run.cancelled else LOST if run.lost else None
    _throughput(run, out, reason_cut)
    if run.udp_ok is not None:
        out.measurements.append(
            Measurement("network.udp_ok", run.udp_ok, "", (), "UDP echo answered within 1.5 s")
        )
    if run.stream is not None:
        stream_figures(run, run.stream, out, reason_cut)
    elif run.tcp is not None:
        tcp_figures(run, run.tcp, out)
    else:
        out.missing(reason_cut or UDP_BLOCKED, *CALL_METRICS, "loaded_latency_increase_ms")
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


def _throughput(run: Run, out: Out, reason_cut: str | None) -> None:
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
