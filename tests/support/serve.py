"""A real `homecheck serve` on 127.0.0.1, started as a user would (the CLI), and plain HTTP and
UDP calls to it."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen[str]
    tls_url: str | None = None  # with --tls-port: the https address
    web_url: str | None = None  # the web plane's address


def start_serve(
    *extra: str, module: str = "homecheck", env: dict[str, str] | None = None
) -> Served:
    """`homecheck serve` on 127.0.0.1 and a free port, started as a user would (the CLI);
    `module="tests.support.windows"` starts it as it runs on Windows."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "serve", "--port", "0", "--web-port", "0", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=None if env is None else {**os.environ, **env},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:(\d+))", line)
    if not match:
        proc.kill()
        raise AssertionError(
            f"serve did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    tls = re.search(r" and (https://127\.0\.0\.1:\d+)", line)
    web = re.search(r"web plane on (https?://127\.0\.0\.1:\d+)", line)
    return Served(
        match.group(1),
        int(match.group(2)),
        proc,
        tls.group(1) if tls else None,
        web.group(1) if web else None,
    )


def stop_serve(served: Served) -> None:
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGINT)
        try:
            served.process.wait(5)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait(5)


def call(
    port: int, method: str, path: str, body: bytes | None = None, timeout: float = 10
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def open_session(port: int) -> tuple[int, dict[str, object]]:
    status, body = call(port, "POST", "/api/speed/session", b'{"seconds": 30}')
    return status, json.loads(body)


def echo_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(0.5)
    return sock
