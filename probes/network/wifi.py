"""What the operating system says about the Wi-Fi link: signal (dBm), band, channel, link rate.

Sources, per OS (each read with a short time bound; a missing tool means "not reported"):
- Linux: `iw dev IF link` (nl80211: signal in dBm, frequency, tx bitrate), else
  /proc/net/wireless (the Wireless Extensions table; its "level" column is dBm on current drivers).
- macOS: `system_profiler SPAirPortDataType` ("Signal / Noise: -55 dBm / -92 dBm",
  "Channel: 149 (5GHz, 80MHz)", "Transmit Rate: 867"), else the older
  `airport -I` (agrCtlRSSI, lastTxRate, channel), removed in macOS 14.4.
- Windows: `netsh wlan show interfaces`. It gives "Signal" as a quality percentage; newer builds
  also give "Rssi" in dBm. A percentage is converted with Microsoft's documented mapping for
  WLAN_ASSOCIATION_ATTRIBUTES.wlanSignalQuality: 0 % = -100 dBm, 100 % = -50 dBm, linear between.
  netsh's labels are translated ("Kanal", "チャネル") and it writes the console's code page (the
  OEM one: cp850 on German, cp932 on Japanese Windows), so its bytes are decoded with that code
  page, errors replaced, and the fields are told apart by what their values look like (a "%",
  "GHz", the access point's BSSID), by position (the name comes first, the transmit rate after
  the receive rate) and by a few translated labels (the channel). Windows 11 24H2 withholds it
  from programs without Location access; netsh then prints a notice with the settings page
  `ms-settings:privacy-location`, and the reading says what to turn on.

Bands follow IEEE 802.11 frequency ranges: 2.4 GHz (2400-2500 MHz), 5 GHz (4900-5925 MHz),
6 GHz (5925-7125 MHz). No network name (SSID) or hardware address is kept: they can locate a person.
"""

from __future__ import annotations

import codecs
import locale
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

AIRPORT = (
    "/System/Library/PrivateFrameworks/Apple80211.framework/Versions/Current/Resources/airport"
)
COMMAND_TIMEOUT_S = 4.0


@dataclass(frozen=True)
class WifiLink:
    signal_dbm: float | None = None
    band: str | None = None  # "2.4 GHz", "5 GHz", "6 GHz"
    channel: int | None = None
    rate_mbps: float | None = None  # the current transmit rate of the Wi-Fi link
    source: str = ""  # which command or file said so


@dataclass(frozen=True)
class NoSignal:
    """The OS has a Wi-Fi link but will not say how strong it is, and why (plain language)."""

    reason: str


LOCATION_NOTICE = "ms-settings:privacy-location"  # the Settings page netsh names, in any language
LOCATION_REASON = (
    "Windows withholds the Wi-Fi signal from programs that may not use the location: turn on "
    "Settings > Privacy & security > Location > Location services and 'Let desktop apps access "
    "your location', then run homecheck again"
)


def band_of_mhz(freq_mhz: float) -> str | None:
    if 2400 <= freq_mhz <= 2500:
        return "2.4 GHz"
    if 4900 <= freq_mhz < 5925:
        return "5 GHz"
    if 5925 <= freq_mhz <= 7125:
        return "6 GHz"
    return None


def band_of_channel(channel: int) -> str | None:
    """Band from a channel number alone (older tools): 1-14 are 2.4 GHz, 32-177 are 5 GHz."""
    if 1 <= channel <= 14:
        return "2.4 GHz"
    if 32 <= channel <= 177:
        return "5 GHz"
    return None


def dbm_from_quality_pct(quality: float) -> float:
    """Windows' signal quality (%) to dBm (wlanSignalQuality: 0 = -100 dBm, 100 = -50 dBm)."""
    return quality / 2.0 - 100.0


# --- parsers: text in, facts out (tested against captured real outputs) -------------------------


def parse_iw_link(text: str) -> WifiLink | None:
    """`iw dev IF link`; None when not connected."""
    if "Connected to" not in text:
        return None
    signal = _number(r"^\s*signal:\s*(-?\d+(?:\.\d+)?)\s*dBm", text)
    freq = _number(r"^\s*freq:\s*(\d+(?:\.\d+)?)", text)
    rate = _number(r"^\s*tx bitrate:\s*(\d+(?:\.\d+)?)\s*MBit/s", text)
    return WifiLink(signal, band_of_mhz(freq) if freq else None, _channel_of_mhz(freq), rate, "iw")


