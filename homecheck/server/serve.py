"""Run `homecheck serve`: bind its sockets, then run the measurement plane in this process's event
loop (and, beside it, the web plane in a process of its own).

The two planes: the measurement plane (homecheck/server/measure/: /api/speed, the UDP echo and
the loss probe, on `--port`, and with TLS on `--tls-port`) is the main process, on the standard
library alone, so nothing else shares its event loop, its GIL or its connection budget: a slow
page never delays an echo answer or a transfer's pacing. The web plane (homecheck/server/web/: the
front page, later invites, submissions and the dashboard) runs in a child process on `--web-port`,
on a socket bound here like the others; it is stopped (through a pipe, so Windows too) once the
measurement plane has stopped.

Every socket is bound, and the TLS certificate loaded, before anything runs, so a port in use or
a bad certificate is one clear line (ServeError) and the ready message only appears once clients
can connect. Ctrl-C (SIGINT) and SIGTERM stop the server cleanly (plane.py: running tests end
with "server stopping"); the process then exits 0.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import FrameType
from typing import TYPE_CHECKING, Any

from homecheck.errors import HomecheckError
from homecheck.server.measure.plane import MeasurementPlane
from homecheck.server.sessions import Limits
from homecheck.server.web.options import WebOptions

if TYPE_CHECKING:
    from homecheck.server.measure.hub_link import HubLink

# The event loop the plane runs in (tests/support/windows.py swaps in a loop without add_reader,
# as Windows' ProactorEventLoop).
loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
FD_MARGIN = 64  # descriptors besides connections: listeners, UDP, log files, the web plane


class ServeError(HomecheckError):
    """The server cannot start; the message says why in one line."""


@dataclass(frozen=True)
class Tls:
    """The measurement plane also listens with TLS on `port`."""

    port: int
    cert: str
    key: str


@dataclass(frozen=True)
class Web:
    """The web plane listens on `port` (0: any free port) in a process of its own."""

    port: int
    options: WebOptions


def serve(
    host: str,
    port: int,
    limits: Limits,
    on_ready: Callable[[str, int, str | None, str], None] | None = None,
    tls: Tls | None = None,
    web: Web | None = None,
    hub: HubLink | None = None,
) -> None:
    """Serve until stopped. `on_ready(url, udp_port, tls_url, web_url)` once clients can
    connect."""
    from homecheck.server.web import WebPlane  # after the checks: it spawns, on Windows too

    web = web or Web(0, WebOptions())
    family = _family(host)
    context = _tls_context(tls) if tls is not None else None
    bound: list[socket.socket] = []
    try:
        tcp = _bind(family, socket.SOCK_STREAM, host, port, "--port")
        bound.append(tcp)
        bound_port = int(tcp.getsockname()[1])
        udp = _bind(family, socket.SOCK_DGRAM, host, bound_port, "--port")
        bound.append(udp)
        listeners: list[tuple[socket.socket, ssl.SSLContext | None]] = [(tcp, None)]
        if tls is not None:
            tls_sock = _bind(family, socket.SOCK_STREAM, host, tls.port, "--tls-port")
            bound.append(tls_sock)
            listeners.append((tls_sock, context))
        web_sock = _bind(family, socket.SOCK_STREAM, host, web.port, "--web-port")
        bound.append(web_sock)
        for sock in [*(s for s, _ in listeners), web_sock]:
            sock.listen(1024)
        _room_for(limits.max_connections)
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        plane = MeasurementPlane(limits, udp, hub)

        url = f"http://{shown}:{bound_port}"
        tls_url = None
        if tls is not None:
            tls_url = f"https://{shown}:{listeners[1][0].getsockname()[1]}"
        scheme = "https" if web.options.tls else "http"
        web_url = f"{scheme}://{shown}:{web_sock.getsockname()[1]}"
        options = replace(web.options, speed_test_url=web.options.speed_test_url or tls_url or url)
        web_plane = WebPlane(web_sock, options)
        web_plane.start()

        def ready() -> None:
            if on_ready is not None:
                on_ready(url, bound_port, tls_url, web_url)

        try:
            problem = _run(plane, listeners, ready)
        finally:
            web_plane.stop()
        problem = problem or web_plane.problem()
    finally:
        for sock in bound:
            sock.close()
    if problem is not None:
        raise ServeError(problem)


def _run(
    plane: MeasurementPlane,
    listeners: list[tuple[socket.socket, ssl.SSLContext | None]],
    ready: Callable[[], None],
) -> str | None:
    """The plane's event loop, until Ctrl-C or SIGTERM asks it to stop (cleanly)."""
    loop = loop_factory() if loop_factory is not None else asyncio.new_event_loop()
    loop.set_exception_handler(_one_line)

    def stop(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(plane.request_stop)

    kinds = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {kind: signal.signal(kind, stop) for kind in kinds}
    try:
        return loop.run_until_complete(plane.run(listeners, ready))
    finally:
        for kind, handler in previous.items():
            signal.signal(kind, handler)
        loop.close()


def _one_line(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """What asyncio reports (a client's broken connection, mostly): one line, no traceback."""
    exc = context.get("exception")
    detail = f"{type(exc).__name__}: {exc}" if exc is not None else ""
    logging.getLogger("homecheck.serve").warning("%s %s", context.get("message", ""), detail)


def _tls_context(tls: Tls) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert, tls.key)
    except FileNotFoundError as exc:
        which = "--tls-key" if exc.filename == tls.key else "--tls-cert"
        raise ServeError(f"{which}: no such file: {exc.filename or tls.cert}") from None
    except (ssl.SSLError, OSError) as exc:
        raise ServeError(
            "--tls-cert/--tls-key: not a PEM certificate and its matching private key "
            f"({getattr(exc, 'reason', None) or exc.strerror or type(exc).__name__})"
        ) from None
    return context


def _room_for(connections: int) -> None:
    """Raise the open-file limit so `connections` fit (the soft limit is often 1024)."""
    try:
        import resource
    except ImportError:  # Windows: no such per-process limit on sockets
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + FD_MARGIN
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < wanted:
            raise ServeError(
                f"--max-connections {connections} needs {wanted} open files, but this system "
                f"allows {hard}; use --max-connections {max(1, hard - FD_MARGIN)} or less"
            )


def _family(host: str) -> socket.AddressFamily:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServeError(
            f"--host {host}: not an address of this machine ({exc.strerror})"
        ) from None
    return infos[0][0]


def _bind(
    family: socket.AddressFamily, kind: socket.SocketKind, host: str, port: int, option: str
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
                f"running?); stop it or choose another port with {option}"
            ) from None
        if exc.errno == errno.EACCES:
            raise ServeError(
                f"not allowed to listen on {what} port {port}; use a port above 1023 "
                "(or give this program the right to use low ports)"
            ) from None
        raise ServeError(f"cannot listen on {host} {what} port {port}: {exc.strerror}") from None
    return sock
