"""Parallel HTTP(S) transfer streams to a public speed-test server, counted where the bytes arrive.

The public services each have their own URLs (speedtest.net's servers: `random{N}x{N}.jpg` and
`upload.php`; Cloudflare: `__down?bytes=N` and `__up`), but the measurement is the same as
against an employer's `homecheck serve` (probes/network/employer/throughput.py): several TCP
connections per direction for a bounded time, the bytes sampled every 100 ms, the ramp-up (slow
start) discarded by probes/network/analysis/steady_rate.py, the rate in Mbit/s of HTTP payload.

Where the bytes are counted:
- download: by the receiving kernel, `tcpi_bytes_received` of TCP_INFO on this computer's
  sockets (homecheck.wire.bytes_received, Linux); elsewhere by what this process read.
- upload: by what the server acknowledged, never by what was pushed into the send buffer (on a
  slow uplink a 4 MB send buffer holds seconds of data). Linux: the kernel's `tcpi_bytes_acked`
  (RFC 4898 HCThruOctetsAcked, TCP_INFO). macOS: the bytes given to the socket minus
  `tcpi_snd_sbbytes` of TCP_CONNECTION_INFO (what the send buffer still holds, sent or not:
  xnu bsd/netinet/tcp.h). Elsewhere (Windows): the body of each request counted when the
  server's reply to it arrives, so a request is counted only once the server has it all.
  `Transfer.counted_by` says which.

A caller gives a `Server` (scheme, host, port, a TLS context per connection) and a function
making the request for stream i's n-th request (`RequestFor`); `on_sample(t, bytes)` hears every
100 ms sample. HTTP is written by hand on plain or TLS sockets, so bytes count as they come off the
socket and every wait is short (a lossy link stalls one stream for a while; only when nothing moves
on any stream for `STALL_S` is the connection lost). At the end of a phase the sockets are reset
(SO_LINGER 0), so nothing keeps loading the line.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from homecheck import wire
from probes.network.analysis import speeds
from probes.network.analysis.steady_rate import SAMPLE_S, Steady, steady_rate

STALL_S = 2.0  # no byte moved on any stream for this long: the connection is lost
CONNECT_TIMEOUT_S = 3.0
WAIT_SLICE_S = 0.25  # every blocking socket call returns at least this often
READ_BYTES = 1 << 18
SEND_BYTES = 1 << 16  # one send() call: a TLS socket writes it whole or times out
MAX_HEADER_BYTES = 65536
_BLOCK = os.urandom(1 << 20)  # incompressible upload data, like a JPEG


class CountedBy(StrEnum):
    """Where a transfer's bytes were counted (told in the report's method text)."""

    KERNEL_RECEIVED = "by the receiving kernel (TCP_INFO)"
    READ = "as read by homecheck"
    KERNEL_ACKED = "as acknowledged by the server, from the kernel's acked bytes (TCP_INFO)"
    SEND_BUFFER_LEFT = (
        "as acknowledged by the server: bytes sent minus what the send buffer still held "
        "(TCP_CONNECTION_INFO)"
    )
    SERVER_REPLIES = (
        "when the server's reply confirmed each request (this system has no acked count)"
    )


@dataclass(frozen=True)
class Server:
    """Where the streams go. `tls` makes a TLS context per connection (truststore holds one lock
    around each handshake of a context: streams sharing one would connect one after another).
    `address` (family, (address, port)), when given, is where every stream connects, the name
    being used for the Host header and TLS only: a backend looks its server up once, so the
    streams and the delay probes meet the same machine (a service's name can have several
    addresses) and a lost DNS answer costs one lookup's retry, not one per phase."""

    scheme: str
    host: str
    port: int
    tls: Callable[[], ssl.SSLContext] | None = None
    address: tuple[int, tuple[str, int]] | None = None

    @classmethod
    def from_url(cls, url: str, tls: Callable[[], ssl.SSLContext] | None = None) -> Server:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {parts.scheme}://")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, tls)

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


@dataclass(frozen=True)
class Request:
    """One HTTP request of a stream. For an upload, `body_bytes` of random data follow it."""

    method: str
    target: str  # path and query
    headers: tuple[tuple[str, str], ...] = ()
    body_bytes: int = 0


