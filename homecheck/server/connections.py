"""The socket behind each HTTP connection of `homecheck serve`, so uploads can be counted by the
server's kernel (homecheck.wire.bytes_received). ASGI does not hand the socket to the app: a small
uvicorn protocol subclass files each connection's socket under its peer address, and hands upload
bodies to the fast path in upload_sink.py."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from homecheck.server.upload_sink import UploadSinkMixin

READ_BYTES = 4 << 20


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

            # Upload bodies skip the ASGI messages (upload_sink.py); that hooks httptools' parser.
            bases = (UploadSinkMixin, HttpToolsProtocol)
        except ImportError:  # without httptools, h11 (pure Python): slower on uploads
            pass

        class FilingProtocol(*bases):  # type: ignore[misc]
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

        return FilingProtocol
