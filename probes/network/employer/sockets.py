"""The TCP sockets of one speed phase: connecting them (over TLS for an https server), resetting
them all at the end, and reading the receiving kernel's byte counts (homecheck.wire.bytes_received)
while they run. Over TLS the kernel counts TLS records, the TCP payload: see throughput.py."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

from homecheck import wire
from probes.network.employer.session import Endpoint

CONNECT_TIMEOUT_S = 3.0
WAIT_SLICE_S = 0.25  # every blocking socket call returns at least this often


class StreamSockets:
    """The sockets of one phase, so the phase can reset them all at its end."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False

    def connect(self) -> socket.socket:
        sock = socket.socket(self.endpoint.family, socket.SOCK_STREAM)
        with self.lock:
            self.sockets.append(sock)
        sock.settimeout(CONNECT_TIMEOUT_S)
        sock.connect(self.endpoint.address)
        wrapped = self.endpoint.wrap(sock)  # the TLS handshake, within the connect timeout
        if wrapped is not sock:
            with self.lock:
                if self.closed:  # the phase ended during the handshake
                    wrapped.close()
                    raise ConnectionAbortedError("the phase ended")
                self.sockets[self.sockets.index(sock)] = wrapped
        wrapped.settimeout(WAIT_SLICE_S)
        return wrapped

    def reset_all(self) -> None:
        with self.lock:
            self.closed = True
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    # Linger 0: close with a reset, dropping whatever is still in the send buffer;
                    # shutting the reading side first wakes a thread blocked in recv.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    # The plain socket's shutdown, also under TLS: SSLSocket.shutdown would drop
                    # its TLS state under a thread still reading it.
                    socket.socket.shutdown(sock, socket.SHUT_RD)
                sock.close()
            self.sockets.clear()


class KernelCounts:
    """Per stream, the receiving kernel's byte count (homecheck.wire): finished sockets' totals plus
    the current socket's count. `works` turns False on a system without TCP_INFO, and the
    download then counts what it reads instead."""

    def __init__(self, streams: int) -> None:
        self.done = [0] * streams
        self.last = [0] * streams
        self.current: list[socket.socket | None] = [None] * streams
        self.lock = threading.Lock()
        self.works = True

    def attach(self, index: int, sock: socket.socket) -> None:
        with self.lock:
            self.current[index] = sock
            self.last[index] = 0
            if wire.bytes_received(sock) is None:
                self.works = False

    def detach(self, index: int) -> None:
        with self.lock:
            self._read(index)
            self.done[index] += self.last[index]
            self.current[index], self.last[index] = None, 0

    def _read(self, index: int) -> None:
        sock = self.current[index]
        value = wire.bytes_received(sock) if sock is not None else None
        if value is not None:
            self.last[index] = max(self.last[index], value)

    def total(self) -> int | None:
        if not self.works:
            return None
        with self.lock:
            for index in range(len(self.current)):
                self._read(index)
            return sum(self.done) + sum(self.last)
