"""Download and upload speed against a `homecheck serve`: parallel TCP streams, receiver-side bytes.

Several TCP connections per direction (default 8) run for a bounded time. One stream rarely fills
a long fat pipe, and on a line with random loss (a poor Wi-Fi or DSL line) each stream's rate is
bounded by the loss (Mathis et al. 1997: ~MSS/RTT x 1.22/sqrt(p)) however fast the line is. With
4 streams a 10 Mbit/s line with 40 ms +- 8 ms and 2 % loss is just filled: the sum of four sawing
windows wanders, iperf3's own 3.4 s means of it spread by 1.4 % (sd) and five homecheck runs read
0.96-1.00 of iperf3. With 8, each stream needs only half the window, the line stays full, and the
same 3.4 s means spread by 0.3 %: the figure is the line's capacity, not the luck of the sample
(bench/network_accuracy.py --precision). The server allows 16 streams per test, twice this
(homecheck/server/sessions.py `max_transfers_per_session`).

Bytes are sampled every 100 ms where they arrive: by this client for the download, by the server
for the upload (it keeps a record per stream that we read afterwards), so bytes still sitting in
a send buffer never count. The ramp-up (slow start) is discarded
(probes/network/analysis/steady_rate.py). The result is the steady-state rate in Mbit/s (10^6 bit/s
of HTTP payload, i.e. TCP goodput) and the 100 ms time series.

The stream requests are written by hand on plain sockets so bytes can be counted as they come off
the socket, at full speed, with a short timeout on every wait (a lossy link stalls one stream for
a while; only when all of them stall for `STALL_S` is the connection considered lost). At the end
of a phase the sockets are reset, not closed politely, so nothing keeps loading the line.

Against an https server the streams run over TLS, and the kernel's count (both ends) is of TLS
records: the TCP payload, as iperf3 counts TCP payload and as the plain-http count includes the
HTTP chunk framing. That is about 0.13 % above the decrypted bytes (22 bytes of framing per
16 KiB record), left in on purpose: the figure stays the line's TCP capacity, the same quantity
with or without TLS, and keeps the kernel's timing (decrypted bytes arrive when the reading thread
gets to them, in bursts).

The server's own answers are kept apart from the line's speed: a request it refuses (its limits,
an expired session) or a server that is shutting down makes the phase end with that reason,
never read as a slow connection.
"""

from __future__ import annotations

import functools
import http.client
import itertools
import json
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from homecheck.wire import DOWNLOAD_PATH, SESSION_PATH, UPLOAD_PATH
from probes.network.analysis import speeds
from probes.network.analysis.steady_rate import SAMPLE_S, Steady, merge_cumulative, steady_rate
from probes.network.employer.session import STOPPING_WORDS, Endpoint
from probes.network.employer.sockets import WAIT_SLICE_S, KernelCounts, StreamSockets

STALL_S = 2.0  # no byte moved on any stream for this long: the connection is lost
READ_BYTES = 1 << 20
UPLOAD_BLOCK = 1 << 20
RECORDS_TIMEOUT_S = 4.0  # reading the server's upload records (a bloated queue drains first)
SERVER_MARGIN_S = 3.0  # the server-side bound of a transfer: our phase plus this
MAX_HEADER_BYTES = 65536


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
    kernel_counted: bool = False  # bytes counted by the receiving kernel (TCP_INFO)
    accepted: int = 0  # requests (download) or streams (upload) the server took
    refusals: list[str] = field(default_factory=list)  # status lines of those it did not
    server_stopped: bool = False  # the server said it is stopping, or stopped listening
    tls: bool = False  # the streams ran over TLS (an https server)

    def note(self, exc: OSError) -> None:
        """A failed request: the server's refusal, the server gone, or the line's trouble."""
        if isinstance(exc, Refused):
            self.refusals.append(str(exc))
            self.server_stopped |= STOPPING_WORDS in str(exc)
        elif isinstance(exc, ConnectionRefusedError):
            # The host answers, but nothing listens on the port the test began on.
            self.server_stopped = True
        else:
            self.errors.append(_describe(exc))

    @property
    def refused(self) -> str | None:
        """The server's answer when it refused every request of the phase, else None."""
        if self.accepted or not self.refusals:
            return None
        return self.refusals[0]

    def rate_series(self) -> list[tuple[float, float]]:
        """(time at the end of the interval, Mbit/s) per sample interval."""
        return speeds.rates(self.samples)


