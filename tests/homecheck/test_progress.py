"""The progress lines say "done" only when an area measured everything (reliability review §14:
"network: done" after the test server was lost, "microphone and room: done" with no microphone)."""

from __future__ import annotations

import pytest

from homecheck.model import Cause, Measurement, ProbeResult, Unmeasured
from homecheck.progress import PlainProgress
from homecheck.registry import all_probes

NETWORK = next(p for p in all_probes() if p.name == "network")
LOST = "the connection to the test server was lost"


def finished(result: ProbeResult, capsys: pytest.CaptureFixture[str]) -> str:
    PlainProgress().finished(NETWORK, result)
    return capsys.readouterr().err


def test_everything_measured_is_done(capsys: pytest.CaptureFixture[str]) -> None:
    result = ProbeResult("network", (Measurement("network.download_mbps", 50.0, "Mbit/s"),))
    assert finished(result, capsys) == "  network: done (0.0 s)\n"


def test_a_lost_server_is_not_done(capsys: pytest.CaptureFixture[str]) -> None:
    result = ProbeResult(
        "network",
        (Measurement("network.latency_ms", 20.0, "ms"),),
        unmeasured=(
            Unmeasured("network.download_mbps", LOST),
            Unmeasured("network.upload_mbps", LOST),
        ),
        duration_s=9.0,
    )
    line = finished(result, capsys)
    assert "done" not in line
    assert line == f"  network: finished; not measured: {LOST} (9.0 s)\n"  # said once


def test_a_stop_is_not_done(capsys: pytest.CaptureFixture[str]) -> None:
    stopped = Unmeasured("network.upload_mbps", "stopped", Cause.STOPPED)
    line = finished(ProbeResult("network", unmeasured=(stopped,), partial=True), capsys)
    assert "done" not in line and "stopped before the end" in line


def test_what_is_left_out_by_design_is_still_done(capsys: pytest.CaptureFixture[str]) -> None:
    skipped = Unmeasured("audio.speech_snr_db", "skipped (--no-speech)", Cause.SKIPPED_BY_USER)
    longer = Unmeasured(
        "network.worst_window_loss_pct", "use --duration 60", Cause.NEEDS_LONGER_RUN
    )
    line = finished(ProbeResult("network", unmeasured=(skipped, longer)), capsys)
    assert line == "  network: done (0.0 s)\n"
