"""Every probe's real output against the catalogue (homecheck.metrics.check_result).

Each measurement's id is in the catalogue and in the probe's `metrics`, its unit is the
catalogue's, its value has the catalogue's kind (a number that is not a bool, a bool, a category
from the closed set); every unmeasured id is the probe's; and each of the probe's metrics is
reported, measured or not, so a typo in a producer fails here instead of turning into the
aggregator's "this probe ran but did not report this value".

The outputs are real: the system probe on this machine, the network probe against a
`homecheck serve` on 127.0.0.1 and against the speedtest.net stand-in, the audio probe on a
PulseAudio virtual microphone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from homecheck import metrics, registry
from homecheck.metrics import CATALOGUE, Kind, Metric, check, check_result, measured
from homecheck.model import Measurement, ProbeResult, Unmeasured
from homecheck.probe import Probe, ProbeContext, ProbeOptions
from labs.audio import signals
from labs.audio.virtual_mic import VirtualMic
from labs.network.speedtest_fake import FakeSpeedtest, Mode
from probes.audio import AudioProbe
from probes.network import NetworkProbe, Timing
from probes.network.public.backend import SpeedtestSettings
from probes.system import SystemProbe
from tests.support.environment import need
from tests.support.serve import Served

SHORT = Timing(idle_s=1.0, load_s=1.5, streams=2)
# 75 quiet probes: above callquality.MIN_PROBES, so jitter, loss and MOS are measured and checked.
QUICK = SpeedtestSettings(
    idle_s=1.5, download_s=1.5, upload_s=1.5, socket_timeout_s=1.5, probe_interval_s=0.02
)
# Names from /etc/hosts: the DNS timing must not ask this machine's resolver.
LOCAL_DNS = ("localhost",)


def assert_contract(probe: Probe, result: ProbeResult) -> None:
    assert result.probe == probe.name
    assert check_result(result, probe.metrics) == []


# --- the checker itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measurement", "problem"),
    [
        (Measurement("network.speed", 1.0, "Mbit/s"), "not in the catalogue"),
        (Measurement("network.download_mbps", 10.0, "Mbps"), "unit 'Mbps'"),
        (Measurement("system.cpu_cores_logical", 4.0, "cores"), "unit 'cores'"),
        (Measurement("network.download_mbps", True, "Mbit/s"), "a number, got True"),
        (Measurement("network.download_mbps", "10", "Mbit/s"), "a number, got '10'"),
        (Measurement("network.download_mbps", float("nan"), "Mbit/s"), "a finite number"),
        (Measurement("network.udp_ok", 1.0, ""), "true or false, got 1.0"),
        (Measurement("network.connection", "wird", ""), "one of wired, wifi, cellular, unknown"),
        (Measurement("audio.headset", False, ""), "one of usb_headset"),
        (Measurement("system.os", "", ""), "non-empty text"),
    ],
)
def test_check_names_each_problem(measurement: Measurement, problem: str) -> None:
    found = check(measurement)
    assert len(found) == 1 and problem in found[0], found
    assert found[0].startswith(measurement.metric)


def test_measured_takes_the_unit_from_the_catalogue() -> None:
    for info in CATALOGUE:
        example = {
            Kind.NUMBER: 1.0,
            Kind.FLAG: True,
            Kind.CATEGORY: info.values[0] if info.values else "",
            Kind.TEXT: "Linux",
        }[info.kind]
        made = measured(info.metric, example, samples=[1.0], method="how")
        assert made == Measurement(info.metric, example, info.unit, (1.0,), "how")
        assert check(made) == []


def test_check_result_finds_strays_duplicates_and_silence() -> None:
    result = ProbeResult(
        probe="system",
        measurements=(
            measured(Metric.OS, "Linux"),
            measured(Metric.OS, "Linux"),
            measured(Metric.UDP_OK, True),
        ),
        unmeasured=(Unmeasured(Metric.BATTERY_PCT, ""),),
    )
    problems = check_result(result, (Metric.OS, Metric.BATTERY_PCT, Metric.ON_BATTERY))
    assert problems == [
        "network.udp_ok: measured, but not one of system's metrics",
        "system.battery_pct: unmeasured without a reason",
        "system.os: reported more than once",
        "system.on_battery: neither measured nor unmeasured",
    ]
    # A probe that could not measure at all says why once, in `reason`.
    assert check_result(ProbeResult(probe="system", reason="broken"), (Metric.OS,)) == []


def test_catalogue_and_metric_enum_agree() -> None:
    assert [info.metric for info in CATALOGUE] == list(Metric)
    for info in CATALOGUE:
        assert info.metric.name == info.metric.split(".", 1)[1].upper()
        assert bool(info.values) == (info.kind is Kind.CATEGORY), info.metric
        assert metrics.area(info.metric) in metrics.AREAS


# --- real outputs -------------------------------------------------------------------------------


def test_system_probe() -> None:
    probe = SystemProbe(sample_seconds=1.0)
    assert_contract(probe, probe.run(ProbeContext()))


@pytest.mark.parametrize("duration_s", [None, 2.0], ids=["short", "stability"])
def test_network_probe_against_homecheck_serve(
    loopback_server: Served, duration_s: float | None
) -> None:
    probe = NetworkProbe(Timing(idle_s=1.0, load_s=1.5, streams=2, window_s=1.0))
    options = ProbeOptions(server=loopback_server.url, duration_s=duration_s, dns_names=LOCAL_DNS)
    result = probe.run(ProbeContext(options=options))
    assert result.reason is None
    assert_contract(probe, result)


def test_network_probe_without_a_server_answering() -> None:
    probe = NetworkProbe(SHORT)
    options = ProbeOptions(server="http://127.0.0.1:9", dns_names=LOCAL_DNS)
    result = probe.run(ProbeContext(options=options))
    assert result.reason is not None  # the connection facts are still checked
    assert_contract(probe, result)


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(shutil.which("openssl") is not None, "`openssl` is not installed (it makes the test CA)")
    return tmp_path_factory.mktemp("tls")


@pytest.mark.parametrize("mode", [Mode.OK, Mode.NO_SERVERS], ids=["ok", "no-servers"])
def test_network_probe_against_public_servers(
    tls_dir: Path, monkeypatch: pytest.MonkeyPatch, mode: Mode
) -> None:
    with FakeSpeedtest(mode=mode, tls_dir=tls_dir, slow_s=30) as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        probe = NetworkProbe(public=QUICK)
        result = probe.run(ProbeContext(options=ProbeOptions(dns_names=LOCAL_DNS)))
    assert_contract(probe, result)


@pytest.mark.parametrize("noise_dbfs", [-45.0, None], ids=["noise", "dead"])
def test_audio_probe(virtual_mic: VirtualMic, noise_dbfs: float | None) -> None:
    probe = AudioProbe(room_seconds=2.0)
    context = ProbeContext(options=ProbeOptions(speech=False))
    if noise_dbfs is None:  # nothing playing: digital silence, a dead microphone
        result = probe.run(context)
    else:
        with virtual_mic.play(signals.white(10.0, noise_dbfs)):
            result = probe.run(context)
    assert result.reason is None
    assert result.measurement(Metric.INPUT_LIVE) is not None
    assert_contract(probe, result)


def test_every_registered_probe_is_covered_here() -> None:
    covered = {SystemProbe.name, NetworkProbe.name, AudioProbe.name}
    assert {probe.name for probe in registry.all_probes()} == covered
