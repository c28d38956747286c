"""The web plane as a child process of `homecheck serve`, on a socket the parent made.

A slow page or a database query in the web plane must never delay an echo answer or a transfer's
pacing in the measurement plane: separate processes share no GIL and no event loop. The child is
started with multiprocessing's "spawn" (the same on Linux, macOS and Windows) and stopped through a
pipe, not by a signal (Windows delivers no SIGTERM to children); child.py says what it sends.

Restart policy: a WebPlane never restarts on its own. `problem()` says why the child died; the
parent logs it and may call `start()` again (the parent keeps the listening socket, so clients
wait in its backlog meanwhile and nothing else can take the port).

This module imports no web framework: the parent stays on the standard library.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from homecheck.server.web.options import WebOptions, WebPlaneError, check_options

# The modules the child needs from the `serve` extra.
REQUIRED_MODULES = ("hypercorn", "starlette")
INSTALL_HINT = "pip install 'homecheck[serve]'"
# Of stop()'s timeout, the share in-flight requests get to finish; the rest is for the exit.
GRACE_SHARE = 0.8
KILL_WAIT_S = 2.0


class WebPlane:
    def __init__(self, sock: socket.socket, options: WebOptions) -> None:
        """`sock`: a bound, listening TCP socket made by the parent; the parent keeps it."""
        self._sock = sock
        self._options = options
        self._process: BaseProcess | None = None
        self._pipe: Connection | None = None
        self._stopping = False
        self._reported: str | None = None
        self._exitcode: int | None = None

    def start(self) -> None:
        """Start the child and return once it answers a request on the socket; raise
        WebPlaneError (one line) if it cannot: bad certificate or key, or the child failed."""
        if self._process is not None and self._process.is_alive():
            raise WebPlaneError("the web plane is already running")
        self._close()
        check_options(self._options)
        for module in REQUIRED_MODULES:
            if importlib.util.find_spec(module) is None:
                raise WebPlaneError(
                    f"the web plane needs the server extra ({module} is missing): {INSTALL_HINT}"
                )
        context = multiprocessing.get_context("spawn")
        pipe, child_end = context.Pipe(duplex=True)
        process = context.Process(
            target=_child_main,
            args=(self._sock, self._options, child_end),
            name="homecheck-web",
        )
        with _stop_signals_ignored():
            # Ignored dispositions are inherited through exec: a Ctrl-C while the child imports
            # cannot raise KeyboardInterrupt there. The child then ignores them itself.
            process.start()
        child_end.close()
        self._process, self._pipe = process, pipe
        self._stopping, self._reported = False, None
        atexit.register(self.stop)
        problem = self._wait_ready(process, pipe)
        if problem is not None:
            self.stop(timeout_s=KILL_WAIT_S)
            raise WebPlaneError(problem)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Graceful: the child stops accepting, in-flight requests get most of `timeout_s` to
        finish, then it exits; killed if it is still there after `timeout_s`."""
        atexit.unregister(self.stop)
        process, pipe = self._process, self._pipe
        if process is None or pipe is None:
            return
        self._stopping = True
        if process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                pipe.send(("stop", max(0.0, timeout_s * GRACE_SHARE)))
            process.join(timeout_s)
            if process.is_alive():
                process.kill()
                process.join(KILL_WAIT_S)
        self._drain()
        self._close()

    def problem(self) -> str | None:
        """None while the child is healthy (or was stopped on purpose); else why it died."""
        process = self._process
        if process is None or self._stopping or process.is_alive():
            return None
        self._drain()
        code = process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        detail = f": {self._reported}" if self._reported else ""
        return f"the web plane stopped unexpectedly ({how}){detail}"

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        return self._process.pid if self._process is not None else None

    @property
    def exitcode(self) -> int | None:
        """How the last child ended (0: a clean stop), None while one runs."""
        if self._process is not None:
            return self._process.exitcode
        return self._exitcode

    def _wait_ready(self, process: BaseProcess, pipe: Connection) -> str | None:
        deadline = time.monotonic() + self._options.start_timeout_s
        while time.monotonic() < deadline:
            if pipe.poll(0.05):
                try:
                    kind, detail = pipe.recv()
                except (EOFError, OSError):
                    break  # the child is gone; its exit code says more below
                if kind == "ready":
                    return None
                if kind == "error":
                    return f"the web plane did not start: {detail}"
            elif not process.is_alive():
                break
        if process.is_alive():
            return (
                f"the web plane did not answer within {self._options.start_timeout_s:.0f} s "
                "of starting"
            )
        process.join(KILL_WAIT_S)
        self._drain()
        detail = f": {self._reported}" if self._reported else f" (exit code {process.exitcode})"
        return f"the web plane did not start{detail}"

    def _drain(self) -> None:
        """Read what the child said last (an error line) without waiting."""
        pipe = self._pipe
        if pipe is None:
            return
        with contextlib.suppress(EOFError, OSError, ValueError):
            while pipe.poll(0):
                kind, detail = pipe.recv()
                if kind == "error":
                    self._reported = detail

    def _close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
        self._pipe = None
        if self._process is not None and not self._process.is_alive():
            self._exitcode = self._process.exitcode
            self._process.close()
            self._process = None


def _child_main(sock: socket.socket, options: WebOptions, pipe: Connection) -> None:
    # Imported here, in the child: the parent never loads Hypercorn or Starlette.
    from homecheck.server.web.child import run_child

    run_child(sock, options, pipe)


@contextlib.contextmanager
def _stop_signals_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may change handlers; the child ignores them itself
        return
    names = ("SIGINT", "SIGTERM")
    previous = {
        name: signal.signal(getattr(signal, name), signal.SIG_IGN)
        for name in names
        if hasattr(signal, name)
    }
    try:
        yield
    finally:
        for name, handler in previous.items():
            if handler is not None:
                signal.signal(getattr(signal, name), handler)
