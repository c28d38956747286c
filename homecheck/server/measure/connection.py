"""One TCP (or TLS) connection of the measurement plane: an asyncio BufferedProtocol.

Every read lands in one buffer shared by all connections (`_SCRATCH`): a request head is copied
out of it (at most `MAX_HEAD_BYTES`), a small JSON body too (at most `MAX_JSON_BYTES`), and an
upload's bytes are only counted, so nothing is copied or kept at any speed. The loop is single
threaded, and each read is handled before the next one overwrites the buffer.

A connection is in one state at a time: waiting for a request head, reading a JSON body, sending
a download, receiving an upload, or lingering before it closes. The plane's sweeper
(plane.py) looks at every connection four times a second and closes those past a bound: silent
for `idle_timeout_s` (whether or not they ever sent a request: a keep-alive connection between
requests is silent too), a head not complete `head_timeout_s` after its first byte (slowloris
sends a byte now and then: the clock is not reset by each byte), a download the client stopped
reading.

Closing after an upload is staged (RFC 9112 section 9.6): a client still sending would get a
reset from our kernel, which can destroy the reply before the client reads it. So the reply is
written, the sending side shut, the body read on (and dropped) for `LINGER_S`, then the
connection closed.
"""

from __future__ import annotations

import asyncio
import enum
import threading
import time
from typing import Any, Protocol

from homecheck.server.measure.http import (
    MAX_HEAD_BYTES,
    MAX_JSON_BYTES,
    BadRequest,
    ChunkedBody,
    Request,
    error,
    parse_head,
)
from homecheck.server.sessions import Limits

READ_BYTES = 1 << 20
LINGER_S = 1.0
_SCRATCH = memoryview(bytearray(READ_BYTES))
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class State(enum.Enum):
    HEAD = "head"  # waiting for (or reading) a request head
    JSON = "json"  # reading a small JSON body
    UPLOAD = "upload"
    DOWNLOAD = "download"
    LINGER = "linger"  # the reply is sent; reading and dropping until the close
    CLOSED = "closed"


class Plane(Protocol):
    """What a connection needs of the plane (plane.py)."""

    limits: Limits
    stopping: threading.Event
    STOPPING: str
    downloads: int  # running now (they share each turn of the loop)

    def connected(self, connection: Connection) -> None: ...
    def disconnected(self, connection: Connection) -> None: ...
    def dispatch(self, connection: Connection, request: Request, rest: memoryview) -> None: ...


class Download(Protocol):
    """What a connection needs of its download (transfers.py)."""

    progress_at: float

    def end(self, gone: bool = False) -> None: ...
    def resumed(self) -> None: ...


class Upload(Protocol):
    """What a connection needs of its upload (transfers.py)."""

    def data(self, view: memoryview) -> None: ...
    def finish(self, stopped: str) -> None: ...
    def connection_lost(self) -> None: ...


