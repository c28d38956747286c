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
  "iPhone USB"). Windows: the adapter's type as Windows reports it, whatever its name or the
  display language (PowerShell `Get-NetAdapter`, MSFT_NetAdapter: InterfaceType is the IANA ifType,
  71 = IEEE 802.11, 6 = Ethernet, 243/244 = mobile broadband, 53/131/23 = virtual, tunnel, PPP;
  NdisPhysicalMedium 14 = 802.3, 9 = native 802.11, 0 = none, as on VPN adapters such as
  OpenVPN's TAP or Cisco AnyConnect; HardwareInterface false on every virtual adapter). So a
  Japanese "イーサネット" is wired and a TAP adapter named "Ethernet 2" is a VPN. Without
  PowerShell, the names `netsh wlan show interfaces` lists are Wi-Fi, and other names are guessed.
  Link speed elsewhere: psutil.net_if_stats. Wi-Fi details: probes/network/wifi.py.
- Whatever goes wrong while gathering these facts (a missing tool, a timeout, bytes in an
  unexpected code page, output of an unexpected shape) makes them NOT MEASURED with the reason;
  the speeds, delay and DNS are measured all the same.
- DNS: socket.getaddrinfo for each name, one after another, each bounded (default 2 s).
Nothing identifying is kept: no addresses, no network names; adapter names only.
"""

from __future__ import annotations

import json
import platform
import socket
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
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
WINDOWS_VPN_WORDS = (
    "vpn",
    "wireguard",
    "tap-",
    "openvpn",
    "tailscale",
    "nordlynx",
    "cisco",
    "anyconnect",
    "fortinet",
    "pangp",  # Palo Alto GlobalProtect
    "juniper",
    "zerotier",
)
# IANA ifType values (RFC 2863 / IANAifType-MIB) and NDIS_PHYSICAL_MEDIUM values (ntddndis.h) that
# Get-NetAdapter reports as InterfaceType and NdisPhysicalMedium.
IF_ETHERNET, IF_WIFI, IF_WWAN = 6, 71, (243, 244)
IF_VIRTUAL = (23, 53, 131)  # ppp, propVirtual (WireGuard, Wintun), tunnel
MEDIUM_NONE, MEDIUM_WIFI, MEDIUM_WWAN, MEDIUM_ETHERNET = 0, (1, 9), (8, 12), 14
# One PowerShell call lists every adapter; UTF-8 out, so names in any language survive the pipe.
GET_NET_ADAPTER = (
    "[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false; "
    "Get-NetAdapter | Select-Object Name, InterfaceDescription, InterfaceType, "
    "NdisPhysicalMedium, HardwareInterface, Virtual, Status | ConvertTo-Json -Compress"
)
POWERSHELL_TIMEOUT_S = 10.0  # a cold PowerShell start takes seconds on a slow laptop
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


@dataclass(frozen=True)
class WindowsAdapter:
    """One row of Get-NetAdapter (MSFT_NetAdapter)."""

    name: str
    description: str
    if_type: int | None
    medium: int | None
    hardware: bool | None
    virtual: bool | None


def classify(name: str, system: str | None = None, sys_net: Path = SYS_NET) -> Adapter:
    return classifier(system, sys_net)(name)


def classifier(system: str | None = None, sys_net: Path = SYS_NET) -> Callable[[str], Adapter]:
    """A function from adapter name to Adapter; the OS's adapter list is read once, here."""
    system = system or platform.system()
    if system == "Linux":
        return lambda name: _classify_linux(name, sys_net)
    if system == "Darwin":
        ports = wifi.parse_hardware_ports(
            wifi.run_command("networksetup", "-listallhardwareports") or ""
        )
        return lambda name: classify_macos(name, ports)
    if system == "Windows":
        adapters = read_windows_adapters()
        if adapters:
            return lambda name: classify_windows_adapter(name, adapters)
        text = wifi.run_command("netsh", "wlan", "show", "interfaces") or ""
        return lambda name: classify_windows(name, text)
    return lambda name: Adapter(
        name, ConnectionKind.UNKNOWN, _vpn_name(name), "this operating system is not recognised"
    )


def read_windows_adapters() -> dict[str, WindowsAdapter]:
    """Get-NetAdapter's rows by name ({} when PowerShell is missing, slow or says nothing)."""
    text = wifi.run_command(
        "powershell",
        "-NoProfile",
        "-NonInteractive",
        "-Command",
        GET_NET_ADAPTER,
        timeout_s=POWERSHELL_TIMEOUT_S,
    )
    return parse_net_adapters(text or "")


def parse_net_adapters(text: str) -> dict[str, WindowsAdapter]:
    """Get-NetAdapter | Select-Object ... | ConvertTo-Json: one object for a single adapter, a
    list for several; {} for anything else."""
    try:
        data = json.loads(text.lstrip("\ufeff")) if text.strip() else []
    except ValueError:
        return {}
    rows = data if isinstance(data, list) else [data]
    adapters: dict[str, WindowsAdapter] = {}
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("Name"), str):
            continue
        adapters[row["Name"]] = WindowsAdapter(
            name=row["Name"],
            description=str(row.get("InterfaceDescription") or ""),
            if_type=_int(row.get("InterfaceType")),
            medium=_int(row.get("NdisPhysicalMedium")),
            hardware=row.get("HardwareInterface")
            if isinstance(row.get("HardwareInterface"), bool)
            else None,
            virtual=row.get("Virtual") if isinstance(row.get("Virtual"), bool) else None,
        )
    return adapters


