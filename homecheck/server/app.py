"""The `homecheck serve` web app: speed-test endpoints under /api/speed (see homecheck/wire.py).

`create_app` is a factory returning a Starlette app, so later parts (an employer dashboard, profile
downloads, invitations) mount beside /api/speed on the same server. The UDP echo, when a socket is
given, runs in the app's event loop (started and stopped by the app's lifespan).

Every transfer is bounded: by its own time (`seconds`, at most `Limits.max_transfer_s`), by
`Limits.max_request_bytes`, and by `Limits.idle_timeout_s` without progress (a client that stops
reading a download or stops sending an upload is cut off).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from homecheck import __version__, wire
from homecheck.server import upload_sink
from homecheck.server.connections import ConnectionSockets
from homecheck.server.http_parts import error, number, small_json
from homecheck.server.sessions import Busy, Limits, Session, SessionTable
from homecheck.server.udp_echo import UdpEcho
from homecheck.wire import API

BLOCK_BYTES = 1 << 20  # one send: large enough that per-chunk overhead stays small at 10 Gbit/s
SAMPLE_S = 0.1  # upload progress samples


def create_app(
    limits: Limits | None = None,
    udp_socket: socket.socket | None = None,
    connections: ConnectionSockets | None = None,
) -> Starlette:
    """`connections` (from serve.py) lets uploads be counted by the kernel
    (homecheck.wire.bytes_received)."""
    limits = limits or Limits()
    sessions = SessionTable(limits)
    # Set when the server begins to shut down (serve.py): running transfers end at once, so a
    # graceful shutdown never has to cancel them. Transfers poll `is_set()`; nothing awaits it.
    stopping = threading.Event()
    echo = UdpEcho(udp_socket, sessions) if udp_socket is not None else None
    # Random bytes: compression anywhere on the path cannot inflate the measured speed.
    block = os.urandom(BLOCK_BYTES)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        echoing = False
        if echo is not None:
            try:
                echo.start(loop)
                echoing = True
            except Exception as exc:  # serve.py says it in one line and stops
                app.state.startup_problem = (
                    f"the UDP echo cannot run on this system ({type(exc).__name__}: {exc})"
                )
        reaper = asyncio.create_task(_reap(sessions))
        try:
            yield
        finally:
            reaper.cancel()
            if echo is not None and echoing:
                echo.stop(loop)

    async def hello(request: Request) -> Response:
        return JSONResponse({"service": "homecheck", "version": __version__})

    async def open_session(request: Request) -> Response:
        body = await small_json(request)
        if body is None:
            return error(400, 'expected a JSON object like {"seconds": 15}')
        seconds = number(body.get("seconds", 60), 1.0, limits.max_session_s)
        if seconds is None:
            return error(400, "seconds must be a number")
        try:
            session = sessions.open(seconds)
        except Busy:
            return error(503, "the server is running its maximum number of tests; try again soon")
        reply = {
            "token": session.token.hex(),
            "udp_port": echo.port if echo is not None else None,
            "seconds": session.expires - session.created,
            "limits": limits.public(),
        }
        return JSONResponse(reply, status_code=201)

    async def close_session(request: Request) -> Response:
        try:
            token = bytes.fromhex(request.path_params["token"])
        except ValueError:
            return error(404, "no such session")
        return Response(status_code=204 if sessions.close(token) else 404)

    async def uploads(request: Request) -> Response:
        session = sessions.get_hex(request.path_params["token"])
        if session is None:
            return error(404, "no such session")
        records = {
            str(stream): {"start": r.start, "samples": r.samples, "kernel": r.kernel}
            for stream, r in session.uploads.items()
        }
        return JSONResponse({"uploads": records})

    async def download(request: Request) -> Response:
        checked = _transfer_params(request, sessions, limits)
        if isinstance(checked, Response):
            return checked
        session, seconds = checked
        return _DownloadStream(session, seconds, limits, block, stopping)

    async def upload(request: Request) -> Response:
        checked = _transfer_params(request, sessions, limits)
        if isinstance(checked, Response):
            return checked
        session, seconds = checked
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_request_bytes:
            return error(413, f"at most {limits.max_request_bytes} bytes per upload")
        sock = connections.socket_of(request.scope.get("client")) if connections else None
        return await _receive_upload(request, session, seconds, limits, stopping, sock)

    routes = [
        Route("/", hello),
        Route("/session", open_session, methods=["POST"]),
        Route("/session/{token}", close_session, methods=["DELETE"]),
        Route("/session/{token}/uploads", uploads),
        Route("/download", download),
        Route("/upload", upload, methods=["POST"]),
        *(echo.loss.routes(limits, stopping) if echo is not None else []),
    ]
    app = Starlette(routes=[Mount(API, routes=routes)], lifespan=lifespan)
    app.state.sessions = sessions
    app.state.limits = limits
    app.state.echo = echo
    app.state.startup_problem = None  # set by the lifespan when the echo cannot start
    app.state.stopping = stopping
    return app


async def _reap(sessions: SessionTable) -> None:
    while True:
        await asyncio.sleep(1.0)
        sessions.reap()


def _transfer_params(
    request: Request, sessions: SessionTable, limits: Limits
) -> tuple[Session, float] | Response:
    session = sessions.get_hex(request.query_params.get("token", ""))
    if session is None:
        return error(403, "unknown or expired session; start a new test")
    seconds = number(request.query_params.get("seconds", "10"), 0.1, limits.max_transfer_s)
    if seconds is None:
        return error(400, "seconds must be a number")
    if session.transfers >= limits.max_transfers_per_session:
        return error(429, f"at most {limits.max_transfers_per_session} streams per test")
    return session, seconds


class _Watchdog:
    """Cancels the transfer's task when it makes no progress for `idle_s` (a stalled peer) or
    when the server is stopping."""

    def __init__(self, idle_s: float, stopping: threading.Event) -> None:
        self.idle_s = idle_s
        self.stopping = stopping
        self.progress_at = time.monotonic()
        self.fired = False
        self._task = asyncio.current_task()
        self._watch = asyncio.create_task(self._run())

    def touch(self) -> None:
        self.progress_at = time.monotonic()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(min(0.25, self.idle_s / 2))
            idle = time.monotonic() - self.progress_at > self.idle_s
            if (idle or self.stopping.is_set()) and self._task is not None:
                self.fired = True
                self._task.cancel()
                return

    def close(self) -> None:
        self._watch.cancel()

    def absorb(self) -> bool:
        """After a CancelledError: True when it was ours (swallow it), False to re-raise."""
        if self.fired and self._task is not None:
            self._task.uncancel()
            return True
        return False


class _DownloadStream(Response):
    """Chunked random bytes for `seconds`, bounded in bytes and by the idle watchdog."""

    def __init__(
        self,
        session: Session,
        seconds: float,
        limits: Limits,
        block: bytes,
        stopping: threading.Event,
    ) -> None:
        super().__init__(media_type="application/octet-stream")
        self.session, self.seconds, self.limits, self.block = session, seconds, limits, block
        self.stopping = stopping

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()
        listener = asyncio.create_task(_wait_disconnect(receive, gone))
        self.session.transfers += 1
        watchdog = _Watchdog(self.limits.idle_timeout_s, self.stopping)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/octet-stream"),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            await self._stream(send, gone, watchdog.touch)
        except asyncio.CancelledError:
            if not watchdog.absorb():
                raise
        except OSError:
            pass
        finally:
            watchdog.close()
            listener.cancel()
            self.session.transfers -= 1
            self.session.last_seen = time.monotonic()

    async def _stream(self, send: Send, gone: asyncio.Event, touch: Callable[[], None]) -> None:
        deadline = time.monotonic() + self.seconds
        limit = self.limits.max_request_bytes
        sent = 0
        while sent < limit and time.monotonic() < deadline and not gone.is_set():
            if self.stopping.is_set():
                return
            left = limit - sent
            chunk = self.block if left >= len(self.block) else self.block[:left]
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent += len(chunk)
            touch()
            # A fast client never makes send() wait, so yield: the UDP echo and the other
            # streams share this event loop.
            await asyncio.sleep(0)
        if not gone.is_set():
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _wait_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


async def _receive_upload(
    request: Request,
    session: Session,
    seconds: float,
    limits: Limits,
    stopping: threading.Event,
    sock: Any,
) -> Response:
    """Count the body's bytes into the session's record for this stream, every ~100 ms, until
    the body ends, the client goes away, or a limit is reached. The client reads the records
    afterwards (GET session/{token}/uploads), so a stream it had to abandon still counts.
    With the connection's socket, the samples are the kernel's byte count
    (homecheck.wire.bytes_received) since the
    handler started: body bytes that arrived before are left out, a constant offset that rates
    over any window do not see."""
    kernel_base = wire.bytes_received(sock) if sock is not None else None
    counted = _KernelCount(sock, kernel_base, request.scope.get("extensions", {}))
    started = time.monotonic()
    deadline = started + seconds
    received = 0
    start = round(session.elapsed(started), 4)
    samples = session.record_upload(_stream_id(request), start, kernel_base is not None)
    next_sample = started + SAMPLE_S
    stopped = "end"
    session.transfers += 1
    watchdog = _Watchdog(limits.idle_timeout_s, stopping)
    try:
        async for size in upload_sink.body_sizes(request, SAMPLE_S):
            received += size
            watchdog.touch()
            now = time.monotonic()
            if now >= next_sample:
                samples.append((round(session.elapsed(now), 4), counted.bytes(received)))
                next_sample = now + SAMPLE_S
            if received >= limits.max_request_bytes:
                stopped = "byte limit"
                break
            if now >= deadline:
                stopped = "time limit"
                break
            if stopping.is_set():
                stopped = "server stopping"
                break
    except ClientDisconnect:
        stopped = "client left"
    except asyncio.CancelledError:
        if not watchdog.absorb():
            raise
        stopped = "server stopping" if stopping.is_set() else "idle"
    finally:
        watchdog.close()
        session.transfers -= 1
        now = time.monotonic()
        session.last_seen = now
        samples.append((round(session.elapsed(now), 4), counted.bytes(received)))
    reply = {"bytes": received, "seconds": round(now - started, 4), "stopped": stopped}
    return JSONResponse(reply)


class _KernelCount:
    """Bytes received on this upload: the kernel's count since the start when it has one,
    otherwise what the app read. Once the socket is gone: its count as the connection ended
    (taken by the upload sink), else the last value read."""

    def __init__(self, sock: Any, base: int | None, extensions: dict[str, Any]) -> None:
        self.sock, self.base, self.last = sock, base, 0
        self.sink = extensions.get(upload_sink.SCOPE_KEY)

    def bytes(self, read_by_app: int) -> int:
        if self.base is None:
            return read_by_app
        now = wire.bytes_received(self.sock)
        if now is None and isinstance(self.sink, upload_sink.UploadSink):
            now = self.sink.final_kernel_bytes
        if now is not None:
            self.last = max(self.last, now - self.base)
        return self.last


def _stream_id(request: Request) -> int:
    text = request.query_params.get("stream", "0")
    return int(text) if text.isdigit() and len(text) < 6 else 0
