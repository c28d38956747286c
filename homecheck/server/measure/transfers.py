"""The download and the upload of the measurement plane, each on its connection's own socket.

Download: random bytes (one block made at start, so compression anywhere on the path cannot
inflate the speed) written as HTTP chunks for `seconds`, paced by the transport's flow control:
the writes stop when the kernel's send buffer and the transport's own buffer are full
(`pause_writing`) and go on when they drain (`resume_writing`). The writer gives the event loop
back after each chunk, and the downloads running share 2 MiB a turn, so the UDP echo's answers
and the other streams are never held up long by fast clients. When it ends, the session keeps
its record: the bytes the client acknowledged as the server's kernel counted them (TCP_INFO,
kernel.py; the bytes written where the kernel does not tell) and the kernel's RTTs at its end.

Upload: the body is counted as it is read (connection.py reads it into a shared buffer), and
every ~100 ms the session's record for the stream gets a sample of the bytes received so far, as
counted by the server's kernel (homecheck.wire.bytes_received, TCP_INFO) where it can, else as
read. The kernel's count starts when the upload starts: body bytes that came with the head are
left out, a constant offset that rates over any window do not see. Over TLS the kernel counts
TLS records, the TCP payload, as iperf3 counts TCP payload: about 0.13 % more than the decrypted
bytes (a 16 KiB record carries 22 bytes of framing).

Both are bounded: by their own time (`seconds`, at most `Limits.max_transfer_s`), by
`Limits.max_request_bytes`, by `Limits.idle_timeout_s` without progress, and by the server
stopping (an upload then replies "server stopping").
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from homecheck import wire
from homecheck.server.measure import kernel
from homecheck.server.measure.connection import State
from homecheck.server.measure.http import ChunkedBody, Request, reply
from homecheck.server.sessions import DownloadRecord, Limits, Session

if TYPE_CHECKING:
    from homecheck.server.measure.connection import Connection

SAMPLE_S = 0.1
# Bytes all downloads together write in one turn of the event loop, shared by the downloads
# running: the UDP echo is answered between turns, so a turn must stay short (2 MiB is about a
# millisecond of copying), while a lone test still writes large chunks (little overhead a byte).
TURN_BYTES = 2 << 20
MIN_CHUNK_BYTES = 32 << 10
DOWNLOAD_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nCache-Control: no-store\r\n"
    b"Transfer-Encoding: chunked\r\n"
)

MAX_DOWNLOAD_RECORDS = 1000  # per session: what a hub's observations are computed from


class Download:
    def __init__(
        self, connection: Connection, session: Session, seconds: float, block: memoryview
    ) -> None:
        self.connection = connection
        self.session = session
        self.limits: Limits = connection.plane.limits
        self.block = block
        self.offset = 0  # where the next chunk starts in the block
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        self.sent = 0
        self.progress_at = time.monotonic()
        self.scheduled = False
        self.ended = False
        transport = connection.transport
        self.tls = transport is not None and transport.get_extra_info("sslcontext") is not None
        # The kernel's acknowledged bytes so far (earlier replies on this connection), the base
        # of this download's count; None without TCP_INFO.
        self.base = kernel.read_sent(connection.sock)

    def start(self, keep_alive: bool) -> None:
        self.session.transfers += 1
        self.connection.plane.downloads += 1
        head = DOWNLOAD_HEAD + (b"\r\n" if keep_alive else b"Connection: close\r\n\r\n")
        self.connection.write(head)
        self.pump()

    def pump(self) -> None:
        self.scheduled = False
        if self.ended:
            return
        connection = self.connection
        limit = self.limits.max_request_bytes
        now = time.monotonic()
        if now >= self.deadline or self.sent >= limit or connection.plane.stopping.is_set():
            self.end()
            return
        transport = connection.transport
        if transport is None or transport.is_closing():
            return
        if connection.paused:
            return  # resume_writing schedules pump again
        # One chunk per download per turn of the loop, the turn's bytes shared among them.
        share = TURN_BYTES // max(1, connection.plane.downloads)
        size = min(max(MIN_CHUNK_BYTES, share), len(self.block), limit - self.sent)
        start = self.offset if self.offset + size <= len(self.block) else 0
        chunk = self.block[start : start + size]
        self.offset = start + size
        head = b"%x\r\n" % size
        if self.tls:
            # One write: a TLS transport does not show a failed write of the socket below it
            # until the loop turns, and asyncio logs every write after a loss.
            transport.write(b"".join((head, chunk, b"\r\n")))
        else:
            transport.write(head)
            transport.write(chunk)  # no copy: the kernel takes it from the shared block
            transport.write(b"\r\n")
        self.sent += size
        self.progress_at = self.session.last_seen = now
        self.scheduled = True
        asyncio.get_running_loop().call_soon(self.pump)

    def resumed(self) -> None:
        # Scheduled, not called: a write from inside resume_writing that fails makes asyncio
        # (3.11) report the connection lost twice.
        self.progress_at = time.monotonic()
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self.pump)

    def end(self, gone: bool = False) -> None:
        if self.ended:
            return
        self.ended = True
        self.session.transfers -= 1
        self.connection.plane.downloads -= 1
        now = self.session.last_seen = time.monotonic()
        if len(self.session.downloads) < MAX_DOWNLOAD_RECORDS:
            self.session.downloads.append(self._record(now))
        connection = self.connection
        connection.download = None
        if gone:
            return
        connection.state = State.HEAD
        request = connection.request
        close = request is None or not request.keep_alive
        connection.respond(b"0\r\n\r\n", close=close)

    def _record(self, now: float) -> DownloadRecord:
        """This download as the kernel counted it (the socket is still open, even when the client
        left: asyncio closes it after connection_lost), else as written."""
        elapsed = self.session.elapsed
        start, end = round(elapsed(self.started), 4), round(elapsed(now), 4)
        final = kernel.read_sent(self.connection.sock) if self.base is not None else None
        if self.base is None or final is None:
            return DownloadRecord(start, end, self.sent, kernel=False)
        acked = max(0, final.bytes_acked - self.base.bytes_acked)
        return DownloadRecord(start, end, acked, True, final.srtt_ms, final.min_rtt_ms)


class Upload:
    def __init__(
        self,
        connection: Connection,
        session: Session,
        seconds: float,
        request: Request,
        stream: int,
    ) -> None:
        self.connection = connection
        self.session = session
        self.limits: Limits = connection.plane.limits
        self.chunks = ChunkedBody() if request.chunked else None
        self.left = request.content_length or 0
        self.complete = self.chunks is None and self.left == 0
        self.received = 0
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        self.progress_at = self.started
        self.base = wire.bytes_received(connection.sock)
        self.kernel_last = 0
        start = round(session.elapsed(self.started), 4)
        self.samples = session.record_upload(stream, start, self.base is not None)
        self.done = False
        self.timer: asyncio.TimerHandle | None = None

    def start(self, rest: memoryview) -> None:
        self.session.transfers += 1
        self.timer = asyncio.get_running_loop().call_later(SAMPLE_S, self.tick)
        if self.complete:
            self.finish("end")
        elif rest:
            self.data(rest)

    def data(self, view: memoryview) -> None:
        if self.done:
            return
        if self.chunks is not None:
            count = self.chunks.feed(view)
            self.complete = self.chunks.done
        else:
            count = min(len(view), self.left)
            self.left -= count
            self.complete = self.left == 0
        if count:
            self.received += count
            self.progress_at = time.monotonic()
        if self.received >= self.limits.max_request_bytes:
            self.finish("byte limit")
        elif self.complete:
            self.finish("end")

    def tick(self) -> None:
        if self.done:
            return
        now = time.monotonic()
        if self.received:
            self.session.last_seen = now
        self.samples.append((round(self.session.elapsed(now), 4), self.kernel_bytes()))
        if now >= self.deadline:
            self.finish("time limit")
        elif now - self.progress_at > self.limits.idle_timeout_s:
            self.finish("idle")
        elif self.connection.plane.stopping.is_set():
            self.finish("server stopping")
        else:
            self.timer = asyncio.get_running_loop().call_later(SAMPLE_S, self.tick)

    def kernel_bytes(self) -> int:
        """Received so far: the kernel's count since the start, else what was read."""
        if self.base is None:
            return self.received
        now = wire.bytes_received(self.connection.sock)
        if now is not None:
            self.kernel_last = max(self.kernel_last, now - self.base)
        return self.kernel_last

    def _end(self) -> float:
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        self.session.transfers -= 1
        now = time.monotonic()
        self.session.last_seen = now
        self.samples.append((round(self.session.elapsed(now), 4), self.kernel_bytes()))
        self.connection.upload = None
        return now

    def finish(self, stopped: str) -> None:
        """Reply with what was received, then close (in stages unless the body was read)."""
        if self.done:
            return
        now = self._end()
        body = {"bytes": self.received, "seconds": round(now - self.started, 4), "stopped": stopped}
        connection = self.connection
        connection.write(reply(200, body, close=True))
        connection.close_soon(body_pending=not self.complete)

    def connection_lost(self) -> None:
        """The client went away (its socket is still open here: the kernel count is final)."""
        if not self.done:
            self._end()