def download(
    endpoint: Endpoint,
    streams: int,
    seconds: float,
    stop: threading.Event,
    link_lost: Callable[[], bool] = lambda: False,
) -> Transfer:
    counts = [0] * streams
    kernel = KernelCounts(streams)
    transfer = Transfer("download", time.monotonic(), streams, tls=endpoint.tls_name is not None)
    deadline = transfer.started + seconds
    pool = StreamSockets(endpoint)

    def worker(index: int) -> None:
        buffer = bytearray(READ_BYTES)
        # A server that ends its response early (its own limits) gets asked again.
        while not stop.is_set() and time.monotonic() < deadline:
            query = f"token={endpoint.token}&seconds={_ask_seconds(endpoint, deadline):.1f}"
            try:
                sock = pool.connect()
                kernel.attach(index, sock)
                sock.sendall(_request("GET", f"{DOWNLOAD_PATH}?{query}", endpoint))
                counts[index] += _read_head(sock, buffer, stop, deadline)
                transfer.accepted += 1
                _count_body(sock, buffer, stop, deadline, counts, index)
            except OSError as exc:
                # A refusal is not the line's speed but the server's answer. Its bytes may be
                # counted (kernel counts), so a phase with no accepted request is reported as
                # refused.
                if isinstance(exc, Refused) or not (
                    stop.is_set() or pool.closed or time.monotonic() >= deadline
                ):
                    transfer.note(exc)
                    time.sleep(WAIT_SLICE_S)
            finally:
                kernel.detach(index)

    def total() -> int:
        counted = kernel.total()
        return sum(counts) if counted is None else counted

    _run_phase(
        transfer,
        [functools.partial(worker, i) for i in range(streams)],
        deadline,
        stop,
        total,
        pool,
        record=True,
        link_lost=link_lost,
    )
    transfer.steady = steady_rate(transfer.samples)
    transfer.kernel_counted = kernel.works
    return transfer


def upload(
    endpoint: Endpoint,
    streams: int,
    seconds: float,
    stop: threading.Event,
    link_lost: Callable[[], bool] = lambda: False,
) -> Transfer:
    """`link_lost` is another sign of a dead connection (the UDP stream went quiet)."""
    pushed = [0] * streams  # bytes handed to the kernel: only to notice a stall
    sent_at: dict[int, float] = {}
    transfer = Transfer("upload", time.monotonic(), streams, tls=endpoint.tls_name is not None)
    deadline = transfer.started + seconds
    pool = StreamSockets(endpoint)
    block = memoryview(os.urandom(UPLOAD_BLOCK))  # incompressible, like the download

    def worker(index: int) -> None:
        # A server that stops reading early (its byte limit) gets a new request, a new record.
        for attempt in itertools.count():
            if stop.is_set() or time.monotonic() >= deadline:
                return
            stream_id = index + attempt * streams
            seconds = _ask_seconds(endpoint, deadline)
            query = f"token={endpoint.token}&seconds={seconds:.1f}&stream={stream_id}"
            # The declared length is the server's limit: we stop sending long before (and the
            # server counts whatever came), without chunk framing for either side to parse.
            head = _request("POST", f"{UPLOAD_PATH}?{query}", endpoint, endpoint.max_upload_bytes)
            try:
                sock = pool.connect()
                sock.sendall(head)
                sent_at[stream_id] = time.monotonic()
                _send_body(sock, block, stop, deadline, pushed, index, transfer)
            except OSError as exc:
                if isinstance(exc, Refused) or not (
                    stop.is_set() or pool.closed or time.monotonic() >= deadline
                ):
                    transfer.note(exc)
                    time.sleep(WAIT_SLICE_S)

    _run_phase(
        transfer,
        [functools.partial(worker, i) for i in range(streams)],
        deadline,
        stop,
        lambda: sum(pushed),
        pool,
        record=False,
        link_lost=link_lost,
    )
    if stop.is_set() or transfer.stalled or transfer.server_stopped:
        return transfer
    try:
        records = _upload_records(endpoint, stop)
    except (Refused, ConnectionRefusedError) as exc:
        transfer.note(exc)
        return transfer
    except (OSError, ValueError, http.client.HTTPException) as exc:
        transfer.errors.append(f"reading the server's count: {_describe(exc)}")
        transfer.stalled = True
        return transfer
    transfer.accepted = len(records)
    # Server clock -> ours: the server's record of a stream starts when our request arrived,
    # one one-way delay after we sent it; the quickest stream gives the best offset.
    offsets = [sent_at[i] - start for i, (start, _, _) in records.items() if i in sent_at]
    if not offsets:
        return transfer
    offset = max(offsets)
    per_stream = [[(t + offset, b) for t, b in samples] for _, samples, _ in records.values()]
    transfer.kernel_counted = all(kernel for _, _, kernel in records.values())
    # Bytes the server got after our phase ended are the queue draining: not part of the phase.
    merged = merge_cumulative(per_stream)
    transfer.samples = [(t, b) for t, b in merged if t <= deadline + SAMPLE_S / 2]
    transfer.steady = steady_rate(transfer.samples)
    return transfer


