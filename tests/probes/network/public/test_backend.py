"""The public backend against a local server that speaks speedtest.net's protocol (127.0.0.1).

speedtest-cli really runs: its urllib opener reaches "www.speedtest.net" through the proxy
variables (with TLS to a test CA, as in production), its latency requests go straight to the
listed server. Every way speedtest.net fails in the wild must end as NOT MEASURED with one plain
sentence and the advice to use an employer server, quickly, never as a traceback.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import truststore

from homecheck.model import ProbeResult
from homecheck.probe import ProbeContext, ProbeOptions
from homecheck.runner import run_probes
from labs.network.speedtest_fake import FakeSpeedtest, Mode, https_listing
from probes.network import NetworkProbe, connection
from probes.network.analysis import callquality
from probes.network.public import trust
from probes.network.public.backend import SpeedtestSettings, run_speedtest
from probes.network.public.cloudflare import CloudflareSettings
from probes.network.public.run import METRICS, NOT_HERE
from tests.support.environment import need
from tests.support.windows_select import use_windows_select

# 75 quiet probes, above callquality.MIN_PROBES (40), as the default 3 s at 50 ms gives 60.
QUICK = SpeedtestSettings(
    idle_s=1.5, download_s=1.5, upload_s=1.5, socket_timeout_s=1.5, probe_interval_s=0.02
)


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(shutil.which("openssl") is not None, "`openssl` is not installed (it makes the test CA)")
    return tmp_path_factory.mktemp("tls")


@pytest.fixture
def fake(
    request: pytest.FixtureRequest, tls_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeSpeedtest]:
    mode = getattr(request, "param", Mode.OK)
    with FakeSpeedtest(mode=mode, tls_dir=tls_dir, slow_s=30) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server


def timed(
    settings: SpeedtestSettings = QUICK, context: ProbeContext | None = None
) -> tuple[ProbeResult, float]:
    started = time.monotonic()
    result = run_speedtest(context or ProbeContext(), settings)
    return result, time.monotonic() - started


def test_measures_speed_delay_and_load_through_the_real_protocol(fake: FakeSpeedtest) -> None:
    result, elapsed = timed()

    assert result.reason is None and not result.partial
    values = {m.metric: m.value for m in result.measurements}
    # Loopback moves hundreds of Mbit/s even on a busy 2-core machine; 0 would mean no data.
    assert values["network.download_mbps"] > 50
    assert values["network.upload_mbps"] > 50
    assert 0 < float(values["network.latency_ms"]) < 20  # loopback round trips
    assert values["network.latency_p95_ms"] >= values["network.latency_ms"]
    assert values["network.loss_up_pct"] == values["network.loss_down_pct"] == 0.0
    assert "network.loaded_latency_increase_ms" in values
    method = result.measurement("network.latency_ms")
    assert method is not None and method.method.startswith(("ICMP echo", "TCP connect timing"))
    # The production path: configuration over TLS through CONNECT, then the listed server direct.
    assert "CONNECT www.speedtest.net:443" in fake.seen
    assert {"GET /speedtest/latency.txt", "POST /speedtest/upload.php"} <= set(fake.seen)
    assert any(s.startswith("GET /speedtest/random") for s in fake.seen)
    # What speedtest-cli reports matches what the server moved (both ways), within its bookkeeping.
    assert fake.bytes_sent > 0 and fake.bytes_received > 0
    names = {s.name: s for s in result.series}
    assert {"rtt_ms", "download_mbps", "upload_mbps"} <= set(names)
    assert [p[0] for p in names["rtt_ms"].phases] == ["idle", "download", "upload"]
    assert {u.metric for u in result.unmeasured} == set(NOT_HERE)
    assert "server" in result.details and "Example Networks" in str(result.details["server"])
    assert elapsed < QUICK.bound_s()


def test_a_server_listed_with_https_is_measured_over_https(fake: FakeSpeedtest) -> None:
    """The transfers go to the chosen server's own endpoints, over https when its URL says so,
    verified with the (OS) trust store; the figures carry the employer path's method text."""
    with https_listing(fake) as port:
        result, _ = timed()

    assert result.reason is None, result.reason
    download = result.measurement("network.download_mbps")
    upload = result.measurement("network.upload_mbps")
    assert download is not None and upload is not None
    assert float(download.value) > 50 and float(upload.value) > 50
    assert download.method.startswith(
        f"{QUICK.streams} parallel TCP streams, bytes counted at the receiver"
    )
    assert "ramp-up discarded" in download.method and "ramp-up discarded" in upload.method
    if sys.platform == "linux":
        assert "by its kernel (TCP_INFO)" in download.method
        assert "acknowledged by the server" in upload.method
    # The listed port speaks only TLS: plain HTTP there would have measured nothing.
    assert any(line.startswith("GET /speedtest/random4000x4000.jpg") for line in fake.seen)
    assert port != fake.port
    throughput = result.details["throughput"]
    assert isinstance(throughput, dict) and set(throughput) == {"download", "upload"}


