"""The network probe against a real `homecheck serve` on 127.0.0.1 (no root needed)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from homecheck.metrics import Metric
from homecheck.model import Cause, ProbeResult
from homecheck.probe import ProbeContext, ProbeOptions
from homecheck.runner import run_probes
from probes.network import NetworkProbe, Timing, connection
from probes.network.employer import session as speed_session
from probes.network.employer.loss_stream import LossStream
from probes.network.employer.voice_stream import CallStream
from tests.support.serve import Served

# Facts about the adapter and DNS (probes/network/connection.py), measured whatever the server does.
CONNECTION = {*connection.CONNECTION_METRICS, "network.dns_ms"}
SHORT = Timing(idle_s=1.0, load_s=1.5, streams=2)


def _run(url: str | None, timing: Timing = SHORT, **options: object) -> ProbeResult:
    probe = NetworkProbe(timing)
    # Names from /etc/hosts: the DNS timing must not ask this machine's resolver (off-machine).
    options.setdefault("dns_names", ("localhost",))
    outcome = run_probes([probe], ProbeOptions(server=url, **options))  # type: ignore[arg-type]
    return outcome.results[0]


def _values(result: ProbeResult) -> dict[str, object]:
    return {m.metric: m.value for m in result.measurements}


def test_measures_everything_on_loopback(loopback_server: Served) -> None:
    result = _run(loopback_server.url)
    values = _values(result)
    assert result.reason is None and not result.partial
    assert values["network.udp_ok"] is True
    assert float(values["network.download_mbps"]) > 100  # type: ignore[arg-type]
    assert float(values["network.upload_mbps"]) > 100  # type: ignore[arg-type]
    assert 0 < float(values["network.latency_ms"]) < 5  # type: ignore[arg-type]
    assert values["network.loss_up_pct"] == values["network.loss_down_pct"] == 0
    assert float(values["network.mos"]) > 4.3  # type: ignore[arg-type]
    series = {s.name: s for s in result.series}
    assert {"rtt_ms", "download_mbps", "upload_mbps"} <= set(series)
    assert [p[0] for p in series["rtt_ms"].phases] == ["idle", "download", "upload"]
    assert all(
        u.metric.startswith("network.worst_window") or u.metric in CONNECTION
        for u in result.unmeasured
    )
    assert result.duration_s < 1 + 1 + 2 * 1.5 + 3


def test_stability_run_reports_windows(loopback_server: Served) -> None:
    timing = Timing(idle_s=1.0, load_s=1.0, streams=1, window_s=1.0)
    result = _run(loopback_server.url, timing, duration_s=3.0)
    values = _values(result)
    assert values["network.worst_window_loss_pct"] == 0
    assert float(values["network.worst_window_mos"]) > 4.3  # type: ignore[arg-type]
    assert len(result.details["windows"]) == 3  # type: ignore[arg-type]


def test_a_stability_run_shorter_than_a_window_has_no_worst_window(
    loopback_server: Served,
) -> None:
    timing = Timing(idle_s=1.0, load_s=1.0, streams=1, window_s=2.0)
    result = _run(loopback_server.url, timing, duration_s=1.0)
    causes = {u.metric: u.cause for u in result.unmeasured}
    assert causes[Metric.WORST_WINDOW_LOSS_PCT] == Cause.NEEDS_LONGER_RUN
    assert causes[Metric.WORST_WINDOW_MOS] == Cause.NEEDS_LONGER_RUN
    assert "windows" not in result.details


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_nothing_listening_is_not_measured_with_a_reason() -> None:
    began = time.monotonic()
    result = _run(f"http://127.0.0.1:{_free_port()}")
    assert time.monotonic() - began < 2
    assert result.reason is not None and "refused" in result.reason
    assert "127.0.0.1" not in result.reason  # reports hold no addresses
    assert all(m.metric in CONNECTION for m in result.measurements)  # only the adapter, DNS


def test_bad_addresses_are_explained() -> None:
    assert "only http:// and https://" in (_run("ftp://example.invalid").reason or "")
    assert "port" in (_run("http://127.0.0.1:notaport").reason or "")


def test_not_a_homecheck_server(serve_factory: Callable[..., Served]) -> None:
    # Something answers HTTP, but not our protocol.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def answer() -> None:
        conn, _ = listener.accept()
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    result = _run(f"http://127.0.0.1:{port}")
    listener.close()
    assert "not be a homecheck server" in (result.reason or "")


def test_a_busy_server_says_so(serve_factory: Callable[..., Served]) -> None:
    served = serve_factory("--max-tests", "1")
    first: list[ProbeResult] = []
    thread = threading.Thread(target=lambda: first.append(_run(served.url)))
    thread.start()
    time.sleep(0.5)
    second = _run(served.url)
    thread.join()
    assert "busy" in (second.reason or "")
    assert first[0].reason is None


def test_ctrl_c_keeps_what_was_measured(loopback_server: Served) -> None:
    probe = NetworkProbe(Timing(idle_s=1.0, load_s=3.0, streams=2))
    context = ProbeContext(options=ProbeOptions(server=loopback_server.url))
    timer = threading.Timer(2.0, context.cancelled.set)  # Ctrl-C during the download
    timer.start()
    began = time.monotonic()
    result = probe.run(context)
    assert time.monotonic() - began < 2.0 + 2.0  # the runner's grace after Ctrl-C is 2 s
    values = _values(result)
    assert result.partial
    assert "network.latency_ms" in values and values["network.udp_ok"] is True
    reasons = {u.metric: u.reason for u in result.unmeasured}
    assert "Ctrl-C" in reasons["network.upload_mbps"]


def test_stopped_in_the_first_second_gives_no_jitter_loss_or_mos(loopback_server: Served) -> None:
    """A handful of voice packets is no jitter, loss or call quality (callquality.MIN_PROBES):
    the delay is kept, the rest is NOT MEASURED, never 0 ms / 0 % from a few answers."""
    probe = NetworkProbe(Timing(idle_s=3.0, load_s=1.0, streams=1))
    options = ProbeOptions(server=loopback_server.url, dns_names=("localhost",))
    context = ProbeContext(options=options)
    timer = threading.Timer(0.4, context.cancelled.set)  # Ctrl-C early in the quiet stretch
    timer.start()
    result = probe.run(context)
    values = _values(result)
    assert "network.latency_ms" in values
    spread = {"network.jitter_up_ms", "network.jitter_down_ms", "network.loss_up_pct",
              "network.loss_down_pct", "network.mos"}  # fmt: skip
    assert not spread & set(values)
    assert spread <= {u.metric for u in result.unmeasured}


class _NoUdp(NetworkProbe):
    """The probe where UDP is blocked: no echo stream starts, so the quiet stretch is timed with
    TCP connections only and carries no test traffic."""

    def _start_stream(self, session: speed_session.Session) -> CallStream | None:
        return None

    def _start_loss(self, session: speed_session.Session) -> LossStream | None:
        return None


def test_without_udp_a_long_quiet_stretch_does_not_lose_the_session(
    serve_factory: Callable[..., Served],
) -> None:
    # The server ends a session without test traffic after its idle timeout (1 s here); the
    # quiet stretch (2.5 s) carries none when UDP is blocked, so the speed phases need a fresh one.
    served = serve_factory("--idle-timeout", "1")
    probe = _NoUdp(Timing(idle_s=2.5, load_s=1.0, streams=1))
    outcome = run_probes([probe], ProbeOptions(server=served.url, dns_names=("localhost",)))
    values = _values(outcome.results[0])
    assert values["network.udp_ok"] is False
    assert float(values["network.download_mbps"]) > 100  # type: ignore[arg-type]
    assert float(values["network.upload_mbps"]) > 100  # type: ignore[arg-type]
