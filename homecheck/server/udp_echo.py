"""The UDP echo of `homecheck serve`, running in the same asyncio event loop as the HTTP app.

The socket is read from an event-loop reader callback with recvmsg, so each packet carries the
kernel's receive time (SO_TIMESTAMPNS): a loop busy pushing download bytes delays the answer but
not the receive stamp, and the send stamp is taken just before the answer goes out. The client
subtracts the time the server held the packet from the round trip.
"""

from __future__ import annotations

import asyncio
import socket
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


class UdpEcho:
    def __init__(self, sock: socket.socket, sessions: SessionTable) -> None:
        self.sock = sock
        self.sessions = sessions
        self.sock.setblocking(False)
        self.stamped = wire.enable_rx_timestamps(sock)
        self.answered = 0
        self.loss = LossProbe(sock, sessions)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_reader(self.sock.fileno(), self._readable)

    def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.remove_reader(self.sock.fileno())

    def _readable(self) -> None:
        for _ in range(BURST):
            try:
                data, address, received_ns = wire.recv_stamped(self.sock, self.stamped)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. an ICMP error queued on the socket: nothing to answer
                continue
            self._answer(data, address, received_ns)

    def _answer(self, data: bytes, address: Any, received_ns: int) -> None:
        if data[:4] == LOSS_MAGIC:
            self.loss.handle(data, address)
            return
        packet = wire.decode(data, REQUEST_MAGIC)
        if packet is None:
            return
        now = time.monotonic()
        session = self.sessions.get(packet.token, now)
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
            server_tx_ns=time.time_ns(),
            server_count=session.udp_count,
        )
        try:
            self.sock.sendto(wire.encode(reply, REPLY_MAGIC, size=len(data)), address)
            self.answered += 1
        except OSError:  # the client went away or its network is down: nothing to do
            pass