FAILURES = [
    (Mode.FORBIDDEN, "403"),
    (Mode.TOO_MANY, "429"),
    (Mode.GARBAGE, "could not understand"),
    (Mode.CAPTIVE, "could not understand"),
    (Mode.WRONG_XML, "could not understand"),
    (Mode.GARBAGE_SERVERS, "could not understand"),
    (Mode.NO_SERVERS, "no test servers"),
    (Mode.SLOW, "did not answer in time"),
]


@pytest.mark.parametrize(
    ("fake", "words"), FAILURES, indirect=["fake"], ids=[m for m, _ in FAILURES]
)
def test_every_failure_is_not_measured_with_a_plain_reason(fake: FakeSpeedtest, words: str) -> None:
    result, elapsed = timed()

    assert result.reason is not None
    assert words in result.reason
    assert "homecheck run --server URL" in result.reason  # the way out
    assert "Traceback" not in result.reason and "Error(" not in result.reason
    assert result.reason.count(". ") <= 2  # one sentence plus the advice
    assert result.measurements == ()
    assert {u.metric for u in result.unmeasured} >= set(METRICS)
    # Quick failures are immediate; a silent server costs one socket timeout.
    assert elapsed < QUICK.socket_timeout_s + 2.0


def test_nothing_listening_means_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    for key in ("http_proxy", "https_proxy"):
        monkeypatch.setenv(key, f"http://127.0.0.1:{port}")  # nothing listens there

    result, elapsed = timed()

    assert result.reason is not None and "offline" in result.reason
    assert elapsed < 2.0


def test_the_whole_test_keeps_to_its_bound_when_the_server_stalls_mid_way(
    fake: FakeSpeedtest,
) -> None:
    """Configuration answers, then everything stalls (latency requests have a hard-coded 10 s
    socket timeout in speedtest-cli): the setup bound still ends it."""
    settings = SpeedtestSettings(setup_s=2.0, socket_timeout_s=1.0, idle_s=0.5)
    original = fake.mode

    def stall_after_config() -> None:
        while not any("speedtest-servers" in s for s in fake.seen):
            time.sleep(0.005)
        fake.mode = Mode.SLOW

    switch = threading.Thread(target=stall_after_config, daemon=True)
    switch.start()
    result, elapsed = timed(settings)
    fake.mode = original

    assert result.reason is not None and "did not answer" in result.reason
    assert elapsed < settings.setup_s + 1.0


def test_ctrl_c_keeps_what_was_measured(fake: FakeSpeedtest) -> None:
    context = ProbeContext()
    settings = SpeedtestSettings(idle_s=1.0, download_s=1.0, upload_s=20.0)

    def stop_during_upload(fraction: float, message: str) -> None:
        if "upload" in message:
            threading.Timer(0.5, context.cancelled.set).start()

    context.progress = stop_during_upload
    result, elapsed = timed(settings, context)

    assert result.partial
    assert result.measurement("network.download_mbps") is not None
    assert result.measurement("network.latency_ms") is not None
    assert elapsed < 5.0  # not the 20 s upload


