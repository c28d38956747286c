"""How this computer is connected: wired or Wi-Fi, link speed, Wi-Fi signal, VPN, and DNS speed.

What it measures
- network.connection: the kind of adapter that carries the traffic: "wired", "wifi", "cellular"
  or "unknown". Employers often require wired for phone work (the voice profile recommends it).
- network.link_speed_mbps: the adapter's negotiated speed (Ethernet: 100 / 1000 ...; Wi-Fi: the
  current transmit rate). A 100 Mbit/s Ethernet link or a slow Wi-Fi rate caps everything else.
- network.wifi_signal_dbm: Wi-Fi signal strength in dBm (-30 excellent ... -67 good for voice,
  per Cisco/Aruba voice-over-WLAN design guides ... -80 unusable), plus band and channel in the
  details. Not measured on a wired connection.
- network.vpn: whether traffic leaves through a VPN-like adapter (tun, tap, wg, ppp, utun, ipsec
  ...). A VPN adds delay and hides the real connection; the kind reported is then that of the
  adapter underneath, when it can be told.
- network.dns_ms: time to look up a few names through the system resolver (median, ms); slow
  lookups delay every new connection. Not measured when no name can be looked up (offline).

How
- The adapter is the one the OS would use to reach the test server (or any internet address when
  there is none): a UDP socket is "connected" to that address, which only asks the routing table
  and sends nothing, and its local address is matched to an adapter (psutil). This honours VPN
  split routes and policy routing, which reading "the default route" would miss.
- Linux: /sys/class/net/IF (a `wireless` or `phy80211` entry means Wi-Fi; DEVTYPE=wwan means
  cellular; the ARP hardware type and the name tell tunnels apart), /sys/class/net/IF/speed.
  macOS: `networksetup -listallhardwareports` names each device's port ("Wi-Fi", "Ethernet",
  "iPhone USB"). Windows: `netsh wlan show interfaces` lists the Wi-Fi adapters by name.
  Link speed elsewhere: psutil.net_if_stats. Wi-Fi details: probes/network/wifi.py.
- DNS: socket.getaddrinfo for each name, one after another, each bounded (default 2 s).
Nothing identifying is kept: no addresses, no network names; adapter names only.
"""

from __future__ import annotations

import platform
import socket
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from homecheck.metrics import ConnectionKind, Metric, measured
from homecheck.model import JSON, Measurement, ProbeResult, Unmeasured
from probes.network import wifi

DEFAULT_DNS_NAMES = ("www.google.com", "www.microsoft.com", "zoom.us")
# A documentation address (RFC 5737 TEST-NET-2): only used to ask the routing table which adapter
# reaches "the internet"; no packet is ever sent to it.
INTERNET_PROBE_ADDRESS = "198.51.100.1"
VPN_PREFIXES = ("tun", "tap", "wg", "ppp", "utun", "ipsec", "vpn", "tailscale", "zt", "nordlynx")
WINDOWS_VPN_WORDS = ("vpn", "wireguard", "tap-", "openvpn", "tailscale", "nordlynx", "cisco")
# ARP hardware types (linux/if_arp.h) that are tunnels, not physical links.
# PPP, IPIP, IP6IP6, SIT, GRE, IP6GRE, NONE (tun, WireGuard).
TUNNEL_ARP_TYPES = {512, 768, 769, 776, 778, 823, 65534}
SYS_NET = Path("/sys/class/net")


@dataclass(frozen=True)
class Adapter:
    name: str
    kind: ConnectionKind
    vpn: bool
    how: str  # how the kind was told, for the report's method line