def parse_proc_net_wireless(text: str, interface: str) -> WifiLink | None:
    """/proc/net/wireless: `IF: status link level noise ...`; level in dBm (trailing dot)."""
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name.strip() != interface or not rest:
            continue
        fields = rest.split()
        if len(fields) < 3:
            return None
        level = float(fields[2].rstrip("."))
        # Old drivers report an unsigned 0-255 "level": values above 0 are not dBm.
        return WifiLink(signal_dbm=level if level < 0 else None, source="/proc/net/wireless")
    return None


def parse_airport(text: str) -> WifiLink | None:
    """macOS `airport -I`."""
    if "AirPort: Off" in text or "agrCtlRSSI" not in text:
        return None
    rssi = _number(r"^\s*agrCtlRSSI:\s*(-?\d+)", text)
    rate = _number(r"^\s*lastTxRate:\s*(\d+(?:\.\d+)?)", text)
    channel_value = _number(r"^\s*channel:\s*(\d+)", text)
    channel = int(channel_value) if channel_value else None
    band = band_of_channel(channel) if channel else None
    return WifiLink(rssi if rssi else None, band, channel, rate, "airport -I")


def parse_system_profiler(text: str, interface: str | None = None) -> WifiLink | None:
    """macOS `system_profiler SPAirPortDataType`: the "Current Network Information" block of the
    interface (not the "Other Local Wi-Fi Networks" that follow it)."""
    lines = text.splitlines()
    start = 0
    if interface:
        found = [i for i, line in enumerate(lines) if line.strip() == f"{interface}:"]
        if not found:
            return None
        start = found[0]
    current = next(
        (i for i in range(start, len(lines)) if "Current Network Information:" in lines[i]), None
    )
    if current is None:
        return None
    indent = len(lines[current]) - len(lines[current].lstrip())
    block = []
    for line in lines[current + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        block.append(line)
    body = "\n".join(block)
    signal = _number(r"Signal / Noise:\s*(-?\d+)\s*dBm", body)
    rate = _number(r"Transmit Rate:\s*(\d+(?:\.\d+)?)", body)
    channel_match = re.search(r"Channel:\s*(\d+)(?:\s*\((\d+(?:\.\d+)?)\s*GHz)?", body)
    channel = int(channel_match.group(1)) if channel_match else None
    band = None
    if channel_match and channel_match.group(2):
        band = {"2": "2.4 GHz", "2.4": "2.4 GHz", "5": "5 GHz", "6": "6 GHz"}.get(
            channel_match.group(2)
        )
    elif channel:
        band = band_of_channel(channel)
    return WifiLink(signal, band, channel, rate, "system_profiler")


# netsh's label for the channel in the languages seen so far (the other fields are told by value).
CHANNEL_LABELS = (
    "channel",
    "kanal",
    "canal",
    "canale",
    "チャネル",
    "信道",
    "通道",
    "kanał",
    "канал",
)
BSSID = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", re.IGNORECASE)


def parse_netsh(text: str, interface: str | None = None) -> WifiLink | NoSignal | None:
    """Windows `netsh wlan show interfaces` in any language: the block of `interface` (or the
    first connected one); NoSignal when Windows withholds it (Location permission)."""
    if LOCATION_NOTICE in text:
        return NoSignal(LOCATION_REASON)
    for block in netsh_blocks(text):
        name = block[0][1]
        if interface and name != interface:
            continue
        values = [value for _, value in block]
        # Only a connected interface names its access point ("AP BSSID" in every language seen).
        if not any("bssid" in k.lower() and BSSID.match(v) for k, v in block):
            continue
        rssi = next((_float(v) for k, v in block if k.lower() == "rssi"), None)
        quality = next((_float(v[:-1]) for v in values if re.fullmatch(r"\d{1,3}\s*%", v)), None)
        signal, source = rssi, "netsh wlan (Rssi)"
        if signal is None and quality is not None:
            signal, source = dbm_from_quality_pct(quality), "netsh wlan (Signal %)"
        channel_value = next((_float(v) for k, v in block if k.lower() in CHANNEL_LABELS), None)
        channel = int(channel_value) if channel_value is not None else None
        band = next(
            (
                b
                for b in ("2.4 GHz", "5 GHz", "6 GHz")
                for v in values
                if v.replace(",", ".").startswith(b)  # "2,4 GHz" in French
            ),
            None,
        )
        if band is None and channel:
            band = band_of_channel(channel)
        # Receive rate, then transmit rate, both labelled with their unit "(Mbps)"/"(MBit/s)".
        rates = [_float(v) for k, v in block if re.search(r"\((mbps|mbit/s|mbits/s)\)", k.lower())]
        rate = rates[1] if len(rates) >= 2 else None
        return WifiLink(signal, band, channel, rate, source)
    return None


def netsh_blocks(text: str) -> list[list[tuple[str, str]]]:
    """netsh's "label : value" lines, one list per interface (blocks are separated by blank
    lines; a block with fewer than three fields is a heading or a footer)."""
    blocks: list[list[tuple[str, str]]] = []
    for chunk in re.split(r"\r?\n\s*\r?\n", text):
        fields = []
        for line in chunk.splitlines():
            key, sep, value = line.partition(" : ")
            if not sep:
                key, sep, value = line.partition(": ")  # "Übertragungsrate (MBit/s): 1201"
            if sep and key.strip():
                fields.append((key.strip(), value.strip()))
        if len(fields) >= 3:
            blocks.append(fields)
    return blocks


def parse_hardware_ports(text: str) -> dict[str, str]:
    """macOS `networksetup -listallhardwareports`: {device: port}, e.g. {"en0": "Wi-Fi"}."""
    ports: dict[str, str] = {}
    port = None
    for line in text.splitlines():
        if line.startswith("Hardware Port:"):
            port = line.split(":", 1)[1].strip()
        elif line.startswith("Device:") and port:
            ports[line.split(":", 1)[1].strip()] = port
    return ports


def _number(pattern: str, text: str) -> float | None:
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def _float(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return None


def _channel_of_mhz(freq: float | None) -> int | None:
    """IEEE 802.11 channel numbering: 2.4 GHz ch = (f - 2407) / 5 (ch 14 = 2484), 5 GHz
    ch = (f - 5000) / 5, 6 GHz ch = (f - 5950) / 5."""
    if not freq:
        return None
    if freq == 2484:
        return 14
    if 2400 <= freq <= 2500:
        return round((freq - 2407) / 5)
    if 4900 <= freq < 5925:
        return round((freq - 5000) / 5)
    if 5925 <= freq <= 7125:
        return round((freq - 5950) / 5)
    return None


# --- readers: run the OS's tool, then parse -----------------------------------------------------


def run_command(
    *args: str, timeout_s: float = COMMAND_TIMEOUT_S, any_exit: bool = False
) -> str | None:
    """stdout of a command, or None when it is missing, fails (unless `any_exit`: netsh explains
    a refusal on stdout with exit code 1) or hangs. Decoded with the console's code page,
    undecodable bytes replaced: a tool's output can never raise here."""
    if shutil.which(args[0]) is None and not Path(args[0]).exists():
        return None
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 and not any_exit:
        return None
    return decode_output(done.stdout, output_encoding())


def output_encoding() -> str:
    """What console programs write to a pipe: on Windows the console's output code page, which
    is the OEM one (cp437, cp850, cp932 ...) unless `chcp` changed it, not the ANSI one Python
    assumes for text=True (cp1252); elsewhere the locale's."""
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32")
        page = kernel32.GetConsoleOutputCP() or kernel32.GetOEMCP()
        return f"cp{page}"
    return locale.getpreferredencoding(False)


def decode_output(data: bytes, encoding: str) -> str:
    """`data` as text in `encoding` (UTF-8 if Python does not know it), never raising."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    return data.decode(encoding, errors="replace")


def read_linux(interface: str, proc_root: Path = Path("/proc")) -> WifiLink | None:
    text = run_command("iw", "dev", interface, "link")
    link = parse_iw_link(text) if text else None
    if link is not None and link.signal_dbm is not None:
        return link
    try:
        table = (proc_root / "net" / "wireless").read_text()
    except OSError:
        return link
    return parse_proc_net_wireless(table, interface) or link


def read_macos(interface: str) -> WifiLink | None:
    text = run_command("system_profiler", "SPAirPortDataType")
    link = parse_system_profiler(text, interface) if text else None
    if link is not None and link.signal_dbm is not None:
        return link
    text = run_command(AIRPORT, "-I")
    return (parse_airport(text) if text else None) or link


def read_windows(interface: str) -> WifiLink | NoSignal | None:
    text = run_command("netsh", "wlan", "show", "interfaces", any_exit=True)
    return parse_netsh(text, interface) if text else None
