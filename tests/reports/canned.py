"""One canned report for renderer tests: every verdict, every value kind, series and details,
and untrusted text where a machine supplies it."""

from __future__ import annotations

from homecheck.aggregator import judge
from homecheck.model import Measurement, ProbeResult, Report, Series, Unmeasured
from homecheck.profiles import load

HOSTILE = "[bold red]<script>alert(1)</script>"


def canned_report(*, interrupted: bool = False) -> Report:
    profile = load("voice")
    results = (
        ProbeResult(
            probe="system",
            measurements=(
                Measurement("system.cpu_cores_logical", 4.0, "threads"),
                Measurement("system.cpu_headroom_pct", 12.5, "%", samples=(10.0, 15.0), method="m"),
                Measurement("system.ram_total_gb", 7.8, "GB"),
                Measurement("system.ram_available_gb", 0.6, "GB"),
                Measurement("system.disk_free_gb", 120.0, "GB"),
                Measurement("system.os", "Windows 11", ""),
                Measurement("system.os_supported", True, ""),
                Measurement("system.on_battery", True, ""),
            ),
            series=(Series("cpu_busy_pct", "%", ((0.5, 90.0), (1.0, 85.0))),),
            details={
                "top_cpu": [{"name": HOSTILE, "cpu_pct": 61.0, "processes": 3}],
                "top_memory": [{"name": "chrome", "rss_gb": 2.1, "processes": 12}],
            },
            duration_s=3.4,
        ),
        ProbeResult(
            probe="network",
            measurements=(
                Measurement("network.download_mbps", 48.2, "Mbit/s", samples=(47.0, 49.4)),
                Measurement("network.latency_ms", 23.0, "ms"),
                Measurement("network.udp_ok", False, ""),
                Measurement("network.connection", "wifi", ""),
            ),
            unmeasured=(Unmeasured("network.upload_mbps", "the upload test timed out"),),
            series=(
                Series(
                    "rtt_ms",
                    "ms",
                    ((0.0, 20.0), (1.0, 80.0), (2.0, 25.0)),
                    phases=(("idle", 0.0, 0.5), ("download", 0.5, 1.5)),
                ),
            ),
            partial=interrupted,
        ),
        ProbeResult(probe="audio", reason="PortAudio is not installed: install libportaudio2"),
    )
    findings, overall = judge(profile, results)
    return Report(
        tool_version="9.9.9",
        profile=profile,
        started_at="2026-11-22T10:00:00+00:00",
        finished_at="2026-11-22T10:01:00+00:00",
        results=results,
        findings=findings,
        overall=overall,
        interrupted=interrupted,
    )
