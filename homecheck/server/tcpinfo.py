"""Bytes received, as counted by the receiving kernel (Linux TCP_INFO), on both ends.

An application reading a socket late (a busy machine, a busy event loop) sees bytes in bursts,
which makes 100 ms rates jumpy and a rate over a window wrong by whatever sat unread in the buffer
at its ends. The kernel's `tcpi_bytes_received` (RFC 4898 tcpEStatsAppHCThruOctetsReceived) counts
bytes as they arrive, whoever reads them and when. Where it is not available (other systems) the
callers fall back to counting what they read.

The server side needs the socket of each HTTP connection, which ASGI does not hand to the app: a
small uvicorn protocol subclass files each connection's socket under its peer address.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

# struct tcp_info (linux/tcp.h): tcpi_bytes_acked at offset 120, tcpi_bytes_received at 128.
_BYTES_RECEIVED = struct.Struct("=Q")
_OFFSET = 128
_INFO_LEN = 136
READ_BYTES = 4 << 20


def bytes_received(sock: Any) -> int | None:
    """The kernel's count of bytes received on this TCP socket, or None where unavailable."""
    if sys.platform != "linux":
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _INFO_LEN)
    except (OSError, ValueError, AttributeError):
        return None
    if len(info) < _INFO_LEN:
        return None
    return int(_BYTES_RECEIVED.unpack_from(info, _OFFSET)[0])


class ConnectionSockets:
    """peer address -> socket, for the connections uvicorn has open."""

    def __init__(self) -> None:
        self._by_peer: dict[tuple[str, int], Any] = {}

    def socket_of(self, peer: Any) -> Any:
        if not isinstance(peer, list | tuple) or len(peer) < 2:
            return None
        return self._by_peer.get((str(peer[0]), int(peer[1])))

    def protocol(self) -> type[asyncio.Protocol]:
        """uvicorn's HTTP protocol (httptools' C parser when installed, else h11), filing
        sockets."""
        table = self._by_peer
        bases: tuple[type[Any], ...] = (H11Protocol,)
        try:
            from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

            from homecheck.server.upload_sink import UploadSinkMixin

            # Upload bodies skip the ASGI messages (upload_sink.py); that hooks httptools' parser.
            bases = (UploadSinkMixin, HttpToolsProtocol)
        except ImportError:  # httptools is optional: h11 is pure Python, slower on uploads
            pass

        class FilingH11Protocol(*bases):  # type: ignore[misc]
            def connection_made(self, transport: Any) -> None:
                super().connection_made(transport)
                # asyncio reads 256 KiB at a time; uploads at many Gbit/s then cost one Python
                # round (parse, copy, count) per 256 KiB. Bigger reads cut that overhead.
                if hasattr(transport, "max_size"):
                    transport.max_size = READ_BYTES
                peer = transport.get_extra_info("peername")
                sock = transport.get_extra_info("socket")
                if peer is not None and sock is not None:
                    self._hc_peer = (str(peer[0]), int(peer[1]))
                    table[self._hc_peer] = sock

            def connection_lost(self, exc: Exception | None) -> None:
                table.pop(getattr(self, "_hc_peer", ("", 0)), None)
                super().connection_lost(exc)

        return FilingH11Protocol
