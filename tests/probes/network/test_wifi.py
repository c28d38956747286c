"""Wi-Fi facts parsed from captured outputs of the real OS tools (tests/fixtures/wifi/).

This is the one place a fixture stands in for hardware: no Wi-Fi radio exists on a test machine.
The captures keep the tools' real layout (tabs in `iw`, CRLF and padded keys in `netsh`, nested
blocks in `system_profiler`); identifying values in them are replaced by made-up ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from probes.network import connection, wifi

FIXTURES = Path(__file__).parents[2] / "fixtures" / "wifi"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_bytes().decode()


def test_iw_link_5ghz() -> None:
    link = wifi.parse_iw_link(fixture("iw_link_5ghz.txt"))
    assert link == wifi.WifiLink(-58.0, "5 GHz", 36, 780.0, "iw")


def test_iw_link_2ghz_with_decimal_frequency() -> None:
    link = wifi.parse_iw_link(fixture("iw_link_2ghz.txt"))
    assert link is not None
    assert (link.signal_dbm, link.band, link.channel, link.rate_mbps) == (-71.0, "2.4 GHz", 6, 72.2)


def test_iw_not_connected() -> None:
    assert wifi.parse_iw_link(fixture("iw_link_not_connected.txt")) is None


def test_proc_net_wireless_level_is_dbm() -> None:
    link = wifi.parse_proc_net_wireless(fixture("proc_net_wireless.txt"), "wlp2s0")
    assert link is not None and link.signal_dbm == -54.0
    assert wifi.parse_proc_net_wireless(fixture("proc_net_wireless.txt"), "wlan9") is None
    assert wifi.parse_proc_net_wireless(fixture("proc_net_wireless_empty.txt"), "wlp2s0") is None


def test_netsh_windows10_converts_quality_percent() -> None:
    link = wifi.parse_netsh(fixture("netsh_win10.txt"), "Wi-Fi")
    assert link is not None
    # 84 % -> -58 dBm with Microsoft's mapping (0 % = -100 dBm, 100 % = -50 dBm).
    assert link.signal_dbm == -58.0
    assert (link.band, link.channel, link.rate_mbps) == ("5 GHz", 44, 866.7)
    assert "Signal %" in link.source


def test_netsh_windows11_prefers_rssi_and_band() -> None:
    link = wifi.parse_netsh(fixture("netsh_win11.txt"))
    assert link is not None
    assert (link.signal_dbm, link.band, link.channel, link.rate_mbps) == (
        -47.0,
        "5 GHz",
        36,
        1201.0,
    )


def test_netsh_disconnected_or_other_adapter() -> None:
    assert wifi.parse_netsh(fixture("netsh_disconnected.txt")) is None
    assert wifi.parse_netsh(fixture("netsh_win10.txt"), "Wi-Fi 2") is None


def test_airport() -> None:
    link = wifi.parse_airport(fixture("airport_I.txt"))
    assert link == wifi.WifiLink(-61.0, "5 GHz", 149, 585.0, "airport -I")


def test_system_profiler_reads_the_current_network_not_the_neighbours() -> None:
    link = wifi.parse_system_profiler(fixture("system_profiler_airport.txt"), "en0")
    assert link == wifi.WifiLink(-63.0, "5 GHz", 149, 585.0, "system_profiler")
    assert wifi.parse_system_profiler(fixture("system_profiler_airport.txt"), "en7") is None


def test_macos_hardware_ports_classify_adapters() -> None:
    ports = wifi.parse_hardware_ports(fixture("networksetup_hardwareports.txt"))
    assert ports["en1"] == "Wi-Fi"
    assert connection.classify_macos("en0", ports).kind == "wired"
    assert connection.classify_macos("en1", ports).kind == "wifi"
    assert connection.classify_macos("en5", ports).kind == "cellular"
    utun = connection.classify_macos("utun3", ports)
    assert (utun.kind, utun.vpn) == ("unknown", True)


def test_windows_adapters() -> None:
    text = fixture("netsh_win10.txt")
    assert connection.classify_windows("Wi-Fi", text).kind == "wifi"
    assert connection.classify_windows("Ethernet", text).kind == "wired"
    assert connection.classify_windows("Cellular", text).kind == "cellular"
    vpn = connection.classify_windows("NordLynx", text)
    assert vpn.vpn


@pytest.mark.parametrize(
    ("mhz", "band", "channel"),
    [(2412, "2.4 GHz", 1), (2484, "2.4 GHz", 14), (5500, "5 GHz", 100), (5955, "6 GHz", 1)],
)
def test_ieee_channel_numbering(mhz: int, band: str, channel: int) -> None:
    assert wifi.band_of_mhz(mhz) == band
    link = wifi.parse_iw_link(f"Connected to x (on w)\n\tfreq: {mhz}\n\tsignal: -50 dBm\n")
    assert link is not None and link.channel == channel


def test_linux_sysfs_marks_wireless_adapters(tmp_path: Path) -> None:
    """The layout Linux gives a Wi-Fi adapter: /sys/class/net/IF/wireless and phy80211."""
    adapter = tmp_path / "wlp2s0"
    (adapter / "wireless").mkdir(parents=True)
    (adapter / "type").write_text("1\n")
    (adapter / "uevent").write_text("DEVTYPE=wlan\nINTERFACE=wlp2s0\nIFINDEX=3\n")
    assert connection.classify("wlp2s0", "Linux", sys_net=tmp_path).kind == "wifi"
