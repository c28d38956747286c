"""Download and upload speed against a `homecheck serve`: parallel TCP streams, receiver-side bytes.

Several TCP connections per direction (default 4, like common speed tests: one stream rarely fills
a long fat pipe) run for a bounded time. Bytes are sampled every 100 ms where they arrive: by this
client for the download, by the server for the upload (it returns its own samples), so bytes still
queued in a send buffer never count. The first part of each phase, while TCP ramps up (slow start),
is discarded: see `steady_rate`. The result is the steady-state rate (Mbit/s, 10^6 bit/s of HTTP
payload, i.e. TCP goodput) and the 100 ms time series.

The HTTP requests are written by hand on plain sockets so bytes can be counted as they come off
the socket, at full speed, with a timeout on every wait; the control calls use http.client.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import itertools
import json
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from homecheck.server.protocol import DOWNLOAD_PATH, UPLOAD_PATH

SAMPLE_S = 0.1
STALL_S = 2.0  # a stream with no progress for this long has lost its connection
CONNECT_TIMEOUT_S = 3.0
READ_BYTES = 1 << 20
MIN_CHUNK, MAX_CHUNK = 16 << 10, 1 << 20
RESPONSE_WAIT_S = 4.0  # after an upload ends, for the server's count (a deep queue drains first)
SERVER_MARGIN_S = 3.0  # the server-side bound of a transfer: our phase plus this


@dataclass(frozen=True)
class Endpoint:
    """Where the streams connect: a resolved address (no DNS per stream) and the session."""

    address: tuple[str, int] | tuple[str, int, int, int]
    family: socket.AddressFamily
    host_header: str
    token: str


@dataclass(frozen=True)
class Steady:
    mbps: float
    start_s: float
    end_s: float


@dataclass
class Transfer:
    """One direction's outcome. Times are client `time.monotonic()` seconds."""

    direction: str
    started: float
    streams: int
    ended: float = 0.0
    samples: list[tuple[float, int]] = field(default_factory=list)  # (time, cumulative bytes)
    steady: Steady | None = None
    errors: list[str] = field(default_factory=list)
    stalled: bool = False

    def rate_series(self) -> list[tuple[float, float]]:
        """(time at the end of the interval, Mbit/s) per sample interval."""
        return [
            (t1, (b1 - b0) * 8 / (t1 - t0) / 1e6)
            for (t0, b0), (t1, b1) in itertools.pairwise(self.samples)
            if t1 > t0
        ]


