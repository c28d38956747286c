"""The UDP echo of `homecheck serve`, in the measurement plane's asyncio event loop.

The socket is read from an event-loop reader callback with recvmsg, so each packet carries the
kernel's receive time (SO_TIMESTAMPNS): a loop busy pushing download bytes delays the answer but
not the receive stamp, and the send stamp is taken just before the answer goes out. The client
subtracts the time the server held the packet from the round trip.

On Windows asyncio's default loop is the ProactorEventLoop, which has no `add_reader` (asyncio docs,
"Platform Support"), and sockets have no recvmsg. There a thread of its own waits for the socket
(select), stamps each datagram with the process's fine clock (homecheck.wire.fine_ns) as it
reads it, and hands the batch to the event loop, which answers as above. Not the Proactor's
datagram endpoint: its read loop stops for good after an ICMP "port unreachable" from a client
that went away (cpython gh-91227, gh-127057), and the echo would fall silent for everyone.
"""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import time
from typing import Any

from homecheck import wire
from homecheck.server.loss_probe import LossProbe
from homecheck.server.sessions import SessionTable
from homecheck.wire import (
    FLAG_QUERY,
    LOSS_MAGIC,
    REPLY_MAGIC,
    REQUEST_MAGIC,
    EchoPacket,
)

BURST = 128  # datagrams handled per wake-up before giving the loop back
READER_WAIT_S = 0.2  # the reader thread (Windows) looks at its stop flag this often


class UdpEcho:
    def __init__(self, sock: socket.socket, sessions: SessionTable) -> None:
        self.sock = sock
        self.sessions = sessions
        self.sock.setblocking(False)
        self.stamped = wire.enable_rx_timestamps(sock)
        self.answered = 0
        self.loss = LossProbe(sock, sessions)
        self._reader: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.add_reader(self.sock.fileno(), self._readable)
        except NotImplementedError:  # Windows' ProactorEventLoop (see above)
            self._reader = threading.Thread(
                target=self._read_loop, args=(loop,), daemon=True, name="hc-udp-echo"
            )
            self._reader.start()

    def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._reader is None:
            loop.remove_reader(self.sock.fileno())
            return
        self._stopping.set()
        self._reader.join(2 * READER_WAIT_S)

    def _readable(self) -> None:
        for data, address, received_ns in self._burst():
            self._answer(data, address, received_ns)

    def _burst(self) -> list[tuple[bytes, Any, int]]:
        """Up to BURST datagrams waiting on the (non-blocking) socket, each with its stamp."""
        got = []
        for _ in range(BURST):
            try:
                got.append(wire.recv_stamped(self.sock, self.stamped))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # e.g. an ICMP error queued on the socket: nothing to answer
                continue
        return got

    def _read_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The reader where the event loop cannot watch a socket: stamp here, answer there."""
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([self.sock], [], [], READER_WAIT_S)
            except (OSError, ValueError):  # the socket was closed under us: the server stops
                return
            batch = self._burst() if readable else []
            if batch:
                try:
                    loop.call_soon_threadsafe(self._answer_all, batch)
                except RuntimeError:  # the loop is closed: the server stops
                    return

    def _answer_all(self, batch: list[tuple[bytes, Any, int]]) -> None:
        for data, address, received_ns in batch:
            self._answer(data, address, received_ns)

    def _answer(self, data: bytes, address: Any, received_ns: int) -> None:
        if data[:4] == LOSS_MAGIC:
            self.loss.handle(data, address)
            return
        packet = wire.decode(data, REQUEST_MAGIC)
        if packet is None:
            return
        now = time.monotonic()
        session = self.sessions.get(packet.token, now, traffic=True)
        if session is None or not self.sessions.allow_udp(session, now):
            return
        if not packet.flags & FLAG_QUERY:
            session.udp_count += 1
        reply = EchoPacket(
            token=packet.token,
            seq=packet.seq,
            flags=packet.flags,
            client_tx_ns=packet.client_tx_ns,
            server_rx_ns=received_ns,
            server_tx_ns=wire.now_ns(self.stamped),
            server_count=session.udp_count,
        )
        try:
            self.sock.sendto(wire.encode(reply, REPLY_MAGIC, size=len(data)), address)
            self.answered += 1
        except OSError:  # the client went away or its network is down: nothing to do
            pass
