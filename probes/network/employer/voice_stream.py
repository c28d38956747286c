"""The call-like UDP stream: 50 packets/s of G.711 size to the server's echo, and back.

One thread sends a 172-byte packet every 20 ms (like an RTP voice stream) stamped with its send
time; the server answers each with its own receive and send times and how many packets it has
received so far (homecheck/wire.py). Another thread stores the answers, stamped with the
kernel's receive time where the platform offers it (SO_TIMESTAMPNS), so a busy Python process does
not add jitter of its own; elsewhere (Windows, macOS) send and receive are both stamped with the
process's fine clock (`wire.fine_ns`), never with time.time_ns(), which ticks every 15.6 ms on
Windows before Python 3.13. Each packet is tagged with the phase it was sent in (idle, download,
upload) so the analysis can tell quiet and loaded stretches apart.

When UDP is blocked, `TcpTimer` measures round trips as TCP connection set-up times instead (the
SYN / SYN-ACK exchange is answered by the server's kernel: one round trip, with no server process
in the way); it cannot tell the two directions apart and sees no loss.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from homecheck import wire
from homecheck.model import Phase
from homecheck.wire import FLAG_QUERY, REPLY_MAGIC, EchoPacket
from probes.network.analysis.stream import Echo, Sent

INTERVAL_S = 0.020  # 50 packets/s, one 20 ms G.711 frame each
QUERY_TRIES = 5


class CallStream:
    """Start, tag phases with `phase`, then `finish()`; read `sent`, `echoes`, `final_count`."""

    def __init__(
        self,
        address: tuple[str, int] | tuple[str, int, int, int],
        family: socket.AddressFamily,
        token: bytes,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.token = token
        self.interval_s = interval_s
        self.phase = Phase.IDLE
        self.sent: list[Sent] = []
        self.echoes: dict[int, Echo] = {}
        self.final_count: int | None = None
        self.queries_sent = 0
        self.last_echo_at = 0.0
        self._stop_sending = threading.Event()
        self._stop_receiving = threading.Event()
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        # Connected UDP: only the server's answers are delivered to us.
        self._sock.connect(address)
        self._sock.settimeout(0.1)
        self._stamped = wire.enable_rx_timestamps(self._sock)
        self._sender = threading.Thread(target=self._send_loop, daemon=True, name="hc-udp-send")
        self._receiver = threading.Thread(
            target=self._receive_loop, daemon=True, name="hc-udp-recv"
        )

    @property
    def kernel_timestamps(self) -> bool:
        return self._stamped

    def start(self) -> None:
        self._receiver.start()
        self._sender.start()

    def finish(self, drain_s: float, stop: threading.Event) -> None:
        """Stop sending, wait `drain_s` for late answers, then ask the server how many packets
        it got (so losses after the last answer can be told apart too)."""
        self._stop_sending.set()
        self._sender.join(1.0)
        end = time.monotonic() + drain_s
        while time.monotonic() < end and not stop.is_set():
            time.sleep(0.02)
        for attempt in range(QUERY_TRIES):
            if self.final_count is not None or stop.is_set():
                break
            self._send(EchoPacket(self.token, 0xFFFFFFFF - attempt, FLAG_QUERY))
            self.queries_sent += 1
            wait_until = time.monotonic() + 0.1
            while self.final_count is None and time.monotonic() < wait_until:
                time.sleep(0.005)
        self._stop_receiving.set()
        self._receiver.join(1.0)
        self._sock.close()

    def recent_rtt_s(self, last: int = 50) -> float:
        """The longest round trip among the last answers (s), 0 without answers."""
        recent = sorted(self.echoes)[-last:]
        sent = {s.seq: s.sent_ns for s in self.sent[-(last * 4) :]}
        rtts = [self.echoes[seq].received_ns - sent[seq] for seq in recent if seq in sent]
        return max(rtts, default=0) / 1e9

    def close(self) -> None:
        self._stop_sending.set()
        self._stop_receiving.set()
        self._sock.close()

    def _send(self, packet: EchoPacket) -> None:
        # No route, network down, an ICMP refusal: the packet is simply lost.
        with contextlib.suppress(OSError):
            self._sock.send(wire.encode(packet))

    def _send_loop(self) -> None:
        for seq, at in enumerate(paced(self.interval_s, self._stop_sending, self.interval_s)):
            sent_ns = wire.now_ns(self._stamped)  # the clock of the receive stamps
            self._send(EchoPacket(self.token, seq, 0, sent_ns))
            self.sent.append(Sent(seq, sent_ns, at, self.phase))

    def _receive_loop(self) -> None:
        for data, received_ns in datagrams(self._sock, self._stop_receiving, self._stamped):
            packet = wire.decode(data, REPLY_MAGIC)
            if packet is None or packet.token != self.token:
                continue
            if packet.flags & FLAG_QUERY:
                self.final_count = packet.server_count
                continue
            now = time.monotonic()
            self.last_echo_at = now
            self.echoes.setdefault(
                packet.seq,
                Echo(
                    packet.seq,
                    packet.server_rx_ns,
                    packet.server_tx_ns,
                    packet.server_count,
                    received_ns,
                    now,
                ),
            )


def paced(interval_s: float, stop: threading.Event, max_lag_s: float) -> Iterator[float]:
    """time.monotonic() once every `interval_s` until `stop`. After falling behind by more than
    `max_lag_s` (a busy machine, a suspend) it starts afresh rather than sending a burst."""
    next_at = time.monotonic()
    while not stop.is_set():
        delay = next_at - time.monotonic()
        if delay > 0:
            stop.wait(delay)
            continue
        at = time.monotonic()
        yield at
        next_at += interval_s
        if at - next_at > max_lag_s:
            next_at = at + interval_s


def datagrams(
    sock: socket.socket, stop: threading.Event, stamped: bool
) -> Iterator[tuple[bytes, int]]:
    """(data, receive time in ns) of each datagram on a socket with a timeout, until `stop`."""
    while not stop.is_set():
        try:
            data, _, received_ns = wire.recv_stamped(sock, stamped)
        except TimeoutError:
            continue
        except OSError:  # e.g. ICMP port unreachable reported on the connected socket
            time.sleep(0.01)
            continue
        yield data, received_ns


@dataclass(frozen=True)
class TcpSample:
    at: float
    phase: Phase
    rtt_ms: float | None  # None: no answer within the timeout


class TcpTimer:
    """Round trips as TCP connect times, `rate_hz` per second, tagged with the phase."""

    def __init__(
        self,
        address: tuple[str, int] | tuple[str, int, int, int],
        family: socket.AddressFamily,
        rate_hz: float = 10.0,
        timeout_s: float = 1.0,
    ) -> None:
        self.address, self.family = address, family
        self.interval_s = 1 / rate_hz
        self.timeout_s = timeout_s
        self.phase = Phase.IDLE
        self.samples: list[TcpSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="hc-tcp-timer")

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        self._stop.set()
        self._thread.join(self.timeout_s + 0.5)

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._stop.wait(max(0.0, next_at - time.monotonic()))
            if self._stop.is_set():
                return
            next_at += self.interval_s
            phase, at = self.phase, time.monotonic()
            self.samples.append(TcpSample(at, phase, self._one()))

    def _one(self) -> float | None:
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.settimeout(self.timeout_s)
        try:
            began = time.perf_counter()
            sock.connect(self.address)
            return (time.perf_counter() - began) * 1000
        except OSError:
            return None
        finally:
            sock.close()
