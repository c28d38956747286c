"""Connection facts on Windows, made real on Linux at the boundary: `netsh` and `powershell`
are real programs on PATH that print what Windows prints (fixtures in tests/fixtures/windows/, in
the console code page of each language: cp850 for German and French, cp932 for Japanese), and
the console's code page is that of the language. The parsers, the decoding and the subprocess
handling are the production ones.

The fixtures are not captures from this project's machines: they are rebuilt from Microsoft's
documented MSFT_NetAdapter properties and from netsh outputs published by others (the 24H2
Location notice verbatim), with addresses and names replaced. Replace them with real captures
when a Windows machine is at hand (tests/fixtures/windows/README.md).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from homecheck.metrics import ConnectionKind, Metric
from probes.network import connection, wifi

FIXTURES = Path(__file__).parents[2] / "fixtures" / "windows"


def install(bin_dir: Path, name: str, output: bytes, code: int = 0, sleep_s: float = 0) -> None:
    """A program `name` that prints `output` (bytes as they are) and exits with `code`."""
    data = bin_dir / f"{name}.out"
    data.write_bytes(output)
    script = bin_dir / name
    script.write_text(
        f"#!{sys.executable}\nimport sys, time\ntime.sleep({sleep_s})\n"
        f"sys.stdout.buffer.write(open({str(data)!r}, 'rb').read())\nsys.exit({code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH that holds only the Windows tools a test installs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + "/usr/bin:/bin")
    monkeypatch.setattr(connection.psutil, "net_if_addrs", lambda: {})
    return bin_dir


NETSH = [
    ("netsh_wlan_de_cp850.bin", "cp850", "WLAN", -61.0, "5 GHz", 108, 390.0),
    ("netsh_wlan_fr_cp850.bin", "cp850", "Wi-Fi", -69.0, "2.4 GHz", 6, 130.0),
    ("netsh_wlan_ja_cp932.bin", "cp932", "Wi-Fi", -53.0, "6 GHz", 37, 1921.0),
]


@pytest.mark.parametrize(
    ("fixture", "code_page", "name", "dbm", "band", "channel", "rate"),
    NETSH,
    ids=["de", "fr", "ja"],
)
def test_netsh_in_each_language_and_its_code_page(
    windows: Path,
    monkeypatch: pytest.MonkeyPatch,
    fixture: str,
    code_page: str,
    name: str,
    dbm: float,
    band: str,
    channel: int,
    rate: float,
) -> None:
    install(windows, "netsh", (FIXTURES / fixture).read_bytes())
    monkeypatch.setattr(wifi, "output_encoding", lambda: code_page)

    link = wifi.read_windows(name)

    assert isinstance(link, wifi.WifiLink)
    assert (link.signal_dbm, link.band, link.channel, link.rate_mbps) == (dbm, band, channel, rate)
    assert wifi.read_windows("some other adapter") is None


def test_bytes_in_an_unexpected_code_page_are_replaced_not_raised(
    windows: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cp932 bytes read as cp850, or cp850 read as UTF-8: wrong letters in labels, no crash."""
    install(windows, "netsh", (FIXTURES / "netsh_wlan_de_cp850.bin").read_bytes())
    monkeypatch.setattr(wifi, "output_encoding", lambda: "utf-8")
    link = wifi.read_windows("WLAN")
    assert isinstance(link, wifi.WifiLink) and link.signal_dbm == -61.0
    assert "\ufffd" in (wifi.run_command("netsh") or "")
    monkeypatch.setattr(wifi, "output_encoding", lambda: "no-such-code-page")
    assert wifi.run_command("netsh") is not None