def egress_interface(target: str | None = None) -> str | None:
    """The adapter the OS routes traffic to `target` (an IP or name) through, or None."""
    address = target or INTERNET_PROBE_ADDRESS
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(address, 9, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect(sockaddr)  # a route lookup: UDP connect sends nothing
            local = str(sock.getsockname()[0])
    except OSError:  # no route (offline), or the name cannot be resolved
        return None
    return interface_with_address(local)


def interface_with_address(address: str) -> str | None:
    for name, addresses in psutil.net_if_addrs().items():
        for entry in addresses:
            if entry.address.split("%", 1)[0] == address:
                return name
    return None


def classify(name: str, system: str | None = None, sys_net: Path = SYS_NET) -> Adapter:
    system = system or platform.system()
    if system == "Linux":
        return _classify_linux(name, sys_net)
    if system == "Darwin":
        ports = wifi.parse_hardware_ports(
            wifi.run_command("networksetup", "-listallhardwareports") or ""
        )
        return classify_macos(name, ports)
    if system == "Windows":
        text = wifi.run_command("netsh", "wlan", "show", "interfaces") or ""
        return classify_windows(name, text)
    return Adapter(
        name, ConnectionKind.UNKNOWN, _vpn_name(name), "this operating system is not recognised"
    )


def _classify_linux(name: str, sys_net: Path) -> Adapter:
    base = sys_net / name
    uevent = _read(base / "uevent")
    devtype = next(
        (line.split("=", 1)[1] for line in uevent.splitlines() if line.startswith("DEVTYPE=")), ""
    )
    arp_type = int(_read(base / "type") or -1)
    vpn = _vpn_name(name) or arp_type in TUNNEL_ARP_TYPES or devtype == "wireguard"
    if (base / "wireless").exists() or (base / "phy80211").exists() or devtype == "wlan":
        return Adapter(name, ConnectionKind.WIFI, vpn, "Linux reports a wireless adapter")
    if devtype == "wwan" or name.startswith("wwan"):
        return Adapter(
            name, ConnectionKind.CELLULAR, vpn, "Linux reports a mobile broadband (WWAN) adapter"
        )
    if name == "lo" or arp_type == 772:
        return Adapter(
            name, ConnectionKind.UNKNOWN, vpn, "the loopback adapter (this computer only)"
        )
    if arp_type == 1 and not vpn:
        return Adapter(
            name, ConnectionKind.WIRED, False, "Linux reports an Ethernet adapter with no radio"
        )
    return Adapter(name, ConnectionKind.UNKNOWN, vpn, f"a tunnel or virtual adapter ({name})")


def classify_macos(name: str, ports: dict[str, str]) -> Adapter:
    port = ports.get(name, "")
    vpn = _vpn_name(name)
    if port in ("Wi-Fi", "AirPort"):
        return Adapter(name, ConnectionKind.WIFI, vpn, f"macOS hardware port {port!r}")
    if "iPhone" in port or "Modem" in port or "Cellular" in port:
        return Adapter(name, ConnectionKind.CELLULAR, vpn, f"macOS hardware port {port!r}")
    if port and ("Ethernet" in port or "LAN" in port or "Thunderbolt" in port):
        return Adapter(name, ConnectionKind.WIRED, vpn, f"macOS hardware port {port!r}")
    return Adapter(
        name, ConnectionKind.UNKNOWN, vpn, "macOS does not list this adapter as hardware"
    )


def classify_windows(name: str, netsh_text: str) -> Adapter:
    lowered = name.lower()
    vpn = any(word in lowered for word in WINDOWS_VPN_WORDS)
    wifi_names = {
        line.split(":", 1)[1].strip()
        for line in netsh_text.splitlines()
        if line.strip().lower().startswith("name ") and ":" in line
    }
    if name in wifi_names or lowered.startswith(("wi-fi", "wlan", "wireless")):
        return Adapter(name, ConnectionKind.WIFI, vpn, "Windows lists it as a wireless adapter")
    if lowered.startswith(("cellular", "mobile")):
        return Adapter(name, ConnectionKind.CELLULAR, vpn, "Windows names it a cellular adapter")
    if lowered.startswith("ethernet") and not vpn:
        return Adapter(name, ConnectionKind.WIRED, False, "Windows names it an Ethernet adapter")
    return Adapter(
        name, ConnectionKind.UNKNOWN, vpn, "Windows does not say what kind of adapter this is"
    )


def _vpn_name(name: str) -> bool:
    return name.lower().startswith(VPN_PREFIXES)


def underlying_adapter(vpn_name: str, system: str | None = None) -> Adapter | None:
    """With a VPN up, the physical adapter it most likely runs over: the first adapter that is up,
    not a tunnel, not loopback, and has an address."""
    stats = psutil.net_if_stats()
    addrs = psutil.net_if_addrs()
    for name in sorted(addrs):
        if name == vpn_name or not (stats.get(name) and stats[name].isup):
            continue
        adapter = classify(name, system)
        if adapter.kind is not ConnectionKind.UNKNOWN and not adapter.vpn:
            return adapter
    return None


def link_speed_mbps(name: str, sys_net: Path = SYS_NET) -> float | None:
    """Negotiated speed of a wired adapter (Mbit/s); None when the adapter does not say."""
    text = _read(sys_net / name / "speed")  # EINVAL on tunnels and on links without carrier
    if text.lstrip("-").isdigit() and int(text) > 0:
        return float(text)
    stats = psutil.net_if_stats().get(name)
    if stats is not None and stats.speed > 0:
        return float(stats.speed)
    return None


def read_wifi(name: str, system: str | None = None) -> wifi.WifiLink | None:
    system = system or platform.system()
    if system == "Linux":
        return wifi.read_linux(name)
    if system == "Darwin":
        return wifi.read_macos(name)
    if system == "Windows":
        return wifi.read_windows(name)
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


# --- DNS ----------------------------------------------------------------------------------------


def time_lookups(
    names: Sequence[str],
    timeout_s: float = 2.0,
    resolve: Callable[[str], object] = lambda name: socket.getaddrinfo(name, 443),
) -> dict[str, float | None]:
    """Milliseconds per name through the system resolver; None for a failed or timed-out lookup.

    getaddrinfo cannot be cancelled, so each lookup runs in a daemon thread that is abandoned
    after `timeout_s` (a resolver with no network may wait 5 s per try, see resolv.conf(5)).
    """
    times: dict[str, float | None] = {}
    for name in names:
        outcome: list[float] = []

        def lookup(name: str = name, outcome: list[float] = outcome) -> None:
            started = time.perf_counter()
            try:
                resolve(name)
            except (OSError, UnicodeError):  # gaierror is an OSError; UnicodeError: bad IDNA
                return
            outcome.append((time.perf_counter() - started) * 1000.0)

        worker = threading.Thread(target=lookup, name=f"dns-{name}", daemon=True)
        worker.start()
        worker.join(timeout_s)
        times[name] = round(outcome[0], 2) if outcome else None
    return times


def dns_measurement(
    names: Sequence[str], timeout_s: float = 2.0
) -> tuple[Measurement | None, Unmeasured | None, dict[str, JSON]]:
    times = time_lookups(names, timeout_s)
    ok = [t for t in times.values() if t is not None]
    details: dict[str, JSON] = {"dns_lookups_ms": dict(times)}
    if not ok:
        reason = (
            "no name could be looked up (DNS): this computer seems to have no internet "
            "connection, or its DNS server does not answer"
        )
        return None, Unmeasured(Metric.DNS_MS, reason), details
    failed = [name for name, t in times.items() if t is None]
    method = f"system resolver, median of {len(ok)} name(s)"
    if failed:
        method += f"; {len(failed)} failed: {', '.join(failed)}"
    value = round(statistics.median(ok), 1)
    return measured(Metric.DNS_MS, value, samples=ok, method=method), None, details


# --- all of it ----------------------------------------------------------------------------------


def measure(
    target: str | None = None,
    dns_names: Sequence[str] = DEFAULT_DNS_NAMES,
    dns_timeout_s: float = 2.0,
    system: str | None = None,
) -> ProbeResult:
    """The connection facts and DNS time as a (network) probe result to merge with the rest."""
    measurements: list[Measurement] = []
    unmeasured: list[Unmeasured] = []
    details: dict[str, JSON] = {}
    name = egress_interface(target)
    if name is None:
        reason = "this computer has no network route to the internet (not connected)"
        unmeasured += [Unmeasured(m, reason) for m in CONNECTION_METRICS]
    else:
        _describe(name, system, measurements, unmeasured, details)
    dns, dns_missing, dns_details = dns_measurement(dns_names, dns_timeout_s)
    measurements += [dns] if dns else []
    unmeasured += [dns_missing] if dns_missing else []
    details.update(dns_details)
    return ProbeResult(
        probe="network",
        measurements=tuple(measurements),
        unmeasured=tuple(unmeasured),
        details=details,
    )


CONNECTION_METRICS = (
    Metric.CONNECTION,
    Metric.LINK_SPEED_MBPS,
    Metric.WIFI_SIGNAL_DBM,
    Metric.VPN,
)


def _describe(
    name: str,
    system: str | None,
    measurements: list[Measurement],
    unmeasured: list[Unmeasured],
    details: dict[str, JSON],
) -> None:
    route = classify(name, system)
    details["interface"] = name
    measurements.append(measured(Metric.VPN, route.vpn, method=f"traffic leaves through {name}"))
    adapter = route
    if route.vpn:
        adapter = underlying_adapter(name, system) or route
        details["vpn_interface"] = name
        details["interface"] = adapter.name
    measurements.append(
        measured(Metric.CONNECTION, adapter.kind, method=f"{adapter.name}: {adapter.how}")
    )
    link = read_wifi(adapter.name, system) if adapter.kind is ConnectionKind.WIFI else None
    if link is not None:
        details["wifi_band"] = link.band
        details["wifi_channel"] = link.channel
    speed = link.rate_mbps if link is not None and link.rate_mbps else None
    speed_method = f"Wi-Fi transmit rate ({link.source})" if speed and link else ""
    if speed is None and adapter.kind is not ConnectionKind.WIFI and not adapter.vpn:
        speed = link_speed_mbps(adapter.name)
        speed_method = f"negotiated speed of {adapter.name}"
    if speed is not None:
        measurements.append(measured(Metric.LINK_SPEED_MBPS, speed, method=speed_method))
    elif adapter.vpn:  # a tunnel reports a made-up speed (Linux tun: 10000)
        why = f"traffic goes through a VPN adapter ({adapter.name}) that hides the real link"
        unmeasured.append(Unmeasured(Metric.LINK_SPEED_MBPS, why))
    else:
        why = f"the adapter ({adapter.name}) does not report its speed"
        unmeasured.append(Unmeasured(Metric.LINK_SPEED_MBPS, why))
    if adapter.kind is not ConnectionKind.WIFI:
        unmeasured.append(Unmeasured(Metric.WIFI_SIGNAL_DBM, "not connected by Wi-Fi"))
    elif link is None or link.signal_dbm is None:
        unmeasured.append(
            Unmeasured(
                Metric.WIFI_SIGNAL_DBM,
                "the operating system does not report the Wi-Fi signal strength",
            )
        )
    else:
        band = f", {link.band}" if link.band else ""
        measurements.append(
            measured(
                Metric.WIFI_SIGNAL_DBM,
                link.signal_dbm,
                method=f"{link.source}{band}",
            )
        )