def steady_rate(samples: Sequence[tuple[float, int]], smooth_s: float = 0.5) -> Steady | None:
    """The rate after ramp-up: from the first moment the rate (smoothed over `smooth_s`) reaches
    90 % of the level it holds in the second half of the phase, to the end. The start is kept
    within the first 60 % of the phase so a slow, steady climb still leaves a stretch to measure.
    """
    if len(samples) < 4:
        return None
    t_first, t_last = samples[0][0], samples[-1][0]
    span = t_last - t_first
    if span <= 0 or samples[-1][1] <= samples[0][1]:
        return None
    smoothed: list[tuple[float, float]] = []  # (time, bytes/s over the smoothing window)
    j = 0
    for t, b in samples:
        while samples[j][0] < t - smooth_s:
            j += 1
        t0, b0 = samples[j]
        if t - t0 >= smooth_s * 0.8:
            smoothed.append((t, (b - b0) / (t - t0)))
    late = sorted(r for t, r in smoothed if t >= t_first + span / 2)
    if not late:
        return None
    level = late[len(late) // 2]
    start = t_first + span * 0.6
    for t, rate in smoothed:
        if rate >= 0.9 * level:
            start = min(start, t - smooth_s)
            break
    start = max(start, t_first)
    b_start = _bytes_at(samples, start)
    if t_last - start <= 0:
        return None
    mbps = (samples[-1][1] - b_start) * 8 / (t_last - start) / 1e6
    return Steady(mbps=mbps, start_s=start, end_s=t_last)


def _bytes_at(samples: Sequence[tuple[float, int]], t: float) -> float:
    """Cumulative bytes at time t, linear between samples."""
    if t <= samples[0][0]:
        return samples[0][1]
    for (t0, b0), (t1, b1) in itertools.pairwise(samples):
        if t0 <= t <= t1:
            return b0 + (b1 - b0) * (t - t0) / (t1 - t0) if t1 > t0 else b1
    return samples[-1][1]


def merge_cumulative(
    streams: Sequence[Sequence[tuple[float, int]]], step_s: float = SAMPLE_S
) -> list[tuple[float, int]]:
    """Sum per-stream cumulative byte counts on a common time grid (for the upload samples)."""
    streams = [s for s in streams if s]
    if not streams:
        return []
    start = min(s[0][0] for s in streams)
    end = max(s[-1][0] for s in streams)
    grid = [start + i * step_s for i in range(int((end - start) / step_s) + 1)]
    if grid[-1] < end:
        grid.append(end)
    return [(t, int(sum(_bytes_at(s, t) if t >= s[0][0] else 0 for s in streams))) for t in grid]


def download(endpoint: Endpoint, streams: int, seconds: float, stop: threading.Event) -> Transfer:
    counts = [0] * streams
    transfer = Transfer("download", started=time.monotonic(), streams=streams)
    sockets: list[socket.socket] = []
    lock = threading.Lock()
    deadline = transfer.started + seconds

    def worker(index: int) -> None:
        buffer = bytearray(READ_BYTES)
        while not stop.is_set() and time.monotonic() < deadline:
            left = deadline - time.monotonic() + SERVER_MARGIN_S
            try:
                sock = _connect(endpoint, sockets, lock)
                query = f"token={endpoint.token}&seconds={left:.1f}"
                sock.sendall(_request("GET", f"{DOWNLOAD_PATH}?{query}", endpoint, chunked=False))
                _count_body(sock, buffer, stop, deadline, counts, index)
            except OSError as exc:
                if not stop.is_set() and time.monotonic() < deadline:
                    transfer.errors.append(_describe(exc))
                return

    _run_phase(
        transfer,
        [functools.partial(worker, i) for i in range(streams)],
        deadline,
        stop,
        lambda: sum(counts),
        sockets,
        lock,
    )
    transfer.steady = steady_rate(transfer.samples)
    return transfer


def upload(
    endpoint: Endpoint,
    streams: int,
    seconds: float,
    stop: threading.Event,
    server_to_client: Callable[[float], float],
) -> Transfer:
    """`server_to_client` maps the server's session clock to our monotonic clock."""
    pushed = [0] * streams  # bytes handed to the kernel: only to notice a stall
    received: list[list[tuple[float, int]]] = [[] for _ in range(streams)]
    transfer = Transfer("upload", started=time.monotonic(), streams=streams)
    sockets: list[socket.socket] = []
    lock = threading.Lock()
    deadline = transfer.started + seconds
    block = memoryview(os.urandom(MAX_CHUNK))  # incompressible, like the download

    def worker(index: int) -> None:
        try:
            sock = _connect(endpoint, sockets, lock)
            query = f"token={endpoint.token}&seconds={seconds + SERVER_MARGIN_S:.1f}"
            sock.sendall(_request("POST", f"{UPLOAD_PATH}?{query}", endpoint, chunked=True))
            _send_chunks(sock, block, stop, deadline, pushed, index)
            reply = _read_json_reply(sock, stop)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if not stop.is_set():
                transfer.errors.append(_describe(exc))
            return
        samples = reply.get("samples")
        if isinstance(samples, list):
            received[index] = [(server_to_client(float(t)), int(b)) for t, b in samples]

    _run_phase(
        transfer,
        [functools.partial(worker, i) for i in range(streams)],
        deadline,
        stop,
        lambda: sum(pushed),
        sockets,
        lock,
        wait_after_s=RESPONSE_WAIT_S + 1,
    )
    merged = merge_cumulative(received)
    # Bytes the server got after our phase ended are the queue draining: not part of the phase.
    transfer.samples = [(t, b) for t, b in merged if t <= deadline + SAMPLE_S]
    transfer.steady = steady_rate(transfer.samples)
    return transfer


def _run_phase(
    transfer: Transfer,
    workers: list[Callable[[], None]],
    deadline: float,
    stop: threading.Event,
    total: Callable[[], int],
    sockets: list[socket.socket],
    lock: threading.Lock,
    wait_after_s: float = 0.5,
) -> None:
    threads = [
        threading.Thread(target=w, daemon=True, name=f"hc-{transfer.direction}") for w in workers
    ]
    for thread in threads:
        thread.start()
    next_sample = transfer.started
    last_progress, last_total = transfer.started, -1
    while not stop.is_set():
        now = time.monotonic()
        if now >= next_sample:
            value = total()
            if transfer.direction == "download":
                transfer.samples.append((now, value))
            if value != last_total:
                last_progress, last_total = now, value
            next_sample += SAMPLE_S
        if now >= deadline or not any(t.is_alive() for t in threads):
            break
        if now - last_progress > STALL_S:
            transfer.stalled = True
            break
        time.sleep(max(0.0, min(next_sample, deadline) - time.monotonic()))
    transfer.ended = time.monotonic()
    if transfer.direction == "download" or transfer.stalled or stop.is_set():
        _close_all(sockets, lock)
    for thread in threads:
        thread.join(max(0.0, transfer.ended + wait_after_s - time.monotonic()))
    _close_all(sockets, lock)


def _connect(
    endpoint: Endpoint, sockets: list[socket.socket], lock: threading.Lock
) -> socket.socket:
    sock = socket.socket(endpoint.family, socket.SOCK_STREAM)
    with lock:
        sockets.append(sock)
    sock.settimeout(CONNECT_TIMEOUT_S)
    sock.connect(endpoint.address)
    sock.settimeout(STALL_S)
    return sock


def _close_all(sockets: list[socket.socket], lock: threading.Lock) -> None:
    with lock:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        sockets.clear()


def _request(method: str, target: str, endpoint: Endpoint, chunked: bool) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {endpoint.host_header}", "Connection: close"]
    if chunked:
        lines += ["Content-Type: application/octet-stream", "Transfer-Encoding: chunked"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def _count_body(
    sock: socket.socket,
    buffer: bytearray,
    stop: threading.Event,
    deadline: float,
    counts: list[int],
    index: int,
) -> None:
    """Read the response headers, then add body bytes to counts[index] as they arrive, until the
    phase ends or the server ends the response. (Chunk framing, 10 bytes per MiB, is counted.)"""
    head = b""
    while b"\r\n\r\n" not in head:
        n = sock.recv_into(buffer)
        if n == 0:
            raise ConnectionResetError("the server closed the connection")
        head += bytes(buffer[:n])
        if len(head) > 65536:
            raise ConnectionError("not a homecheck server (no HTTP response)")
    status_line, _, rest = head.partition(b"\r\n")
    if b" 200 " not in status_line + b" ":
        raise ConnectionError(
            f"the server refused the download ({status_line.decode(errors='replace')})"
        )
    counts[index] += len(rest.partition(b"\r\n\r\n")[2])
    while not stop.is_set() and time.monotonic() < deadline:
        n = sock.recv_into(buffer)
        if n == 0:
            break
        counts[index] += n


def _send_chunks(
    sock: socket.socket,
    block: memoryview,
    stop: threading.Event,
    deadline: float,
    pushed: list[int],
    index: int,
) -> None:
    """Chunked body until the deadline. The chunk size adapts so one chunk takes ~50 ms: the
    body ends on time on a slow link and costs little CPU on a fast one."""
    size = MIN_CHUNK
    while not stop.is_set() and time.monotonic() < deadline:
        began = time.monotonic()
        _send_all(sock, b"%x\r\n" % size)
        _send_all(sock, block[:size])
        _send_all(sock, b"\r\n")
        pushed[index] += size
        took = time.monotonic() - began
        if took < 0.01:
            size = min(MAX_CHUNK, size * 2)
        elif took > 0.1:
            size = max(MIN_CHUNK, size // 2)
    _send_all(sock, b"0\r\n\r\n")


def _send_all(sock: socket.socket, data: bytes | memoryview) -> None:
    """sendall, but the timeout (STALL_S) is per send: it bounds a stall, not a slow link."""
    view = memoryview(data)
    while view:
        sent = sock.send(view)
        view = view[sent:]


def _read_json_reply(sock: socket.socket, stop: threading.Event) -> dict[str, object]:
    give_up = time.monotonic() + RESPONSE_WAIT_S
    while not stop.is_set():
        ready, _, _ = select.select([sock], [], [], 0.1)
        if ready:
            break
        if time.monotonic() > give_up:
            raise TimeoutError("no count came back from the server")
    if stop.is_set():
        raise InterruptedError("stopped")
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    if response.status != 200:
        raise ConnectionError(f"the server refused the upload (HTTP {response.status})")
    parsed = json.loads(body)
    if not isinstance(parsed, dict):
        raise ValueError("unexpected upload reply")
    return parsed


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