def test_the_location_notice_of_windows_11_24h2_says_what_to_turn_on(
    windows: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """netsh exits 1 and explains on stdout; the reason must tell the user what to do."""
    install(windows, "netsh", (FIXTURES / "netsh_wlan_24h2_location_en.txt").read_bytes(), code=1)
    install(windows, "powershell", (FIXTURES / "get_netadapter_en.json").read_bytes())
    monkeypatch.setattr(wifi, "output_encoding", lambda: "cp437")
    monkeypatch.setattr(connection, "egress_interface", lambda target=None: "Wi-Fi")

    result = connection.measure(dns_names=("localhost",), system="Windows")

    values = {m.metric: m.value for m in result.measurements}
    assert values[Metric.CONNECTION] == ConnectionKind.WIFI
    reason = next(u.reason for u in result.unmeasured if u.metric == Metric.WIFI_SIGNAL_DBM)
    assert "Privacy & security > Location" in reason
    assert "Let desktop apps access your location" in reason


ADAPTERS = [
    ("get_netadapter_en.json", "Ethernet", ConnectionKind.WIRED, False),
    ("get_netadapter_en.json", "Wi-Fi", ConnectionKind.WIFI, False),
    ("get_netadapter_en.json", "Ethernet 2", ConnectionKind.UNKNOWN, True),  # OpenVPN TAP
    ("get_netadapter_en.json", "Ethernet 3", ConnectionKind.UNKNOWN, True),  # AnyConnect
    ("get_netadapter_en.json", "Ethernet 4", ConnectionKind.UNKNOWN, True),  # by type alone
    ("get_netadapter_en.json", "vEthernet (WSL)", ConnectionKind.UNKNOWN, False),
    ("get_netadapter_en.json", "Cellular", ConnectionKind.CELLULAR, False),
    ("get_netadapter_en.json", "WG Office", ConnectionKind.UNKNOWN, True),  # WireGuard
    ("get_netadapter_de.json", "WLAN", ConnectionKind.WIFI, False),
    ("get_netadapter_de.json", "Mobilfunk", ConnectionKind.CELLULAR, False),
    ("get_netadapter_de.json", "Ethernet 2", ConnectionKind.UNKNOWN, True),
    ("get_netadapter_ja.json", "イーサネット", ConnectionKind.WIRED, False),
    ("get_netadapter_ja.json", "イーサネット 2", ConnectionKind.UNKNOWN, True),
    ("get_netadapter_ja.json", "携帯電話", ConnectionKind.CELLULAR, False),
    ("get_netadapter_single.json", "Ethernet", ConnectionKind.WIRED, False),
]


@pytest.mark.parametrize(("fixture", "name", "kind", "vpn"), ADAPTERS)
def test_the_adapter_type_windows_reports_not_its_name(
    windows: Path, fixture: str, name: str, kind: ConnectionKind, vpn: bool
) -> None:
    install(windows, "powershell", (FIXTURES / fixture).read_bytes())
    adapter = connection.classify(name, "Windows")
    assert (adapter.kind, adapter.vpn) == (kind, vpn), adapter.how


def test_a_japanese_wired_connection_is_wired_end_to_end(
    windows: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(windows, "powershell", (FIXTURES / "get_netadapter_ja.json").read_bytes())
    monkeypatch.setattr(connection, "egress_interface", lambda target=None: "イーサネット")
    result = connection.measure(dns_names=("localhost",), system="Windows")
    values = {m.metric: m.value for m in result.measurements}
    assert values[Metric.CONNECTION] == ConnectionKind.WIRED
    assert values[Metric.VPN] is False


def test_a_vpn_over_a_tap_adapter_named_ethernet_is_a_vpn(
    windows: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(windows, "powershell", (FIXTURES / "get_netadapter_en.json").read_bytes())
    monkeypatch.setattr(connection, "egress_interface", lambda target=None: "Ethernet 3")
    result = connection.measure(dns_names=("localhost",), system="Windows")
    values = {m.metric: m.value for m in result.measurements}
    assert values[Metric.VPN] is True
    reasons = {u.metric: u.reason for u in result.unmeasured}
    assert "VPN" in reasons[Metric.LINK_SPEED_MBPS]  # not the TAP adapter's made-up speed


FAULTS = {
    "garbage": {"output": b"\xff\xfe\x00{not json \x81\x90", "code": 0},
    "failing": {"output": b"Get-NetAdapter : Zugriff verweigert\r\n", "code": 1},
    "hanging": {"output": b"[]", "code": 0, "sleep_s": 5},
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_powershell_faults_fall_back_to_netsh(
    windows: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    install(windows, "powershell", **FAULTS[fault])  # type: ignore[arg-type]
    install(windows, "netsh", (FIXTURES / "netsh_wlan_de_cp850.bin").read_bytes())
    monkeypatch.setattr(connection, "POWERSHELL_TIMEOUT_S", 0.5)
    monkeypatch.setattr(wifi, "output_encoding", lambda: "cp850")
    monkeypatch.setattr(connection, "egress_interface", lambda target=None: "WLAN")

    result = connection.measure(dns_names=("localhost",), system="Windows")

    values = {m.metric: m.value for m in result.measurements}
    assert values[Metric.CONNECTION] == ConnectionKind.WIFI  # netsh's list, German labels
    assert values[Metric.WIFI_SIGNAL_DBM] == -61.0
    assert Metric.DNS_MS in values


def test_no_tools_at_all(windows: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "egress_interface", lambda target=None: "Ethernet")
    result = connection.measure(dns_names=("localhost",), system="Windows")
    values = {m.metric: m.value for m in result.measurements}
    assert values[Metric.CONNECTION] == ConnectionKind.WIRED  # the name is all there is
    assert Metric.DNS_MS in values


def test_a_parser_exception_leaves_dns_measured(
    windows: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str) -> dict[str, connection.WindowsAdapter]:
        raise IndexError("list index out of range")

    install(windows, "powershell", (FIXTURES / "get_netadapter_en.json").read_bytes())
    monkeypatch.setattr(connection, "parse_net_adapters", broken)
    monkeypatch.setattr(connection, "egress_interface", lambda target=None: "Ethernet")

    result = connection.measure(dns_names=("localhost",), system="Windows")

    reasons = {u.metric: u.reason for u in result.unmeasured}
    assert set(connection.CONNECTION_METRICS) <= set(reasons)
    assert "IndexError" in reasons[Metric.CONNECTION]
    assert Metric.DNS_MS in {m.metric for m in result.measurements}