RequestFor = Callable[[int, int], Request]  # (stream index, request number on it) -> request
OnSample = Callable[[float, int], None]  # (time.monotonic(), bytes so far)


@dataclass
class Transfer:
    """One direction's outcome. Times are `time.monotonic()` seconds."""

    direction: str
    started: float
    streams: int
    ended: float = 0.0
    samples: list[tuple[float, int]] = field(default_factory=list)  # (time, cumulative bytes)
    steady: Steady | None = None
    counted_by: CountedBy = CountedBy.READ
    errors: list[str] = field(default_factory=list)
    stalled: bool = False
    accepted: int = 0  # requests the server answered with 200
    read_bytes: int = 0  # download: body bytes read; upload: bodies the server's replies confirmed
    pushed_bytes: int = 0  # upload: bytes handed to the sockets (never the figure)
    refusals: list[str] = field(default_factory=list)  # status lines of those it did not

    @property
    def refused(self) -> str | None:
        """The server's answer when it refused every request of the phase, else None."""
        if self.accepted or not self.refusals:
            return None
        return self.refusals[0]

    def rate_series(self) -> list[tuple[float, float]]:
        """(time at the end of the interval, Mbit/s) per sample interval."""
        return speeds.rates(self.samples)


class Refused(ConnectionError):
    """The server answered a request with another status than 200 (its status line)."""


# --- kernel counters ---------------------------------------------------------------------------
# struct tcp_info (linux/tcp.h): tcpi_bytes_acked at offset 120 (bytes_received, at 128, is read
# by homecheck.wire). struct tcp_connection_info (xnu bsd/netinet/tcp.h, 112 bytes): after four
# u_int8_t and seven u_int32_t (options, flags, rto, maxseg, snd_ssthresh, snd_cwnd, snd_wnd),
# tcpi_snd_sbbytes, a u_int32_t at offset 32; TCP_CONNECTION_INFO is option 0x106. On macOS the
# bytes given to a TLS socket are its plaintext: the acked count misses the TLS records' framing
# (about 0.2 %), never counts what is still buffered.
_LINUX_ACKED_OFFSET, _LINUX_INFO_LEN = 120, 136
_MAC_TCP_CONNECTION_INFO, _MAC_SBBYTES_OFFSET, _MAC_INFO_LEN = 0x106, 32, 112
_U64, _U32 = struct.Struct("=Q"), struct.Struct("=I")


def _linux_acked(sock: socket.socket) -> int | None:
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _LINUX_INFO_LEN)
    except (OSError, ValueError, AttributeError):
        return None
    if len(info) < _LINUX_INFO_LEN:
        return None
    return int(_U64.unpack_from(info, _LINUX_ACKED_OFFSET)[0])


def _mac_send_buffer(sock: socket.socket) -> int | None:
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _MAC_TCP_CONNECTION_INFO, _MAC_INFO_LEN)
    except (OSError, ValueError):
        return None
    if len(info) < _MAC_SBBYTES_OFFSET + _U32.size:
        return None
    return int(_U32.unpack_from(info, _MAC_SBBYTES_OFFSET)[0])


def upload_counting() -> CountedBy:
    """How this system counts what the server acknowledged."""
    if sys.platform == "linux":
        return CountedBy.KERNEL_ACKED
    if sys.platform == "darwin":
        return CountedBy.SEND_BUFFER_LEFT
    return CountedBy.SERVER_REPLIES


class _Stream:
    """One stream's count: the finished sockets' totals plus the current socket's."""

    def __init__(self) -> None:
        self.done = 0
        self.current = 0
        self.sock: socket.socket | None = None
        self.pushed = 0  # bytes given to the current socket (macOS acked count, stall check)
        self.read = 0  # bytes read (download fallback), replies confirmed (upload fallback)


