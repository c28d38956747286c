"""The web plane's process: Hypercorn serving the web app on the socket the parent made.

Runs in a child started by process.py (multiprocessing "spawn"). It talks to the parent over one
pipe: ("ready", None) once it answered its own GET /healthz, ("error", line) if it cannot start
or fails, ("stopped", None) after a graceful stop. The parent asks it to stop by sending
("stop", grace_s); the pipe closing (the parent died) stops it too. It ignores SIGINT and SIGTERM:
the parent owns Ctrl-C and the service manager's stop, and stops it through the pipe, which also
works on Windows (no SIGTERM delivery to children there).

Why Hypercorn (issue 12): its keep-alive timer runs from the moment a connection is accepted until
a complete request head arrives, for the first request as for later ones (tcp_server.py
`idle_task`, restarted only on `Updated(idle=True)` after a response), so a silent socket or a
client trickling its headers one byte a second is closed after `idle_timeout_s`; uvicorn 0.55 arms
its keep-alive timer only after a first response, so such sockets stay open for ever. Hypercorn
has no connection cap that idle sockets could fill, a documented head bound
(`h11_max_incomplete_size`), a TLS handshake timeout, and takes an inherited socket by its
documented `fd://` bind. All settings below are documented `hypercorn.config.Config` fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

from homecheck.errors import HomecheckError
from homecheck.server.web.options import WebOptions, check_options

LOG = logging.getLogger("homecheck.web")
# Open sockets the child may hold: silent ones cost a file descriptor each until the idle timeout.
WANTED_FILE_DESCRIPTORS = 65536
READY_PROBE_TIMEOUT_S = 2.0
HEALTH_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def run_child(sock: socket.socket, options: WebOptions, pipe: Connection) -> None:
    """The child's main function (the target of the spawned process)."""
    _ignore_stop_signals()
    _yield_to_the_speed_test()
    _log_to(options)
    try:
        check_options(options)
        _raise_file_limit()
        app = _load_app(options)
        asyncio.run(_serve(app, sock, options, pipe))
    except Exception as exc:
        line = _one_line(exc)
        LOG.error("web plane: %s", line)
        _send(pipe, ("error", line))
        sys.exit(1)
    _send(pipe, ("stopped", None))


# The parent's speed test times packets and counts bytes: on a busy server (200 reports being
# ingested while 8 tests run, bench/hub_load.py) it must get the CPU first; pages and ingest only
# answer a little later.
WEB_NICENESS = 10


def _yield_to_the_speed_test() -> None:
    if hasattr(os, "nice"):  # not on Windows
        with contextlib.suppress(OSError):
            os.nice(WEB_NICENESS)


async def _serve(app: Any, sock: socket.socket, options: WebOptions, pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_loop_exception)
    address = sock.getsockname()
    config = Config()
    # Hypercorn takes over the inherited socket (its own socket object on the same descriptor).
    config.bind = [f"fd://{sock.detach()}"]
    config.backlog = 1024
    config.keep_alive_timeout = options.idle_timeout_s
    config.ssl_handshake_timeout = options.idle_timeout_s
    config.h11_max_incomplete_size = options.max_head_bytes
    config.h2_max_header_list_size = options.max_head_bytes
    # No read_timeout: it would also cut a response that takes longer than it to compute.
    # A stalled body is BodyLimit's 408; a silent connection is the keep-alive timeout.
    config.include_server_header = False
    config.accesslog = None
    config.errorlog = LOG
    if options.tls_cert is not None and options.tls_key is not None:
        config.certfile = options.tls_cert
        config.keyfile = options.tls_key
        # Pages and a JSON API need no HTTP/2; offering only HTTP/1.1 keeps one protocol to bound.
        config.alpn_protocols = ["http/1.1"]
    stop = asyncio.Event()
    grace = _Grace()
    threading.Thread(
        target=_wait_for_stop, args=(pipe, loop, stop, grace), name="stop-pipe", daemon=True
    ).start()

    async def shutdown_trigger() -> None:
        await stop.wait()
        # Read by Hypercorn after the trigger returns: how long in-flight requests may finish.
        config.graceful_timeout = grace.seconds

    server = asyncio.create_task(serve(app, config, shutdown_trigger=shutdown_trigger))
    probe = asyncio.create_task(_answers(address, options.tls))
    await asyncio.wait({server, probe}, return_when=asyncio.FIRST_COMPLETED)
    if server.done():
        probe.cancel()
        server.result()  # its exception, if it failed to start
        return
    problem = probe.result()
    if problem is not None:
        stop.set()
        await server
        raise _NotAnswering(f"the web plane does not answer on its own port: {problem}")
    _send(pipe, ("ready", None))
    await server


class _NotAnswering(Exception):
    pass


class _Grace:
    seconds = 3.0


def _wait_for_stop(
    pipe: Connection, loop: asyncio.AbstractEventLoop, stop: asyncio.Event, grace: _Grace
) -> None:
    try:
        while True:
            message = pipe.recv()
            if isinstance(message, tuple) and message and message[0] == "stop":
                grace.seconds = float(message[1])
                break
    except (EOFError, OSError):
        pass  # the parent is gone: stop too, rather than hold its port
    loop.call_soon_threadsafe(stop.set)


async def _answers(address: tuple[Any, ...], tls: bool) -> str | None:
    """None once GET /healthz answers 200 on the served socket, else the last problem seen."""
    host = str(address[0])
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    context: ssl.SSLContext | None = None
    if tls:
        # Our own certificate need not name 127.0.0.1: this checks the server runs, not its name.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    problem = "no answer"
    while loop.time() < deadline:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, address[1], ssl=context), READY_PROBE_TIMEOUT_S
            )
            try:
                writer.write(HEALTH_REQUEST)
                line = await asyncio.wait_for(reader.readline(), READY_PROBE_TIMEOUT_S)
            finally:
                writer.close()
            if line.split(b" ")[1:2] == [b"200"]:
                return None
            problem = f"GET /healthz answered {line.decode('latin-1').strip()!r}"
        except (OSError, TimeoutError) as exc:
            problem = _one_line(exc)
        await asyncio.sleep(0.05)
    return problem


def _load_app(options: WebOptions) -> Any:
    module_name, _, function_name = options.app_factory.partition(":")
    factory: Callable[[WebOptions], Any] = getattr(
        importlib.import_module(module_name), function_name
    )
    return factory(options)


def _ignore_stop_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _raise_file_limit() -> None:
    """Let silent sockets cost a descriptor each until they time out, not stop the accept loop
    (EMFILE)."""
    try:
        import resource
    except ImportError:  # Windows: no descriptor limit of this kind
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = WANTED_FILE_DESCRIPTORS if hard == resource.RLIM_INFINITY else hard
    wanted = min(wanted, WANTED_FILE_DESCRIPTORS)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _log_to(options: WebOptions) -> None:
    handler: logging.Handler
    if options.log_path is not None:
        handler = logging.FileHandler(options.log_path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(options.log_level)


def _loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """asyncio's unhandled errors (a TLS handshake a client broke off, a reset): one line."""
    exc = context.get("exception")
    if isinstance(exc, ssl.SSLError | ConnectionError):
        return  # a client's broken handshake or reset is not the server's error
    LOG.warning("web plane: %s%s", context.get("message", "event loop error"), _suffix(exc))


def _suffix(exc: object) -> str:
    return f": {_one_line(exc)}" if isinstance(exc, BaseException) else ""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, HomecheckError | _NotAnswering) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _send(pipe: Connection, message: tuple[str, str | None]) -> None:
    with contextlib.suppress(OSError, ValueError):  # the parent is gone
        pipe.send(message)