def test_an_intercepted_tls_connection_is_named(
    fake: FakeSpeedtest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy or firewall that re-signs TLS with a CA this computer does not trust (the
    stand-in's test CA, once SSL_CERT_FILE no longer adds it): a reason of its own, not
    "could not reach"."""
    monkeypatch.delenv("SSL_CERT_FILE")

    result, elapsed = timed()

    assert result.reason is not None
    assert "does not trust the certificate speedtest.net presented" in result.reason
    assert "intercepting" in result.reason and "offline" not in result.reason
    assert elapsed < 2.0


def test_speedtest_cli_verifies_with_the_os_trust_store(
    fake: FakeSpeedtest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """speedtest-cli's HTTPS goes through the context homecheck gives it (by default the OS
    store through truststore), not Python's own CA file, which python.org's macOS Python lacks:
    here Python's default trusts nothing, the context given trusts the stand-in's CA."""
    monkeypatch.setenv("SSL_CERT_FILE", str(fake.tls_dir / "no-such-bundle.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(fake.tls_dir / "no-such-dir"))
    assert isinstance(trust.os_trust_context(), truststore.SSLContext)
    given = ssl.create_default_context(cafile=fake.ca_file)
    monkeypatch.setattr(trust, "os_trust_context", lambda: given)

    result, _ = timed()

    assert result.reason is None, result.reason
    assert "CONNECT www.speedtest.net:443" in fake.seen


def test_each_https_connection_has_a_context_of_its_own(
    fake: FakeSpeedtest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """truststore holds one lock around every handshake of a context: connections made at once
    (speedtest-cli's parallel streams, where a server is reached over https) must not share one,
    or they connect one after another."""
    made: list[ssl.SSLContext] = []

    def fresh() -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=fake.ca_file)
        made.append(context)
        return context

    monkeypatch.setattr(trust, "os_trust_context", fresh)
    result, _ = timed()
    assert result.reason is None, result.reason
    connects = sum(1 for line in fake.seen if line.startswith("CONNECT "))
    assert connects >= 2  # the configuration and the server list, each on its own connection
    assert len(made) == connects  # one context per connection, none shared


def test_the_network_probe_uses_it_without_a_server(fake: FakeSpeedtest) -> None:
    """NetworkProbe without --server: the public backend, plus the connection facts and DNS."""
    probe = NetworkProbe(public=QUICK)
    options = ProbeOptions(dns_names=("localhost",))  # /etc/hosts: no resolver is asked
    assert probe.timeout_seconds(options) > QUICK.bound_s()

    outcome = run_probes([probe], options)

    result = outcome.results[0]
    values = {m.metric: m.value for m in result.measurements}
    assert result.reason is None
    assert float(values["network.download_mbps"]) > 50
    assert 1.0 <= float(values["network.mos"]) <= 4.5  # ITU-T G.107 via probes/callquality
    assert values["network.vpn"] is False and "network.connection" in values
    assert "network.dns_ms" in values
    assert set(probe.metrics) == {m.metric for m in result.measurements} | {
        u.metric for u in result.unmeasured
    }


def test_delay_jitter_and_loss_with_windows_select(
    fake: FakeSpeedtest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Windows the delay probes once died at the first empty select() (WinError 10022) and
    jitter 0.00 ms / loss 0 % from one answer passed. Now they keep going all through the test."""
    use_windows_select(monkeypatch)
    result, _ = timed()

    assert result.reason is None and not result.partial, result.details
    rtt = next(s for s in result.series if s.name == "rtt_ms")
    idle_end = next(end for name, _, end in rtt.phases if name == "idle")
    assert len([t for t, _ in rtt.points if t < idle_end]) >= callquality.MIN_PROBES
    for metric in callquality.SPREAD_METRICS:
        assert result.measurement(metric) is not None, metric


def test_connection_facts_cannot_sink_the_network_area(
    fake: FakeSpeedtest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """German Windows: netsh writes cp850 ("Übertragungsrate" has 0x9A), which once raised
    UnicodeDecodeError inside subprocess.run and made the whole Network area "failed
    unexpectedly". A real `netsh` on PATH prints those bytes; the speeds must be measured."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fixture = Path(__file__).parents[3] / "fixtures" / "windows" / "netsh_wlan_de_cp850.bin"
    netsh = bin_dir / "netsh"
    netsh.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"sys.stdout.buffer.write(open({str(fixture)!r}, 'rb').read())\n"
    )
    netsh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(platform, "system", lambda: "Windows")
    monkeypatch.setattr(connection, "egress_interface", lambda target=None: "WLAN")

    outcome = run_probes([NetworkProbe(public=QUICK)], ProbeOptions(dns_names=("localhost",)))

    result = outcome.results[0]
    values = {m.metric: m.value for m in result.measurements}
    assert result.reason is None
    assert float(values["network.download_mbps"]) > 50
    assert values["network.connection"] == "wifi"
    assert values["network.wifi_signal_dbm"] == -61.0  # German labels, cp850 bytes


def _switch_after_choosing(fake: FakeSpeedtest, mode: Mode) -> threading.Thread:
    """The stand-in answers the set-up, then turns to `mode` once the test server is chosen."""

    def switch() -> None:
        while sum(1 for s in fake.seen if "latency.txt" in s) < 9:  # 3 servers x 3 requests
            time.sleep(0.005)
        fake.mode = mode

    thread = threading.Thread(target=switch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("mode", "words"),
    [(Mode.FORBIDDEN, "HTTP 403"), (Mode.TOO_MANY, "HTTP 429"), (Mode.SLOW, "stopped answering")],
    ids=["403", "429", "stall"],
)
def test_a_server_that_refuses_or_stalls_the_transfers_is_a_plain_reason(
    fake: FakeSpeedtest, mode: Mode, words: str
) -> None:
    """Chosen, then refusing (403/429) or silent on the transfers: NOT MEASURED with the reason,
    within the phase's bound (a stall is noticed after transfers.STALL_S), no speed from error
    pages."""
    _switch_after_choosing(fake, mode)

    result, elapsed = timed()

    assert result.reason is not None and words in result.reason, result.reason
    assert "homecheck run --server URL" in result.reason
    assert result.measurement("network.download_mbps") is None
    assert elapsed < QUICK.bound_s()


@pytest.mark.parametrize("settings", [SpeedtestSettings(), CloudflareSettings()], ids=repr)
@pytest.mark.parametrize("setup_s", [0.5, 2.0, 3.5, 4.5])
def test_both_backends_fit_their_phases_to_the_budget(
    settings: SpeedtestSettings | CloudflareSettings, setup_s: float
) -> None:
    """What the set-up leaves of the 15 s is shared by the phases (run.phases_within, one
    function for both services): a quick set-up keeps the phases asked for, a slow one (a 200 ms
    round trip) shortens each in proportion, the quiet one never below callquality.MIN_PROBES."""
    idle, download, upload = settings.phases_within(settings.budget_s - setup_s)
    assert idle <= settings.idle_s and download <= settings.download_s
    assert upload <= settings.upload_s
    assert idle >= callquality.MIN_PROBES * settings.probe_interval_s
    assert min(download, upload) >= 2.0
    total = setup_s + idle + download + upload + settings.finish_s
    if setup_s <= settings.budget_s - settings.finish_s - 12.0:
        assert (idle, download, upload) == (settings.idle_s, settings.download_s, settings.upload_s)
    else:
        assert total == pytest.approx(settings.budget_s)
        assert download / settings.download_s == pytest.approx(upload / settings.upload_s)
