"""Upload bodies read straight into a scratch buffer: the fast path of `homecheck serve` uploads.

uvicorn hands a request body to the app as ASGI messages: each socket read is parsed, copied into
the request's buffer, copied again into a message, and the reading is paused above 64 KiB until
the app asks for more (uvicorn's flow control). At several Gbit/s those copies and pauses keep the
server's one event loop at a full core, and the loopback upload ceiling at a third of iperf3's.

An upload's bytes are only counted, never used. So once the headers of a `POST` to the upload path
with a Content-Length are parsed, an `UploadSink` takes over the connection's reading: the
transport (an asyncio BufferedProtocol) receives into one reused buffer and the sink counts,
up to the declared length; nothing is copied in Python and nothing waits for the app. The upload
handler asks for the count every ~100 ms (`body_sizes`), as it would read pieces of the body. The
kernel's byte count (homecheck.wire.bytes_received) is unchanged: bytes are still counted where
they arrive.

Anything else (other paths, chunked bodies, pipelined requests) goes through uvicorn as before.
The connection is closed after the upload's reply instead of being kept alive, in stages (RFC 9112
section 9.6): a client still sending would otherwise get a reset that can destroy the reply before
it reads it. The sending side is shut first, the body read on for at most `LINGER_S`, then closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import ClientDisconnect, Request

from homecheck import wire
from homecheck.wire import UPLOAD_PATH

SCOPE_KEY = "homecheck.upload_sink"
READ_BYTES = 1 << 20
LINGER_S = 1.0
# One buffer for every sink: the bytes are dropped as soon as they are counted, so connections
# (even event loops in other threads) can overwrite each other's without harm.
_SCRATCH = memoryview(bytearray(READ_BYTES))
# body_sizes wakes this much after a sample is due, so a timer firing on the dot does not find
# the sample not yet due and skip it.
_SLACK_S = 0.002


class UploadSink(asyncio.BufferedProtocol):
    """Counts one upload body, then stops reading. Every other protocol event goes on to the
    connection's HTTP protocol, which still writes the reply and tracks the connection."""

    def __init__(self, http: Any, body_bytes: int) -> None:
        self.http = http
        self.left = body_bytes
        self.counted = 0  # bytes not yet taken by the handler
        self.complete = body_bytes == 0
        self.disconnected = False
        self.done = asyncio.Event()  # complete or disconnected: the handler wakes at once
        self.transport: asyncio.Transport | None = None
        self.linger: asyncio.TimerHandle | None = None
        # The kernel's received-byte count as the connection ended (its socket is still open
        # in connection_lost): the handler's last sample comes after the socket is gone.
        self.final_kernel_bytes: int | None = None

    def count(self, nbytes: int) -> None:
        nbytes = min(nbytes, self.left)
        self.counted += nbytes
        self.left -= nbytes
        if self.left == 0 and not self.complete:
            self.complete = True
            self.done.set()
            if self.linger is not None and self.transport is not None:
                self.transport.close()
            elif self.transport is not None:
                self.transport.pause_reading()

    def take_over(self, transport: asyncio.Transport) -> None:
        """Read the rest of the body here (after the HTTP parser has seen its first bytes)."""
        if self.transport is not None or transport.is_closing():
            return
        self.transport = transport
        transport.set_protocol(self)
        if self.complete:
            transport.pause_reading()
        # uvicorn's own close after the reply becomes a lingering close.
        self.http.transport = self.http.cycle.transport = _LingeringClose(transport, self)

    def close(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing() or self.linger is not None:
            return
        if self.complete or self.disconnected or not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self.linger = asyncio.get_running_loop().call_later(LINGER_S, transport.close)

    def begin(self) -> None:
        """The handler accepted the upload: a client waiting for `100 Continue` gets it now
        (uvicorn sends it on the app's first read, which this path never makes)."""
        cycle = self.http.cycle
        if cycle.waiting_for_100_continue and not self.http.transport.is_closing():
            self.http.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False

    def take(self) -> int:
        taken, self.counted = self.counted, 0
        return taken

    async def wait(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, timeout_s)):
                await self.done.wait()

    # asyncio.BufferedProtocol
    def get_buffer(self, sizehint: int) -> memoryview:
        return _SCRATCH[: min(READ_BYTES, self.left)] if self.left else _SCRATCH

    def buffer_updated(self, nbytes: int) -> None:
        self.count(nbytes)

    def eof_received(self) -> bool | None:
        return self.http.eof_received()  # type: ignore[no-any-return]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.final_kernel_bytes = wire.bytes_received(self.transport.get_extra_info("socket"))
        if not self.complete:
            self.disconnected = True
        self.done.set()
        if self.linger is not None:
            self.linger.cancel()
        self.http.connection_lost(exc)

    def pause_writing(self) -> None:
        self.http.pause_writing()

    def resume_writing(self) -> None:
        self.http.resume_writing()