def classify_windows_adapter(name: str, adapters: Mapping[str, WindowsAdapter]) -> Adapter:
    """Wired, Wi-Fi, cellular or VPN from the type Windows gives the adapter, not its name."""
    row = adapters.get(name)
    if row is None:
        return classify_windows(name, "")
    words = f"{name} {row.description}".lower()
    virtual_ethernet = row.if_type == IF_ETHERNET and row.medium == MEDIUM_NONE
    vpn = (
        row.if_type in IF_VIRTUAL
        or any(word in words for word in WINDOWS_VPN_WORDS)
        or (virtual_ethernet and row.hardware is False)  # TAP-Windows, AnyConnect miniports
    )
    said = f"Windows reports {row.description or 'it'} as"
    if row.if_type == IF_WIFI or row.medium in MEDIUM_WIFI:
        return Adapter(name, ConnectionKind.WIFI, vpn, f"{said} a wireless (802.11) adapter")
    if row.if_type in IF_WWAN or row.medium in MEDIUM_WWAN:
        return Adapter(name, ConnectionKind.CELLULAR, vpn, f"{said} a mobile broadband adapter")
    if vpn:
        return Adapter(name, ConnectionKind.UNKNOWN, True, f"{said} a VPN or tunnel adapter")
    if row.if_type == IF_ETHERNET and row.medium == MEDIUM_ETHERNET and row.hardware:
        return Adapter(name, ConnectionKind.WIRED, False, f"{said} an Ethernet (802.3) adapter")
    if row.if_type == IF_ETHERNET and row.medium == MEDIUM_ETHERNET:
        return Adapter(
            name,
            ConnectionKind.UNKNOWN,
            False,
            f"{said} a virtual switch (Hyper-V, WSL): the link under it cannot be told",
        )
    return Adapter(name, ConnectionKind.UNKNOWN, False, f"{said} an adapter of another kind")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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
    """Without Get-NetAdapter: netsh's Wi-Fi adapters (the first field of each block is the name,
    whatever its label's language), else a guess from the name."""
    lowered = name.lower()
    vpn = any(word in lowered for word in WINDOWS_VPN_WORDS)
    wifi_names = {block[0][1] for block in wifi.netsh_blocks(netsh_text)}
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


def underlying_adapter(
    vpn_name: str, system: str | None = None, kind_of: Callable[[str], Adapter] | None = None
) -> Adapter | None:
    """With a VPN up, the physical adapter it most likely runs over: the first adapter that is up,
    not a tunnel, not loopback, and has an address."""
    kind_of = kind_of or classifier(system)
    stats = psutil.net_if_stats()
    addrs = psutil.net_if_addrs()
    for name in sorted(addrs):
        if name == vpn_name or not (stats.get(name) and stats[name].isup):
            continue
        adapter = kind_of(name)
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


def read_wifi(name: str, system: str | None = None) -> wifi.WifiLink | wifi.NoSignal | None:
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
    try:
        name = egress_interface(target)
        if name is None:
            reason = "this computer has no network route to the internet (not connected)"
            unmeasured += [Unmeasured(m, reason) for m in CONNECTION_METRICS]
        else:
            facts: tuple[list[Measurement], list[Unmeasured], dict[str, JSON]] = ([], [], {})
            _describe(name, system, *facts)
            measurements += facts[0]
            unmeasured += facts[1]
            details.update(facts[2])
    except Exception as exc:  # never sink the Network area: these facts only, not measured
        unmeasured += not_measured(CONNECTION_METRICS, exc)
    try:
        dns, dns_missing, dns_details = dns_measurement(dns_names, dns_timeout_s)
        measurements += [dns] if dns else []
        unmeasured += [dns_missing] if dns_missing else []
        details.update(dns_details)
    except Exception as exc:
        unmeasured += not_measured((Metric.DNS_MS,), exc)
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


def not_measured(metrics: Sequence[Metric], exc: BaseException) -> list[Unmeasured]:
    """The facts `metrics` as NOT MEASURED after an unexpected error, which the reason names."""
    why = f"reading the connection details failed ({type(exc).__name__}: {exc})"
    return [Unmeasured(m, why) for m in metrics]


def _describe(
    name: str,
    system: str | None,
    measurements: list[Measurement],
    unmeasured: list[Unmeasured],
    details: dict[str, JSON],
) -> None:
    kind_of = classifier(system)
    route = kind_of(name)
    details["interface"] = name
    measurements.append(measured(Metric.VPN, route.vpn, method=f"traffic leaves through {name}"))
    adapter = route
    if route.vpn:
        adapter = underlying_adapter(name, system, kind_of) or route
        details["vpn_interface"] = name
        details["interface"] = adapter.name
    measurements.append(
        measured(Metric.CONNECTION, adapter.kind, method=f"{adapter.name}: {adapter.how}")
    )
    reading = read_wifi(adapter.name, system) if adapter.kind is ConnectionKind.WIFI else None
    link = reading if isinstance(reading, wifi.WifiLink) else None
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
    elif isinstance(reading, wifi.NoSignal):
        unmeasured.append(Unmeasured(Metric.WIFI_SIGNAL_DBM, reading.reason))
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
