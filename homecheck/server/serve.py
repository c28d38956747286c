"""Run the speed-test app and its UDP echo in one process: uvicorn, one event loop.

Both sockets are bound here before uvicorn starts, so a port already in use is reported as one
clear line (ServeError) instead of a server log, and the ready message only appears once clients
can connect. Ctrl-C (SIGINT) or SIGTERM stop the server gracefully: open transfers get
`SHUTDOWN_GRACE_S` to finish, then the sockets are closed.
"""

from __future__ import annotations

import errno
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType

import uvicorn

from homecheck.errors import HomecheckError
from homecheck.server.app import create_app
from homecheck.server.connections import ConnectionSockets
from homecheck.server.sessions import Limits

SHUTDOWN_GRACE_S = 2


class ServeError(HomecheckError):
    """The server cannot start; the message says why in one line."""


def serve(
    host: str,
    port: int,
    limits: Limits,
    on_ready: Callable[[str, int], None] | None = None,
) -> None:
    """Serve until stopped. `on_ready(url, udp_port)` is called once clients can connect."""
    family = _family(host)
    tcp = _bind(family, socket.SOCK_STREAM, host, port)
    bound_port = int(tcp.getsockname()[1])
    try:
        udp = _bind(family, socket.SOCK_DGRAM, host, bound_port)
    except ServeError:
        tcp.close()
        raise
    tcp.listen(1024)
    connections = ConnectionSockets()
    app = create_app(limits, udp, connections)
    # Connections beyond what the limits allow get 503 from uvicorn itself.
    concurrency = limits.max_sessions * (limits.max_transfers_per_session + 2)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=max(1, int(limits.idle_timeout_s)),
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        limit_concurrency=concurrency,
        lifespan="on",
        http=connections.protocol(),
    )
    shown = f"[{host}]" if family == socket.AF_INET6 else host

    def ready() -> str | None:
        problem: str | None = app.state.startup_problem
        if problem is None and on_ready is not None:
            on_ready(f"http://{shown}:{bound_port}", bound_port)
        return problem

    server = _Server(config, app.state.stopping.set, ready)
    # uvicorn re-raises the signal that stopped it once it has shut down; make SIGTERM end the
    # process like Ctrl-C does (cleanly, exit 0) instead of killing it by the default action.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        server.run(sockets=[tcp])
    finally:
        signal.signal(signal.SIGTERM, previous)
        udp.close()
        tcp.close()
    if app.state.startup_problem is not None:
        raise ServeError(app.state.startup_problem)


class _Server(uvicorn.Server):
    """uvicorn's server, telling the app first when it starts shutting down, and saying it is
    ready only once the app started (its UDP echo too: `ready` returns a problem otherwise)."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_stopping: Callable[[], None],
        ready: Callable[[], str | None],
    ) -> None:
        super().__init__(config)
        self._on_stopping = on_stopping
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self._ready() is not None:
            self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_stopping()
        await super().shutdown(sockets=sockets)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _family(host: str) -> socket.AddressFamily:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServeError(
            f"--host {host}: not an address of this machine ({exc.strerror})"
        ) from None
    return infos[0][0]


def _bind(
    family: socket.AddressFamily, kind: socket.SocketKind, host: str, port: int
) -> socket.socket:
    sock = socket.socket(family, kind)
    what = "TCP" if kind == socket.SOCK_STREAM else "UDP"
    try:
        if kind == socket.SOCK_STREAM and sys.platform != "win32":
            # Allow a restart while old connections sit in TIME_WAIT; not a second listener.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"{what} port {port} on {host} is already in use (is another homecheck serve "
                "running?); stop it or choose another port with --port"
            ) from None
        if exc.errno == errno.EACCES:
            raise ServeError(
                f"not allowed to listen on {what} port {port}; use a port above 1023"
            ) from None
        raise ServeError(f"cannot listen on {host} {what} port {port}: {exc.strerror}") from None
    return sock
