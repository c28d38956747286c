"""Round-trip times to a speed-test server, sampled at a fixed rate while the test runs.

speedtest-cli measures no jitter and no loss, so the public backend adds them by timing repeated
small probes to the chosen server while the test runs:

- ICMP echo over an unprivileged ICMP datagram socket ("ping socket"; Linux when
  net.ipv4.ping_group_range allows it, macOS always). It needs no root and no `ping` program.
  Many servers drop ICMP, so it is used only when a first few echoes come back.
- Otherwise TCP connect timing: the time from SYN to SYN-ACK (one round trip, RFC 793 handshake)
  to the port the test server listens on, which works wherever the speed test itself works. A
  refused connection (RST) is a round trip too.

A probe with no answer within `timeout_s` (default 1 s, the initial TCP retransmission timeout of
RFC 6298, so a lost SYN counts as lost and not as a 1 s round trip) is lost. Samples are tagged
with the phase that was running when they were sent (idle / download / upload), so delay under
load (bufferbloat) can be told from idle delay. Times are milliseconds from a monotonic clock.

Windows: its select() refuses three empty sets (WSAEINVAL, WinError 10022; Python docs of
select.select: "not on Windows"), and between TCP probes nothing is registered, so the loop sleeps
instead of selecting on nothing. Should the loop still fail, the sampler keeps what it has and
says why in `failure` (nothing is printed over the progress display); the figures built from too
few samples are then NOT MEASURED (probes/network/analysis/callquality.py, MIN_PROBES).
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from homecheck.model import Phase

ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY = 8, 0
ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129


class RttMethod(StrEnum):
    ICMP = "ICMP echo"
    TCP = "TCP connect timing"


@dataclass(frozen=True)
class RttSample:
    """One probe: when it left (s since the sampler started), its round trip or None if lost."""

    sent_s: float
    rtt_ms: float | None
    phase: Phase


def resolve(host: str, port: int) -> tuple[int, tuple[str, int]]:
    """(address family, (address, port)) of the first TCP address of `host`."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    return family, (str(address[0]), int(address[1]))


