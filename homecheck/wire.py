"""The wire protocol between `homecheck serve` and the network probe, imported by both sides:
HTTP paths, the UDP echo and loss-probe packets, kernel receive timestamps and kernel byte counts.
It depends on nothing but the standard library, so the candidate's tool needs no server package.

HTTP (all under /api/speed):
- POST session {"seconds": S} -> 201 {"token", "udp_port", "seconds", "limits"}; 503 when the
  server already runs its maximum of concurrent tests. A test runs inside its session; the
  session ends after S seconds (at most the server's limit), after an idle spell, or on DELETE.
- DELETE session/{token} -> 204.
- GET download?token=T&seconds=S -> 200, incompressible bytes for S seconds (chunked).
- POST upload?token=T&seconds=S&stream=N with a Content-Length body -> 200 {"bytes", "seconds"}: the
  server counts what it receives into the session's record for stream N, every ~100 ms, so upload
  speed is measured where the bytes arrive. The client may simply close the connection at the end.
- GET session/{token}/uploads -> {"uploads": {N: {"start", "samples", "kernel"}}}: per stream,
  when it began and [seconds since the session started, bytes received so far] samples, counted
  by the server's kernel (TCP_INFO) when "kernel" is true, else as read by the app.
- POST session/{token}/downstream {"seconds": S, "pps": R, "cookie": hex} -> 202 {"packets": N}:
  the server sends N loss-probe packets (below) to the client, R a second for S seconds, while
  the client's upload fills its own upstream. Only to the address the cookie proves.
- GET session/{token}/loss -> {"up_seen": base64 bitmap of the loss-probe seqs received,
  "up_received": n, "down_sent": packets of the downstream sent so far, "down_done": bool}.

UDP echo (the port in the session reply): the client sends one packet every 20 ms, the size of a
G.711 RTP voice packet (172 bytes of UDP payload: 12 RTP header + 160 audio). The server answers
each with a packet of the same size carrying its receive and send times and how many packets of
the session it has received so far. Packets of unknown sessions are dropped, and an answer is
never larger than its request, so the echo cannot be used to amplify traffic.

Loss probe (same UDP port; probes/network/employer/loss_stream.py): small packets, many more
than the voice
stream sends, only to count losses (3 % loss read to +-0.5 pp needs ~4,500 packets a direction, not
the ~350 a 15 s voice stream gives). A packet is magic "HCL1", token, seq, flags and a cookie.
With FLAG_ECHO the server answers it ("HCM1", same size) and puts in the cookie field an HMAC of
the token and the address it came from; without, it only marks the seq as received. The
downstream burst above goes only to an address whose cookie the client quotes back, so a forged
source address cannot turn the server against someone else.
"""

from __future__ import annotations

import socket
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any

API = "/api/speed"
SESSION_PATH = f"{API}/session"
DOWNLOAD_PATH = f"{API}/download"
UPLOAD_PATH = f"{API}/upload"
DOWNSTREAM_PATH = f"{SESSION_PATH}/{{token}}/downstream"
LOSS_PATH = f"{SESSION_PATH}/{{token}}/loss"

TOKEN_BYTES = 16
PACKET_BYTES = 172
REQUEST_MAGIC = b"HCQ1"
REPLY_MAGIC = b"HCR1"
FLAG_QUERY = 1  # "how many have you received?": answered, not counted

LOSS_MAGIC = b"HCL1"
LOSS_REPLY_MAGIC = b"HCM1"
FLAG_ECHO = 1  # loss probe: answer this one
FLAG_ORIGINATED = 2  # loss probe from the server (the downstream burst), not an answer

# magic, token, seq, flags, reserved, client send ns, server receive ns, server send ns, count
_HEADER = struct.Struct("!4s16sIHHQQQI")
HEADER_BYTES = _HEADER.size


@dataclass(frozen=True)
class EchoPacket:
    token: bytes
    seq: int
    flags: int = 0
    client_tx_ns: int = 0
    server_rx_ns: int = 0
    server_tx_ns: int = 0
    server_count: int = 0


def encode(packet: EchoPacket, magic: bytes = REQUEST_MAGIC, size: int = PACKET_BYTES) -> bytes:
    header = _HEADER.pack(
        magic,
        packet.token,
        packet.seq & 0xFFFFFFFF,
        packet.flags,
        0,
        packet.client_tx_ns,
        packet.server_rx_ns,
        packet.server_tx_ns,
        packet.server_count & 0xFFFFFFFF,
    )
    return header.ljust(max(size, HEADER_BYTES), b"\0")