class _Counts:
    """Per stream, a byte count read from the socket by `kernel` (None: unavailable), else the
    streams' own `read` counts."""

    def __init__(self, streams: int, kernel: Callable[[_Stream], int | None]) -> None:
        self.streams = [_Stream() for _ in range(streams)]
        self.kernel = kernel
        self.lock = threading.Lock()
        self.works = True

    def attach(self, index: int, sock: socket.socket) -> None:
        with self.lock:
            stream = self.streams[index]
            stream.sock, stream.current, stream.pushed = sock, 0, 0
            if self.kernel(stream) is None:
                self.works = False

    def detach(self, index: int) -> None:
        with self.lock:
            stream = self.streams[index]
            self._read(stream)
            stream.done += stream.current
            stream.sock, stream.current, stream.pushed = None, 0, 0

    def _read(self, stream: _Stream) -> None:
        value = self.kernel(stream) if stream.sock is not None else None
        if value is not None:
            stream.current = max(stream.current, value)

    def total(self) -> int:
        with self.lock:
            if not self.works:
                return sum(s.read for s in self.streams)
            for stream in self.streams:
                self._read(stream)
            return sum(s.done + s.current for s in self.streams)


def _received(stream: _Stream) -> int | None:
    return wire.bytes_received(stream.sock)


def _acked(stream: _Stream) -> int | None:
    if stream.sock is None:
        return None
    if sys.platform == "linux":
        return _linux_acked(stream.sock)
    if sys.platform == "darwin":
        left = _mac_send_buffer(stream.sock)
        return None if left is None else max(0, stream.pushed - left)
    return None


# --- sockets -----------------------------------------------------------------------------------
class _Pool:
    """The sockets of one phase, so the phase can reset them all at its end."""

    def __init__(self, server: Server, address: tuple[int, tuple[str, int]]) -> None:
        self.server = server
        self.family, self.address = address
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False

    def connect(self) -> socket.socket:
        raw = socket.socket(self.family, socket.SOCK_STREAM)
        self._keep(raw)
        raw.settimeout(CONNECT_TIMEOUT_S)
        raw.connect(self.address)
        sock = raw
        if self.server.scheme == "https":
            context = self.server.tls() if self.server.tls else ssl.create_default_context()
            sock = context.wrap_socket(raw, server_hostname=self.server.host)
            self._keep(sock)
        sock.settimeout(WAIT_SLICE_S)
        return sock

    def _keep(self, sock: socket.socket) -> None:
        with self.lock:
            if self.closed:
                sock.close()
                raise ConnectionAbortedError("the phase is over")
            self.sockets.append(sock)

    def reset_all(self) -> None:
        with self.lock:
            self.closed = True
            for sock in self.sockets:
                with contextlib.suppress(OSError, ValueError):
                    # Linger 0: the close resets the connection, dropping what is still in the
                    # send buffer; shutting the reading side first wakes a thread in recv. The
                    # plain socket's shutdown (not SSLSocket's, which drops its TLS object under
                    # a reading thread); the stream's thread closes its socket itself.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    socket.socket.shutdown(sock, socket.SHUT_RD)

    def close_all(self) -> None:
        with self.lock:
            for sock in self.sockets:
                sock.close()
            self.sockets.clear()


def _resolve(server: Server) -> tuple[int, tuple[str, int]]:
    family, _, _, _, address = socket.getaddrinfo(
        server.host, server.port, type=socket.SOCK_STREAM
    )[0]
    return family, (str(address[0]), int(address[1]))