class _LingeringClose:
    """The transport as uvicorn sees it once a sink reads: closing it closes in stages."""

    def __init__(self, transport: asyncio.Transport, sink: UploadSink) -> None:
        self._transport, self._sink = transport, sink

    def close(self) -> None:
        self._sink.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing() or self._sink.linger is not None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class UploadSinkMixin:
    """For a subclass of uvicorn's HttpToolsProtocol: hands upload bodies to an UploadSink."""

    _hc_sink: UploadSink | None = None

    def on_headers_complete(self) -> None:
        super().on_headers_complete()  # type: ignore[misc]
        self._hc_sink = _claim(self)

    def on_body(self, body: bytes) -> None:
        if self._hc_sink is not None:
            self._hc_sink.count(len(body))
        else:
            super().on_body(body)  # type: ignore[misc]

    def on_message_complete(self) -> None:
        if self._hc_sink is None:
            super().on_message_complete()  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        if self._hc_sink is not None:
            self._hc_sink.take_over(self.transport)  # type: ignore[attr-defined]


def _claim(http: Any) -> UploadSink | None:
    """A sink for this request when it is an upload the sink can read, else None (also when
    uvicorn's protocol no longer looks as this module expects: the slow path still works)."""
    try:
        return _claim_upload(http)
    except AttributeError:
        return None


def _claim_upload(http: Any) -> UploadSink | None:
    scope = http.scope
    if scope.get("method") != "POST" or scope.get("path") != http.root_path + UPLOAD_PATH:
        return None
    if http.cycle is None or http.cycle.scope is not scope or http.pipeline:
        return None  # not started (an upgrade, or queued behind another request)
    lengths = [value for name, value in scope["headers"] if name == b"content-length"]
    chunked = any(name == b"transfer-encoding" for name, _ in scope["headers"])
    if chunked or len(lengths) != 1 or not lengths[0].isdigit():
        return None
    sink = UploadSink(http, int(lengths[0]))
    http.cycle.keep_alive = False  # the rest of the body is not read: no next request
    scope.setdefault("extensions", {})[SCOPE_KEY] = sink
    return sink


async def body_sizes(request: Request, every_s: float) -> AsyncIterator[int]:
    """The sizes of the request body's pieces as they are read, until its end; ClientDisconnect
    when the client goes away first. Through a sink: what arrived since the last piece, at most
    every `every_s` (only when something arrived)."""
    sink = request.scope.get("extensions", {}).get(SCOPE_KEY)
    if not isinstance(sink, UploadSink):
        async for chunk in request.stream():
            yield len(chunk)
        return
    sink.begin()
    while True:
        complete, disconnected = sink.complete, sink.disconnected
        taken = sink.take()
        if taken:
            yield taken
        if complete:
            return
        if disconnected:
            raise ClientDisconnect
        await sink.wait(every_s + _SLACK_S)