def decode(data: bytes, magic: bytes) -> EchoPacket | None:
    """The packet, or None when it is not one of ours (wrong magic or too short)."""
    if len(data) < HEADER_BYTES:
        return None
    fields = _HEADER.unpack_from(data)
    if fields[0] != magic:
        return None
    _, token, seq, flags, _, client_tx, server_rx, server_tx, count = fields
    return EchoPacket(token, seq, flags, client_tx, server_rx, server_tx, count)


# magic, token, seq, flags, reserved, cookie
_LOSS = struct.Struct("!4s16sIHH8s")
LOSS_BYTES = _LOSS.size
COOKIE_BYTES = 8


@dataclass(frozen=True)
class LossPacket:
    token: bytes
    seq: int
    flags: int = 0
    cookie: bytes = bytes(COOKIE_BYTES)


def encode_loss(packet: LossPacket, magic: bytes = LOSS_MAGIC) -> bytes:
    return _LOSS.pack(magic, packet.token, packet.seq & 0xFFFFFFFF, packet.flags, 0, packet.cookie)


def decode_loss(data: bytes, magic: bytes = LOSS_MAGIC) -> LossPacket | None:
    if len(data) != LOSS_BYTES:
        return None
    fields = _LOSS.unpack(data)
    if fields[0] != magic:
        return None
    _, token, seq, flags, _, cookie = fields
    return LossPacket(token, seq, flags, cookie)


# Kernel receive timestamps (Linux SO_TIMESTAMPNS / SCM_TIMESTAMPNS, CLOCK_REALTIME, ns): taken
# when the packet arrives, so a busy process or event loop does not add to the measured jitter.
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")


def enable_rx_timestamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp received packets; False where the platform cannot."""
    if sys.platform != "linux" or not hasattr(sock, "recvmsg"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


# Where the kernel does not stamp packets, the process does, and time.time_ns() is too coarse for
# that on Windows before Python 3.13: it ticks every 15.6 ms (cpython gh-88494), which turns a
# loopback round trip into 0 or 15.6 ms and adds ~5 ms of jitter. perf_counter_ns() is
# QueryPerformanceCounter there (sub-microsecond). It is anchored once to the wall clock so its
# stamps still read as ns since the epoch; only differences of stamps on one clock are used
# (round trip, RFC 3550 jitter), so the anchor's own error (up to one tick) cancels.
_FINE_ANCHOR_NS = time.time_ns() - time.perf_counter_ns()


def fine_ns() -> int:
    """ns since the epoch, at sub-microsecond resolution on every platform."""
    return _FINE_ANCHOR_NS + time.perf_counter_ns()


def now_ns(stamped: bool) -> int:
    """Now, on the clock of the receive stamps of a socket whose `enable_rx_timestamps` said
    `stamped`: the kernel's wall clock (CLOCK_REALTIME) where the kernel stamps, else `fine_ns`.
    Send stamps must use it too: a round trip subtracts one from the other."""
    return time.time_ns() if stamped else fine_ns()


def recv_stamped(sock: socket.socket, stamped: bool) -> tuple[bytes, Any, int]:
    """(data, address, receive time in ns since the epoch, on the clock of `now_ns(stamped)`)
    of the next datagram."""
    if not stamped:
        data, address = sock.recvfrom(2048)
        return data, address, fine_ns()
    data, ancillary, _flags, address = sock.recvmsg(2048, socket.CMSG_SPACE(_TIMESPEC.size))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= _TIMESPEC.size:
            seconds, nanos = _TIMESPEC.unpack_from(payload)
            return data, address, seconds * 1_000_000_000 + nanos
    return data, address, time.time_ns()


# Bytes received, as counted by the receiving kernel (Linux TCP_INFO), on both ends. An application
# reading a socket late (a busy machine, a busy event loop) sees bytes in bursts, which makes
# 100 ms rates jumpy and a rate over a window wrong by whatever sat unread in the buffer at its
# ends. The kernel's `tcpi_bytes_received` (RFC 4898 tcpEStatsAppHCThruOctetsReceived) counts
# bytes as they arrive, whoever reads them and when. Where it is not available (other systems)
# the callers fall back to counting what they read.
# struct tcp_info (linux/tcp.h): tcpi_bytes_acked at offset 120, tcpi_bytes_received at 128.
_BYTES_RECEIVED = struct.Struct("=Q")
_BYTES_RECEIVED_OFFSET = 128
_TCP_INFO_LEN = 136


def bytes_received(sock: Any) -> int | None:
    """The kernel's count of bytes received on this TCP socket, or None where unavailable."""
    if sys.platform != "linux":
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
    except (OSError, ValueError, AttributeError):
        return None
    if len(info) < _TCP_INFO_LEN:
        return None
    return int(_BYTES_RECEIVED.unpack_from(info, _BYTES_RECEIVED_OFFSET)[0])
