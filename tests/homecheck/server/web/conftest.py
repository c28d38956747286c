"""A real WebPlane child on 127.0.0.1, started as `homecheck serve` will start it: the parent
binds and listens, the child serves; stopped (and its socket closed) after the test."""

from __future__ import annotations

import dataclasses
import http.client
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from homecheck.server.web import WebOptions, WebPlane


@dataclass
class Running:
    plane: WebPlane
    sock: socket.socket
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log.exists() else ""

    def get(self, path: str = "/", timeout: float = 5.0) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


@pytest.fixture
def web_plane(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """`web_plane(idle_timeout_s=2, ...)`: a started WebPlane with these WebOptions, its log in
    the test's tmp dir."""
    started: list[Running] = []

    def start(**fields: object) -> Running:
        log = tmp_path / f"web{len(started)}.log"
        options = dataclasses.replace(WebOptions(log_path=str(log)), **fields)  # type: ignore[arg-type]
        sock = listening_socket()
        plane = WebPlane(sock, options)
        running = Running(plane, sock, sock.getsockname()[1], log)
        started.append(running)
        plane.start()
        return running

    yield start
    for running in started:
        running.plane.stop()
        running.sock.close()
