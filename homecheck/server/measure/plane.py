"""The measurement plane: every /api/speed endpoint (homecheck/wire.py), the UDP echo and the loss
probe, in one asyncio event loop, on sockets it owns (standard library only).

Bounds against a hostile client, besides those of each transfer (transfers.py) and of each
connection (connection.py):
- open connections are bounded in total (`Limits.max_connections`); at the bound the oldest
  connection with no request in progress is closed to make room, so idle sockets can never lock
  anyone out (there is no cap per address: a real client and an attacker may share one);
- tests at once are bounded in total (503) and per client address (429), and a session with no
  test traffic for `Limits.idle_timeout_s` ends (sessions.py);
- every number is checked (http.py: 400 with the field's range), request heads and JSON bodies
  are bounded (431, 413).

A clean stop (`request_stop`, from Ctrl-C or SIGTERM): running downloads end, uploads reply
"server stopping", idle connections close, and for `STOP_GRACE_S` every new request is answered
503 with the same reason, so a client sees that the server stopped and not a failing line. Then
the listeners, the UDP echo and what is left are closed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from homecheck import __version__
from homecheck.errors import HomecheckError
from homecheck.server.measure.connection import CONTINUE, Connection, State
from homecheck.server.measure.http import (
    BadRequest,
    Request,
    error,
    json_number,
    parse_json_object,
    query_number,
    query_whole,
    reply,
)
from homecheck.server.measure.transfers import Download, Upload
from homecheck.server.sessions import Busy, BusyClient, Limits, Session, SessionTable
from homecheck.server.udp_echo import UdpEcho
from homecheck.wire import API

if TYPE_CHECKING:
    from homecheck.server.measure.hub_link import HubLink

BLOCK_BYTES = 1 << 20  # one download chunk: per-chunk overhead stays small at 10 Gbit/s
SWEEP_S = 0.25
STOP_GRACE_S = 1.0
STOP_RECORD_S = 10.0
MAX_STREAM_ID = 999_999
log = logging.getLogger("homecheck.serve")


class MeasurementPlane:
    STOPPING = "server stopping: the test server is shutting down; run the test again later"

    def __init__(
        self, limits: Limits, udp_socket: socket.socket | None, hub: HubLink | None = None
    ) -> None:
        self.limits = limits
        self.sessions = SessionTable(limits)
        # With --db: tests under an invite are bound to the hub's test sessions (hub_link.py).
        self.hub = hub
        self.sessions.on_end = self._ended
        self._recording: set[asyncio.Future[None]] = set()
        self.echo = UdpEcho(udp_socket, self.sessions) if udp_socket is not None else None
        self.stopping = threading.Event()  # read by the loss probe's downstream bursts
        self.connections: dict[Connection, None] = {}  # in the order they were opened
        self.downloads = 0
        self.block = memoryview(os.urandom(BLOCK_BYTES))
        self._stop_requested: asyncio.Event | None = None

    # lifecycle --------------------------------------------------------------------------------
    async def run(
        self,
        listeners: list[tuple[socket.socket, ssl.SSLContext | None]],
        on_ready: Callable[[], None],
    ) -> str | None:
        """Serve until `request_stop`; a problem that kept it from starting, else None."""
        loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        if self.echo is not None:
            try:
                self.echo.start(loop)
            except Exception as exc:  # serve.py says it in one line and stops
                return f"the UDP echo cannot run on this system ({type(exc).__name__}: {exc})"
        servers = []
        for sock, context in listeners:
            servers.append(
                await loop.create_server(
                    lambda: Connection(self),
                    sock=sock,
                    ssl=context,
                    ssl_handshake_timeout=self.limits.head_timeout_s if context else None,
                    backlog=1024,
                )
            )
        sweeper = asyncio.create_task(self._sweep())
        on_ready()
        try:
            await self._stop_requested.wait()
            await self._stop()
            self.sessions.end_all()
            if self._recording:  # observations of the tests the stop ended reach the store
                await asyncio.wait(self._recording, timeout=STOP_RECORD_S)
        finally:
            sweeper.cancel()
            for server in servers:
                server.close()
            for connection in list(self.connections):
                connection.abort()
            if self.echo is not None:
                self.echo.stop(loop)
            await asyncio.sleep(0)  # let the aborted transports finish
        return None

    def request_stop(self) -> None:
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def _stop(self) -> None:
        running = len(self.sessions) > 0
        self.stopping.set()
        for connection in list(self.connections):
            connection.stop()
        if running:
            await asyncio.sleep(STOP_GRACE_S)

    async def _sweep(self) -> None:
        reaped = time.monotonic()
        while True:
            await asyncio.sleep(SWEEP_S)
            now = time.monotonic()
            for connection in list(self.connections):
                connection.check(now)
            if now - reaped >= 1.0:
                self.sessions.reap(now)
                reaped = now

    # connections ------------------------------------------------------------------------------
    def connected(self, connection: Connection) -> None:
        self.connections[connection] = None
        if len(self.connections) <= self.limits.max_connections:
            return
        # At the bound: the oldest connection with no request in progress makes room; failing
        # that, the oldest still sending its head (a real client sends it at once; one that
        # dribbles it would otherwise hold its place until the head timeout).
        for waiting in (Connection.idle_state, Connection.reading_head):
            for other in self.connections:
                if other is not connection and waiting(other):
                    other.abort()
                    self.connections.pop(other, None)
                    return
        connection.abort()  # every other one is busy with a transfer: this one waits its turn

    def disconnected(self, connection: Connection) -> None:
        self.connections.pop(connection, None)

    # requests ---------------------------------------------------------------------------------
    def dispatch(self, connection: Connection, request: Request, rest: memoryview) -> None:
        try:
            self._route(connection, request, rest)
        except BadRequest as exc:
            connection.refuse(exc.status, exc.message, close=exc.close or request.has_body)
        except Exception as exc:  # a bug: one line in the log, and the client told plainly
            log.warning("internal error on %s %s: %s: %s", request.method, request.path,
                        type(exc).__name__, exc)  # fmt: skip
            connection.refuse(500, "internal error", close=True)

    def _route(self, connection: Connection, request: Request, rest: memoryview) -> None:
        parts = request.path_parts
        if parts[:2] != API.strip("/").split("/"):
            raise BadRequest(404, "not found: the speed test lives under /api/speed/")
        if self.stopping.is_set():
            raise BadRequest(503, self.STOPPING, close=True)
        route: tuple[str, ...] = tuple(parts[2:])
        method = request.method
        token = parts[3] if len(parts) > 3 else ""
        if route in ((), ("session",), ("download",), ("upload",)):
            allowed = {(): "GET", ("session",): "POST", ("download",): "GET", ("upload",): "POST"}
        elif len(route) == 2 and route[0] == "session":
            allowed = {route: "DELETE"}
        elif len(route) == 3 and route[0] == "session" and route[2] in ("uploads", "loss"):
            allowed = {route: "GET"}
        elif len(route) == 3 and route[0] == "session" and route[2] == "downstream":
            allowed = {route: "POST"}
        else:
            raise BadRequest(404, "no such endpoint")
        if method != allowed[route]:
            raise BadRequest(405, f"use {allowed[route]} here")
        if route == ("session",):
            connection.read_json(self._open_session, rest)
        elif route == ("upload",):
            self._upload(connection, request, rest)
        elif route[-1:] == ("downstream",):
            connection.read_json(self._downstream, rest)
        elif request.has_body:
            raise BadRequest(400, f"{method} {request.path} takes no body", close=True)
        elif route == ():
            connection.respond(reply(200, {"service": "homecheck", "version": __version__}))
        elif route == ("download",):
            self._download(connection, request)
        elif route[-1:] == ("uploads",):
            connection.respond(reply(200, {"uploads": self._uploads(self._session(token))}))
        elif route[-1:] == ("loss",):
            assert self.echo is not None
            connection.respond(reply(200, self.echo.loss.counts(self._session(token))))
        else:  # DELETE session/{token}
            closed = self.sessions.close(_token(token))
            if closed is None:
                connection.respond(error(404, "no such session"))
            elif closed.hub_session is None:
                connection.respond(reply(204))
            else:  # answered once the observations are stored: the client submits next
                self._record(closed).add_done_callback(
                    lambda done: (
                        connection.respond(reply(204))
                        if done.exception() is None
                        else connection.refuse(503, "the test's figures could not be stored; retry")
                    )
                )

    def _session(self, token_hex: str) -> Session:
        session = self.sessions.get_hex(token_hex)
        if session is None:
            raise BadRequest(404, "no such session")
        return session

    def _open_session(self, connection: Connection, body: bytes) -> None:
        fields = parse_json_object(body)
        seconds = _json_seconds(fields, self.limits.max_session_s)
        try:
            session = self.sessions.open(seconds, connection.client)
        except BusyClient as exc:
            raise BadRequest(429, str(exc)) from None
        except Busy as exc:
            raise BadRequest(503, str(exc)) from None
        request = connection.request
        authorization = request.headers.get("authorization") if request is not None else None
        if authorization is None:
            connection.respond(reply(201, self._session_answer(session)))
            return
        if self.hub is None:
            self.sessions.close(session.token)
            raise BadRequest(404, "this server takes no invites (it runs without --db)")
        hub = self.hub
        opening = asyncio.get_running_loop().run_in_executor(None, hub.open, authorization)

        def opened(done: asyncio.Future[str]) -> None:
            problem = done.exception()
            if problem is None:
                session.hub_session = done.result()
                connection.respond(reply(201, self._session_answer(session)))
                return
            self.sessions.close(session.token)
            if isinstance(problem, HomecheckError):
                connection.refuse(403, str(problem))
            else:
                log.warning("invite check failed: %s: %s", type(problem).__name__, problem)
                connection.refuse(503, "the invite could not be checked now; retry")

        opening.add_done_callback(opened)

    def _session_answer(self, session: Session) -> dict[str, Any]:
        return {
            "token": session.token.hex(),
            "udp_port": self.echo.port if self.echo is not None else None,
            "seconds": session.expires - session.created,
            "limits": self.limits.public(),
            "hub_session": session.hub_session,
        }

    def _ended(self, session: Session) -> None:
        if session.hub_session is not None:
            self._record(session)

    def _record(self, session: Session) -> asyncio.Future[None]:
        """Store what the server saw of this test (in the executor: the store is synchronous)."""
        assert self.hub is not None
        recording = asyncio.get_running_loop().run_in_executor(None, self.hub.record, session)
        self._recording.add(recording)

        def recorded(done: asyncio.Future[None]) -> None:
            self._recording.discard(done)
            if done.exception() is not None:
                log.warning("a test's observations were not stored: %s", done.exception())

        recording.add_done_callback(recorded)
        return recording

    def _downstream(self, connection: Connection, body: bytes) -> None:
        request = connection.request
        assert request is not None and self.echo is not None
        session = self._session(request.path_parts[3])
        fields = parse_json_object(body)
        answer = self.echo.loss.start_downstream(session, fields, self.limits, self.stopping)
        connection.respond(reply(202, answer))

    def _transfer(self, request: Request) -> tuple[Session, float]:
        token = request.query.get("token", [""])
        session = self.sessions.get_hex(token[0], traffic=True) if len(token) == 1 else None
        if session is None:
            raise BadRequest(403, "unknown or expired session; start a new test")
        seconds = query_number(request, "seconds", 0.1, self.limits.max_transfer_s, 10.0)
        if session.transfers >= self.limits.max_transfers_per_session:
            most = self.limits.max_transfers_per_session
            raise BadRequest(429, f"at most {most} streams per test")
        return session, seconds

    def _download(self, connection: Connection, request: Request) -> None:
        session, seconds = self._transfer(request)
        download = Download(connection, session, seconds, self.block)
        connection.state = State.DOWNLOAD
        connection.download = download
        download.start(request.keep_alive)

    def _upload(self, connection: Connection, request: Request, rest: memoryview) -> None:
        session, seconds = self._transfer(request)
        stream = query_whole(request, "stream", 0, MAX_STREAM_ID, 0)
        if request.content_length is None and not request.chunked:
            raise BadRequest(411, "an upload needs a Content-Length (or chunked encoding)")
        if (request.content_length or 0) > self.limits.max_request_bytes:
            raise BadRequest(413, f"at most {self.limits.max_request_bytes} bytes per upload")
        upload = Upload(connection, session, seconds, request, stream)
        connection.state = State.UPLOAD
        connection.upload = upload
        if request.expect_continue:
            connection.write(CONTINUE)
        upload.start(rest)

    @staticmethod
    def _uploads(session: Session) -> dict[str, Any]:
        return {
            str(stream): {"start": r.start, "samples": r.samples, "kernel": r.kernel}
            for stream, r in session.uploads.items()
        }


def _json_seconds(fields: dict[str, Any], high: float) -> float:
    return json_number(fields, "seconds", 1.0, high, default=min(60.0, high))


def _token(text: str) -> bytes:
    try:
        return bytes.fromhex(text) if len(text) == 32 else b""
    except ValueError:
        return b""
