"""What the server's kernel counted of a sending TCP socket (Linux TCP_INFO, RFC 4898).

A download's bytes as the server wrote them are what it handed its kernel: megabytes of them may
still sit in the send buffer, unsent, when the download ends (a 4 MB buffer holds 1.6 s of a
20 Mbit/s line). The kernel's `tcpi_bytes_acked` (RFC 4898 tcpEStatsAppHCThruOctetsAcked) counts
only the bytes the client acknowledged: those that crossed the line. Its round-trip times are the
sender's own: `tcpi_rtt`, the smoothed RTT (RFC 6298 SRTT) of the last acknowledgements, which
under load includes the queue the test itself builds at the bottleneck, and `tcpi_min_rtt`, the
least RTT seen on the connection (Linux's windowed minimum), the path's round trip without that
queue.

Elsewhere (macOS, Windows: no TCP_INFO of this layout) `read_sent` returns None and the callers
fall back to counting what they wrote, and say so.
"""

from __future__ import annotations

import socket
import struct
import sys
from dataclasses import dataclass
from typing import Any

# struct tcp_info (include/uapi/linux/tcp.h): tcpi_rtt (us) at 68, tcpi_bytes_acked at 120,
# tcpi_min_rtt (us) at 148 (Linux 4.6 and later; older kernels return less, and no min_rtt).
_RTT = struct.Struct("=I")
_RTT_OFFSET = 68
_BYTES_ACKED = struct.Struct("=Q")
_BYTES_ACKED_OFFSET = 120
_MIN_RTT_OFFSET = 148
_SHORT_LEN = 128  # up to tcpi_bytes_acked
_FULL_LEN = 152  # up to tcpi_min_rtt


@dataclass(frozen=True)
class SentCounts:
    bytes_acked: int
    srtt_ms: float  # smoothed RTT now
    min_rtt_ms: float | None  # least RTT over the connection; None on kernels before 4.6


def read_sent(sock: Any) -> SentCounts | None:
    """The kernel's view of what this TCP socket sent, or None where TCP_INFO is unavailable."""
    if sys.platform != "linux" or sock is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _FULL_LEN)
    except (OSError, ValueError, AttributeError):
        return None
    if len(info) < _SHORT_LEN:
        return None
    min_rtt = None
    if len(info) >= _FULL_LEN:
        min_rtt = _RTT.unpack_from(info, _MIN_RTT_OFFSET)[0] / 1000.0
        if min_rtt >= 0xFFFFFFFF / 1000.0:  # ~0U: no sample yet
            min_rtt = None
    return SentCounts(
        bytes_acked=int(_BYTES_ACKED.unpack_from(info, _BYTES_ACKED_OFFSET)[0]),
        srtt_ms=_RTT.unpack_from(info, _RTT_OFFSET)[0] / 1000.0,
        min_rtt_ms=min_rtt,
    )