def _run_phase(
    transfer: Transfer,
    workers: list[Callable[[], None]],
    deadline: float,
    stop: threading.Event,
    total: Callable[[], int],
    pool: StreamSockets,
    record: bool,
    link_lost: Callable[[], bool],
) -> None:
    """Run the workers until the deadline, sampling `total()` every 100 ms (kept as the series
    when `record`), and detect a stall: no progress at all for STALL_S."""
    name = f"hc-{transfer.direction}"
    threads = [threading.Thread(target=w, daemon=True, name=name) for w in workers]
    for thread in threads:
        thread.start()
    next_sample = transfer.started
    last_progress, last_total = transfer.started, -1
    while not stop.is_set():
        now = time.monotonic()
        if now >= next_sample:
            value = total()
            if record:
                transfer.samples.append((now, value))
            if value != last_total:
                last_progress, last_total = now, value
            next_sample += SAMPLE_S
        if now >= deadline or transfer.server_stopped:
            break
        if transfer.refused is not None:
            if now - transfer.started > STALL_S:
                break  # the server says no to every request, not a lost connection
        elif now - last_progress > STALL_S or link_lost():
            transfer.stalled = True
            break
        time.sleep(max(0.0, min(next_sample, deadline) - time.monotonic()))
    transfer.ended = time.monotonic()
    pool.reset_all()
    for thread in threads:
        thread.join(max(0.0, transfer.ended + 0.3 - time.monotonic()))


def _ask_seconds(endpoint: Endpoint, deadline: float) -> float:
    """How long to ask the server for: the rest of the phase and a margin, within its limit
    (it refuses more rather than cut it silently)."""
    left = deadline - time.monotonic() + SERVER_MARGIN_S
    return max(1.0, min(left, endpoint.max_transfer_s - 0.1))


