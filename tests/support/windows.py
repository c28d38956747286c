"""Windows, made real on Linux at the boundary the code meets it, not by skipping:

- a wall clock that ticks every 15.625 ms, as time.time_ns() does on Windows before Python 3.13
  (cpython gh-88494);
- sockets without recvmsg, as Python's sockets are on Windows (so no kernel receive stamps);
- an event loop whose add_reader/remove_reader raise NotImplementedError, as asyncio's
  ProactorEventLoop (the default loop on Windows) does.

`python -m tests.support.windows ARGS` runs `homecheck ARGS` under all three (used to start a
real `homecheck serve` as it runs on Windows).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing import reduction
from typing import Any

TICK_NS = 15_625_000
_precise_time_ns = time.time_ns


def coarse_time_ns() -> int:
    """time.time_ns() as Windows' Python 3.11/3.12 gives it: in 15.625 ms steps."""
    now = _precise_time_ns()
    return now - now % TICK_NS


class SocketWithoutRecvmsg(socket.socket):
    """A socket as Python has it on Windows: no recvmsg (`hasattr(sock, "recvmsg")` is False)."""

    @property
    def recvmsg(self) -> Any:
        raise AttributeError("'socket' object has no attribute 'recvmsg'")


def _reduce_socket(sock: socket.socket) -> tuple[Any, tuple[Any, ...]]:
    """How multiprocessing hands a socket to the web plane's child, for this subclass too (its
    pickler looks reducers up by exact type): the descriptor, duplicated (POSIX)."""
    return _rebuild_socket, (reduction.DupFd(sock.fileno()), sock.family, sock.type, sock.proto)


def _rebuild_socket(dup: Any, family: int, kind: int, proto: int) -> socket.socket:
    return socket.socket(family, kind, proto, fileno=dup.detach())


reduction.register(SocketWithoutRecvmsg, _reduce_socket)


class ProactorLikeLoop(asyncio.SelectorEventLoop):
    """An event loop that cannot watch file descriptors, as asyncio's ProactorEventLoop."""

    def add_reader(self, fd: Any, callback: Callable[..., object], *args: Any) -> None:
        raise NotImplementedError

    def remove_reader(self, fd: Any) -> bool:
        raise NotImplementedError

    def add_writer(self, fd: Any, callback: Callable[..., object], *args: Any) -> None:
        raise NotImplementedError

    def remove_writer(self, fd: Any) -> bool:
        raise NotImplementedError


def as_on_windows() -> None:
    """Put this process's clock, sockets and the server's event loop in their Windows state."""
    from homecheck.server import serve

    time.time_ns = coarse_time_ns
    socket.socket = SocketWithoutRecvmsg  # type: ignore[misc]
    serve.loop_factory = ProactorLikeLoop


if __name__ == "__main__":
    as_on_windows()
    from homecheck.cli import main

    sys.exit(main(sys.argv[1:]))