def icmp_socket(family: int) -> socket.socket | None:
    """An unprivileged ICMP datagram socket, or None where the OS does not allow one."""
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM, proto)
    except OSError:  # EACCES (ping_group_range), EPROTONOSUPPORT (Windows)
        return None
    sock.setblocking(False)
    return sock


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(int(v) for v in struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


class RttSampler:
    """Sends a probe every `interval_s` from a background thread until `stop()`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        interval_s: float = 0.05,
        timeout_s: float = 1.0,
        try_icmp: bool = True,
        address: tuple[int, tuple[str, int]] | None = None,
    ) -> None:
        # `address`: (family, (address, port)) already looked up, so the probes meet the machine
        # the transfers do.
        self.family, self.address = address or resolve(host, port)
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.phase = Phase.IDLE
        self._token = os.urandom(8)
        self._icmp = icmp_socket(self.family) if try_icmp else None
        if self._icmp is not None and not self._icmp_answers():
            self._icmp.close()
            self._icmp = None
        self.method = RttMethod.ICMP if self._icmp is not None else RttMethod.TCP
        self._samples: list[RttSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rtt-sampler", daemon=True)
        self._started = 0.0
        self.failure: str | None = None  # why the sampling loop ended early, if it did

    def start(self) -> RttSampler:
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def stop(self) -> tuple[RttSample, ...]:
        """Stop sending, wait for the probes in flight (at most `timeout_s`), return all samples."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.timeout_s + 1.0)
        if self._icmp is not None:
            self._icmp.close()
        return tuple(sorted(self._samples, key=lambda s: s.sent_s))

    # --- ICMP ------------------------------------------------------------------------------------
    def _icmp_answers(self, tries: int = 3) -> bool:
        """Whether the host answers echo at all (many servers drop ICMP): up to `tries` in 1 s."""
        assert self._icmp is not None
        selector = selectors.DefaultSelector()
        selector.register(self._icmp, selectors.EVENT_READ)
        per_try = max(self.timeout_s, 0.3) / tries
        try:
            for seq in range(tries):
                self._send_icmp(0xFF00 + seq)
                until = time.perf_counter() + per_try
                while time.perf_counter() < until:
                    ready = selector.select(max(0.0, until - time.perf_counter()))
                    if ready and self._read_icmp() is not None:
                        return True
        except OSError:  # unreachable network, blocked by a firewall
            return False
        finally:
            selector.close()
        return False

    def _send_icmp(self, seq: int) -> None:
        assert self._icmp is not None
        kind = ICMP_ECHO_REQUEST if self.family == socket.AF_INET else ICMP6_ECHO_REQUEST
        payload = self._token + struct.pack("!d", time.perf_counter())
        header = struct.pack("!BBHHH", kind, 0, 0, 0, seq)
        # The kernel rewrites the identifier (and the ICMPv6 checksum); macOS wants a valid one.
        checksum = _checksum(header + payload)
        packet = struct.pack("!BBHHH", kind, 0, checksum, 0, seq) + payload
        self._icmp.sendto(packet, (self.address[0], 0))

    def _read_icmp(self) -> int | None:
        """The sequence number of one of our echo replies, or None for anything else."""
        assert self._icmp is not None
        try:
            data = self._icmp.recv(2048)
        except OSError:
            return None
        if data and data[0] >> 4 == 4 and len(data) >= 20:  # macOS includes the IPv4 header
            data = data[(data[0] & 0x0F) * 4 :]
        reply = ICMP_ECHO_REPLY if self.family == socket.AF_INET else ICMP6_ECHO_REPLY
        if len(data) < 16 or data[0] != reply or data[8:16] != self._token:
            return None
        return int(struct.unpack("!H", data[6:8])[0])

    # --- the sampling loop -----------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            self._sample()
        except Exception as exc:  # a thread's exception would only be printed: keep it as a reason
            self.failure = f"the delay probes stopped: {type(exc).__name__}: {exc}"

    def _sample(self) -> None:
        selector = selectors.DefaultSelector()
        # seq -> (sent perf_counter, phase, TCP socket or None)
        pending: dict[int, tuple[float, Phase, socket.socket | None]] = {}
        if self._icmp is not None:
            selector.register(self._icmp, selectors.EVENT_READ, None)
        seq = 0
        next_send = time.perf_counter()
        try:
            while not (self._stop.is_set() and not pending):
                now = time.perf_counter()
                if not self._stop.is_set() and now >= next_send:
                    self._send(seq, now, pending, selector)
                    seq = (seq + 1) & 0xFFFF
                    next_send = max(next_send + self.interval_s, now)
                for key, (sent, _, _) in list(pending.items()):
                    if now - sent > self.timeout_s:
                        self._finish(key, None, pending, selector)
                wait = self.interval_s if self._stop.is_set() else next_send - now
                wait = max(0.0, min(wait, 0.05))
                if not selector.get_map():  # Windows' select() rejects empty sets (WSAEINVAL)
                    time.sleep(wait)
                    continue
                for ready, _ in selector.select(wait):
                    self._on_event(ready.data, pending, selector)
        finally:
            for key in list(pending):
                self._finish(key, None, pending, selector)
            selector.close()

    def _send(
        self,
        seq: int,
        now: float,
        pending: dict[int, tuple[float, Phase, socket.socket | None]],
        selector: selectors.BaseSelector,
    ) -> None:
        if self._icmp is not None:
            pending[seq] = (now, self.phase, None)
            with contextlib.suppress(OSError):  # link down: the probe is lost
                self._send_icmp(seq)
            return
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.setblocking(False)
        pending[seq] = (time.perf_counter(), self.phase, sock)
        code = sock.connect_ex(self.address)
        if code in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            selector.register(sock, selectors.EVENT_WRITE, seq)
        else:  # ENETUNREACH and friends: nothing can come back
            sock.close()
            pending[seq] = (pending[seq][0], pending[seq][1], None)

    def _on_event(
        self,
        seq: int | None,
        pending: dict[int, tuple[float, Phase, socket.socket | None]],
        selector: selectors.BaseSelector,
    ) -> None:
        now = time.perf_counter()
        if seq is None:  # the ICMP socket is readable
            got = self._read_icmp()
            if got is not None and got in pending:
                self._finish(got, (now - pending[got][0]) * 1000.0, pending, selector)
            return
        sock = pending[seq][2]
        assert sock is not None
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        answered = code in (0, errno.ECONNREFUSED)  # SYN-ACK or RST: a full round trip
        self._finish(seq, (now - pending[seq][0]) * 1000.0 if answered else None, pending, selector)

    def _finish(
        self,
        seq: int,
        rtt_ms: float | None,
        pending: dict[int, tuple[float, Phase, socket.socket | None]],
        selector: selectors.BaseSelector,
    ) -> None:
        sent, phase, sock = pending.pop(seq)
        if sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(sock)
            sock.close()
        self._samples.append(RttSample(round(sent - self._started, 4), rtt_ms, phase))