def _request(method: str, target: str, endpoint: Endpoint, length: int | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {endpoint.host_header}", "Connection: close"]
    if length is not None:
        lines += ["Content-Type: application/octet-stream", f"Content-Length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


class Refused(ConnectionError):
    """The server answered a request with another status than 200 (its status line)."""


def _read_head(
    sock: socket.socket, buffer: bytearray, stop: threading.Event, deadline: float
) -> int:
    """Read the response headers; the body bytes that came with them. Refused unless 200."""
    # One read often brings the headers and a good deal of body (up to READ_BYTES): look for the
    # end of the headers first, and bound only what comes before it.
    received = b""
    while (end := received.find(b"\r\n\r\n")) < 0:
        if len(received) > MAX_HEADER_BYTES:
            raise ConnectionError("not a homecheck server (no HTTP response)")
        n = _recv(sock, buffer, stop, deadline)
        if n == 0:
            raise ConnectionResetError("the server closed the connection")
        received += bytes(buffer[:n])
    status_line = received[: received.find(b"\r\n")]
    if b" 200 " not in status_line + b" ":
        raise Refused(_refusal(status_line, received[end + 4 :]))
    return len(received) - end - 4


def _refusal(status_line: bytes, body: bytes) -> str:
    """The status line and the server's reason (its JSON "error"), for the report: printable
    text only, and short (a stranger's server wrote it)."""
    text = status_line.decode("ascii", errors="replace").strip()
    try:
        reason = json.loads(body.decode("utf-8"))["error"]
    except (ValueError, KeyError, TypeError):
        reason = None
    if isinstance(reason, str):
        text = f"{text}: {reason}"
    return "".join(c for c in text if c.isprintable())[:160]


def _count_body(
    sock: socket.socket,
    buffer: bytearray,
    stop: threading.Event,
    deadline: float,
    counts: list[int],
    index: int,
) -> None:
    """Add body bytes to counts[index] as they arrive, until the phase ends or the server ends
    the response. (Chunk framing, 10 bytes per MiB, is counted.)"""
    while True:
        n = _recv(sock, buffer, stop, deadline)
        if n == 0:
            return
        counts[index] += n


def _recv(sock: socket.socket, buffer: bytearray, stop: threading.Event, deadline: float) -> int:
    """recv_into, waiting in slices; 0 at the end of the stream or of the phase."""
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            return sock.recv_into(buffer)
        except TimeoutError:
            continue
    return 0


def _send_body(
    sock: socket.socket,
    block: memoryview,
    stop: threading.Event,
    deadline: float,
    pushed: list[int],
    index: int,
    transfer: Transfer,
) -> None:
    """Send the block over and over until the phase ends or the server answers (it refuses, or
    ends this upload at its own limit: the worker then starts another)."""
    answer = bytearray()
    while _send_all(sock, block, stop, deadline, pushed, index):
        if _answered(sock, answer, transfer):
            return


def _answered(sock: socket.socket, answer: bytearray, transfer: Transfer) -> bool:
    """Whether the server has answered the upload (read without waiting). A refusal raises
    Refused; a reply saying the server is stopping marks the transfer."""
    readable = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
    if not readable:
        try:
            readable = bool(select.select([sock], [], [], 0)[0])
        except ValueError:  # closed under us: the phase ended (reset_all)
            raise ConnectionAbortedError("the phase ended") from None
    if not readable:
        return False
    sock.settimeout(0.0)
    try:
        data = sock.recv(4096)
    except (ssl.SSLWantReadError, BlockingIOError, InterruptedError):
        return False  # a TLS message that is not data (a session ticket)
    finally:
        sock.settimeout(WAIT_SLICE_S)
    if not data:
        raise ConnectionResetError("the server closed the connection")
    answer += data[: MAX_HEADER_BYTES + 4096 - len(answer)]
    end = answer.find(b"\r\n\r\n")
    if end < 0:
        return len(answer) >= MAX_HEADER_BYTES
    status_line = bytes(answer[: answer.find(b"\r\n")])
    if b" 200 " not in status_line + b" ":
        raise Refused(_refusal(status_line, bytes(answer[end + 4 :])))
    transfer.server_stopped |= STOPPING_WORDS.encode() in answer
    return True


def _send_all(
    sock: socket.socket,
    data: memoryview,
    stop: threading.Event,
    deadline: float,
    pushed: list[int],
    index: int,
) -> bool:
    """sendall in slices, counting into pushed[index]; False when the phase ended first."""
    view = data
    while view:
        if stop.is_set() or time.monotonic() >= deadline:
            return False
        try:
            sent = sock.send(view)
        except TimeoutError:
            continue
        pushed[index] += sent
        view = view[sent:]
    return True


def _upload_records(
    endpoint: Endpoint, stop: threading.Event
) -> dict[int, tuple[float, list[tuple[float, int]], bool]]:
    """The server's per-stream receive records: {stream: (start, [(time, bytes)], kernel)}, on the
    server's clock."""
    conn = endpoint.http(RECORDS_TIMEOUT_S)
    try:
        conn.request(
            "GET",
            f"{SESSION_PATH}/{endpoint.token}/uploads",
            headers={"Host": endpoint.host_header},
        )
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise Refused(_refusal(f"HTTP/1.1 {response.status} {response.reason}".encode(), body))
    parsed = json.loads(body)
    records: dict[int, tuple[float, list[tuple[float, int]], bool]] = {}
    for key, record in parsed["uploads"].items():
        samples = [(float(t), int(b)) for t, b in record["samples"]]
        records[int(key)] = (float(record["start"]), samples, bool(record.get("kernel")))
    return records


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc or 'no detail'}"