# --- HTTP --------------------------------------------------------------------------------------
def _head(request: Request, server: Server) -> bytes:
    lines = [f"{request.method} {request.target} HTTP/1.1", f"Host: {server.host_header}"]
    lines += [f"{k}: {v}" for k, v in request.headers]
    if request.method != "GET":
        lines.append(f"Content-Length: {request.body_bytes}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


@dataclass
class _Response:
    length: int | None  # Content-Length, None: until the server closes
    keep_alive: bool
    body_start: int  # body bytes that came with the headers


class _Phase:
    def __init__(self, deadline: float, stop: threading.Event) -> None:
        self.deadline = deadline
        self.stop = stop

    def over(self) -> bool:
        return self.stop.is_set() or time.monotonic() >= self.deadline


def _recv(sock: socket.socket, buffer: bytearray, phase: _Phase) -> int:
    """recv_into, waiting in slices; 0 at the end of the stream or of the phase."""
    while not phase.over():
        try:
            return sock.recv_into(buffer)
        except TimeoutError:
            continue
    return 0


def _read_head(sock: socket.socket, buffer: bytearray, phase: _Phase) -> _Response:
    """The response headers; Refused unless 200."""
    received = b""
    while (end := received.find(b"\r\n\r\n")) < 0:
        if len(received) > MAX_HEADER_BYTES:
            raise ConnectionError("not an HTTP response")
        n = _recv(sock, buffer, phase)
        if n == 0:
            raise ConnectionResetError("the server closed the connection")
        received += bytes(buffer[:n])
    lines = received[:end].decode("latin-1").split("\r\n")
    status = lines[0].split()
    if len(status) < 2 or status[1] != "200":
        # Shown to the candidate: printable text only, and short (a stranger's server wrote it).
        shown = "".join(c for c in lines[0] if c.isprintable())
        raise Refused(shown.strip()[:80])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip().lower()
    length: int | None = None
    if headers.get("content-length", "").isdigit() and "transfer-encoding" not in headers:
        length = int(headers["content-length"])
    keep = length is not None and headers.get("connection") != "close" and status[0] == "HTTP/1.1"
    return _Response(length, keep, len(received) - end - 4)


# --- the phases --------------------------------------------------------------------------------
def download(
    server: Server,
    request_for: RequestFor,
    streams: int,
    seconds: float,
    stop: threading.Event,
    on_sample: OnSample | None = None,
) -> Transfer:
    """GET on `streams` connections for `seconds`; each stream asks again when a response ends."""
    transfer = Transfer("download", started=time.monotonic(), streams=streams)
    phase = _Phase(transfer.started + seconds, stop)
    counts = _Counts(streams, _received)

    def worker(pool: _Pool, index: int) -> None:
        buffer = bytearray(READ_BYTES)
        stream = counts.streams[index]
        number = 0
        while not phase.over():
            sock: socket.socket | None = None
            try:
                sock = pool.connect()
                counts.attach(index, sock)
                keep = True
                while keep and not phase.over():
                    sock.sendall(_head(request_for(index, number), server))
                    number += 1
                    response = _read_head(sock, buffer, phase)
                    transfer.accepted += 1
                    stream.read += response.body_start
                    left = (
                        None if response.length is None else response.length - response.body_start
                    )
                    while left is None or left > 0:
                        n = _recv(sock, buffer, phase)
                        if n == 0:
                            break
                        stream.read += n
                        if left is not None:
                            left -= n
                    keep = response.keep_alive and left == 0
            except Refused as exc:
                transfer.refusals.append(str(exc))
                stop.wait(WAIT_SLICE_S)
            except (OSError, ValueError) as exc:
                if not (phase.over() or pool.closed):
                    transfer.errors.append(_describe(exc))
                    stop.wait(WAIT_SLICE_S)
            finally:
                if sock is not None:
                    counts.detach(index)
                    sock.close()

    _run(transfer, phase, worker, counts.total, counts.total, on_sample, server)
    transfer.counted_by = CountedBy.KERNEL_RECEIVED if counts.works else CountedBy.READ
    transfer.read_bytes = sum(s.read for s in counts.streams)
    return transfer


def upload(
    server: Server,
    request_for: RequestFor,
    streams: int,
    seconds: float,
    stop: threading.Event,
    on_sample: OnSample | None = None,
) -> Transfer:
    """POST random bodies on `streams` connections for `seconds`; counted as the server
    acknowledges them (see `upload_counting`), a stream sends its next request when the server
    has answered one."""
    transfer = Transfer("upload", started=time.monotonic(), streams=streams)
    phase = _Phase(transfer.started + seconds, stop)
    counting = upload_counting()
    counts = _Counts(
        streams, _acked if counting is not CountedBy.SERVER_REPLIES else lambda s: None
    )
    pushed = [0] * streams  # only to notice a stall: never the figure

    def worker(pool: _Pool, index: int) -> None:
        buffer = bytearray(4096)
        stream = counts.streams[index]
        number = 0
        while not phase.over():
            sock: socket.socket | None = None
            try:
                sock = pool.connect()
                counts.attach(index, sock)
                keep = True
                while keep and not phase.over():
                    request = request_for(index, number)
                    number += 1
                    head = _head(request, server)
                    if not _send(sock, memoryview(head), phase, stream, pushed, index):
                        return
                    left = request.body_bytes
                    while left > 0:
                        piece = memoryview(_BLOCK)[: min(SEND_BYTES, left)]
                        if not _send(sock, piece, phase, stream, pushed, index):
                            return
                        left -= len(piece)
                    response = _read_head(sock, buffer, phase)
                    transfer.accepted += 1
                    stream.read += request.body_bytes  # the server has confirmed it all
                    rest = 0 if response.length is None else response.length - response.body_start
                    while rest > 0 and (n := _recv(sock, buffer, phase)) > 0:
                        rest -= n
                    keep = response.keep_alive and rest == 0
            except Refused as exc:
                transfer.refusals.append(str(exc))
                stop.wait(WAIT_SLICE_S)
            except (OSError, ValueError) as exc:
                if not (phase.over() or pool.closed):
                    transfer.errors.append(_describe(exc))
                    stop.wait(WAIT_SLICE_S)
            finally:
                if sock is not None:
                    counts.detach(index)
                    sock.close()

    progress = (lambda: sum(pushed)) if counting is CountedBy.SERVER_REPLIES else counts.total
    _run(transfer, phase, worker, counts.total, progress, on_sample, server)
    transfer.counted_by = counting if counts.works else CountedBy.SERVER_REPLIES
    transfer.read_bytes = sum(s.read for s in counts.streams)
    transfer.pushed_bytes = sum(pushed)
    return transfer


def _send(
    sock: socket.socket,
    data: memoryview,
    phase: _Phase,
    stream: _Stream,
    pushed: list[int],
    index: int,
) -> bool:
    """Send all of `data` in slices; False when the phase ended first. A TLS socket that timed
    out mid-record is given the same data again, as OpenSSL requires."""
    view = data
    while view:
        if phase.over():
            return False
        try:
            sent = sock.send(view)
        except TimeoutError:
            continue
        stream.pushed += sent
        pushed[index] += sent
        view = view[sent:]
    return True


def _run(
    transfer: Transfer,
    phase: _Phase,
    worker: Callable[[_Pool, int], None],
    total: Callable[[], int],
    progress: Callable[[], int],
    on_sample: OnSample | None,
    server: Server,
) -> None:
    """Run the streams until the deadline, sampling `total()` every 100 ms, and end on a stall:
    `progress()` unchanged for STALL_S (or half a shorter phase), or every request refused."""
    try:
        address = server.address or _resolve(server)
    except OSError as exc:
        transfer.errors.append(_describe(exc))
        transfer.stalled = True
        transfer.ended = time.monotonic()
        return
    pool = _Pool(server, address)
    threads = [
        threading.Thread(
            target=functools.partial(worker, pool, i), daemon=True, name=f"hc-{transfer.direction}"
        )
        for i in range(transfer.streams)
    ]
    for thread in threads:
        thread.start()
    next_sample = transfer.started
    last_progress, last_moved = transfer.started, -1
    # A phase shorter than twice STALL_S (tests) still notices a stall within half of it.
    stall_s = min(STALL_S, max(0.5, (phase.deadline - transfer.started) / 2))
    while not phase.stop.is_set():
        now = time.monotonic()
        if now >= next_sample:
            value = total()
            transfer.samples.append((now, value))
            if on_sample is not None:
                on_sample(now, value)
            moved = progress()
            if moved != last_moved:
                last_progress, last_moved = now, moved
            next_sample += SAMPLE_S
        if now >= phase.deadline:
            break
        if transfer.refused is not None:
            if now - transfer.started > STALL_S:
                break  # the server says no to every request: not a lost connection
        elif now - last_progress > stall_s:
            transfer.stalled = True
            break
        time.sleep(max(0.0, min(next_sample, phase.deadline) - time.monotonic()))
    transfer.ended = time.monotonic()
    pool.reset_all()
    for thread in threads:
        thread.join(max(0.0, transfer.ended + 0.5 - time.monotonic()))
    pool.close_all()
    # A refused phase's bytes are the server's error pages, not the line's speed; a stalled
    # phase has no steady rate.
    if transfer.refused is None and not transfer.stalled:
        transfer.steady = steady_rate(transfer.samples)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc or 'no detail'}"