class Connection(asyncio.BufferedProtocol):
    def __init__(self, plane: Plane) -> None:
        self.plane = plane
        self.transport: asyncio.Transport | None = None
        self.sock: Any = None
        self.client = ""
        self.state = State.HEAD
        self.head = bytearray()
        self.ready_at = time.monotonic()
        self.first_byte_at: float | None = None
        self.request: Request | None = None
        self.json_length = 0
        self.json_chunks: ChunkedBody | None = None
        self.json_body = bytearray()
        self.json_route: Any = None
        self.upload: Upload | None = None
        self.download: Download | None = None
        self.paused = False
        # Bytes after the current request's head that no body took: a pipelined next request.
        self.rest = memoryview(b"")

    # asyncio.BufferedProtocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.sock = transport.get_extra_info("socket")
        peer = transport.get_extra_info("peername")
        self.client = str(peer[0]) if isinstance(peer, tuple | list) and peer else ""
        self.ready_at = time.monotonic()
        self.plane.connected(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = State.CLOSED
        self.plane.disconnected(self)
        if self.upload is not None:
            self.upload.connection_lost()
        if self.download is not None:
            self.download.end(gone=True)

    def get_buffer(self, sizehint: int) -> memoryview:
        return _SCRATCH

    def buffer_updated(self, nbytes: int) -> None:
        view = _SCRATCH[:nbytes]
        try:
            if self.state is State.HEAD:
                self._head_data(view)
            elif self.state is State.UPLOAD and self.upload is not None:
                self.upload.data(view)
            elif self.state is State.JSON:
                self._json_data(view)
            # DOWNLOAD, LINGER: what the client sends now is dropped (a download closes after
            # it when the client sent anything, see Download.end).
            elif self.state is State.DOWNLOAD and self.request is not None:
                self.request.keep_alive = False
        except BadRequest as exc:
            self.refuse(exc.status, exc.message, close=True)

    def eof_received(self) -> bool | None:
        if self.state is State.UPLOAD and self.upload is not None:
            self.upload.finish("client left")
            return True  # the reply is written, then the connection closed
        # A client that half-closed still reads its download.
        return self.state is State.DOWNLOAD

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.download is not None:
            self.download.resumed()

    # requests ---------------------------------------------------------------------------------
    def _head_data(self, view: memoryview) -> None:
        if not self.head:
            view = _strip_crlf(view)  # RFC 9112 2.2: empty lines before a request are ignored
            if not view:
                return
            self.first_byte_at = time.monotonic()
        self.head += view  # a read that brings the head may bring body bytes after it
        self._try_head()

    def _try_head(self) -> None:
        """Dispatch the request once its head is complete (the search is bounded)."""
        if self.state is not State.HEAD or not self.head:
            return
        end = self.head.find(b"\r\n\r\n", 0, MAX_HEAD_BYTES + 4)
        if end < 0:
            if len(self.head) > MAX_HEAD_BYTES:
                self.refuse(431, f"the request head is over {MAX_HEAD_BYTES} bytes", close=True)
            return
        head = bytes(self.head[:end])
        # The rest (body bytes, a pipelined request) is read from the old buffer.
        rest = memoryview(self.head)[end + 4 :]
        self.head = bytearray()
        self.request = parse_head(head)
        self.rest = rest
        self.plane.dispatch(self, self.request, rest)

    def read_json(self, route: Any, rest: memoryview) -> None:
        """Read the request's small JSON body, then call `route(connection, body_bytes)`."""
        request = self.request
        assert request is not None
        if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
            self.refuse(413, f"a JSON body is at most {MAX_JSON_BYTES} bytes", close=True)
            return
        self.rest = memoryview(b"")  # the body's, read below
        self.json_route = route
        self.json_length = request.content_length or 0
        self.json_chunks = ChunkedBody(keep=MAX_JSON_BYTES) if request.chunked else None
        self.json_body = bytearray()
        self.state = State.JSON
        if request.expect_continue and request.has_body:
            self.write(CONTINUE)
        self._json_data(rest)

    def _json_data(self, view: memoryview) -> None:
        chunks = self.json_chunks
        if chunks is not None:
            chunks.feed(view)
            if len(chunks.kept) > MAX_JSON_BYTES:
                self.refuse(413, f"a JSON body is at most {MAX_JSON_BYTES} bytes", close=True)
                return
            if not chunks.done:
                return
            body = bytes(chunks.kept)
        else:
            self.json_body += view[: self.json_length - len(self.json_body)]
            if len(self.json_body) < self.json_length:
                return
            body = bytes(self.json_body)
        route, self.json_route = self.json_route, None
        self.state = State.HEAD  # the route replies (respond) from here
        try:
            route(self, body)
        except BadRequest as exc:
            self.refuse(exc.status, exc.message, exc.close)

    # replies ----------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def respond(self, data: bytes, close: bool = False) -> None:
        """A complete reply to the current request; then the next request, or the close."""
        self.write(data)
        request = self.request
        if close or request is None or not request.keep_alive or self.plane.stopping.is_set():
            self.close_soon(body_pending=self.state is not State.HEAD)
            return
        self.request = None
        self.state = State.HEAD
        self.ready_at = time.monotonic()
        self.first_byte_at = None
        rest, self.rest = _strip_crlf(self.rest), memoryview(b"")
        if rest:
            # A pipelined request: kept in order ahead of later reads, and parsed on the next
            # turn of the loop, so a read full of them never nests one call per request.
            self.head = bytearray(rest)
            self.first_byte_at = self.ready_at
            asyncio.get_running_loop().call_soon(self._pipelined)

    def _pipelined(self) -> None:
        try:
            self._try_head()
        except BadRequest as exc:
            self.refuse(exc.status, exc.message, close=True)

    def refuse(self, status: int, message: str, close: bool = False) -> None:
        """An error reply. `close` when the request's body is not read (or its framing is
        broken): the connection closes in stages."""
        body_pending = close or self.state in (State.JSON, State.UPLOAD)
        self.write(error(status, message, close=close or body_pending))
        if body_pending:
            self.close_soon(body_pending=True)
        else:
            self.respond(b"")

    def close_soon(self, body_pending: bool) -> None:
        """Close once the reply is out; in stages when the client may still be sending."""
        transport = self.transport
        if transport is None or transport.is_closing() or self.state is State.LINGER:
            return
        if not body_pending:
            self.state = State.CLOSED
            transport.close()
            return
        self.state = State.LINGER
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_S, transport.close)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # bounds (plane.py calls these) ------------------------------------------------------------
    def idle_state(self) -> bool:
        """No request in progress: the connection may be closed to make room for another."""
        return self.state is State.HEAD and not self.head

    def reading_head(self) -> bool:
        return self.state is State.HEAD

    def check(self, now: float) -> None:
        """Close the connection if it is past one of its bounds (see the module docstring)."""
        limits = self.plane.limits
        if self.state is State.HEAD:
            if self.first_byte_at is None:
                if now - self.ready_at > limits.idle_timeout_s:
                    self.close_soon(body_pending=False)
            elif now - self.first_byte_at > limits.head_timeout_s:
                self.refuse(408, "the request head took too long to arrive", close=True)
        elif self.state is State.JSON:
            if now - (self.first_byte_at or self.ready_at) > limits.head_timeout_s:
                self.refuse(408, "the request body took too long to arrive", close=True)
        elif self.state is State.DOWNLOAD and self.download is not None:
            stalled = now - self.download.progress_at > limits.idle_timeout_s
            if stalled:
                self.abort()  # the client stopped reading

    def stop(self) -> None:
        """The server is stopping: end what runs now, with the reason."""
        if self.state is State.HEAD:
            if self.head:
                self.refuse(503, self.plane.STOPPING, close=True)
            else:
                self.close_soon(body_pending=False)
        elif self.state is State.JSON:
            self.refuse(503, self.plane.STOPPING, close=True)
        elif self.state is State.UPLOAD and self.upload is not None:
            self.upload.finish("server stopping")
        elif self.state is State.DOWNLOAD and self.download is not None:
            self.download.end()


def _strip_crlf(view: memoryview) -> memoryview:
    start = 0
    while start < len(view) and view[start] in (10, 13):
        start += 1
    return view[start:]
