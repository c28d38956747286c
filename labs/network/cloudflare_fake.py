"""A local stand-in for speed.cloudflare.com that speaks its real protocol, for tests and bench/.

The endpoints Cloudflare's own client uses (@cloudflare/speedtest, MIT,
https://github.com/cloudflare/speedtest: src/config/defaultConfig.ts, BandwidthEngine.ts):

- `GET /__down?bytes=N`: N bytes of payload (application/octet-stream); `bytes=0` is the latency
  request. A missing or bad `bytes` is a 400.
- `POST /__up`: reads the body, answers 200 with an empty body.
- Both carry `Server-Timing: cfRequestDuration;dur=MS`, the time the server spent, which the
  client subtracts from the time to first byte to get the network's round trip.
- `GET /cdn-cgi/trace`: `key=value` lines; `colo` is the data centre that answered (an airport
  code), `ip` the client's address (a documentation address here).
- `GET /meta`: the same facts as JSON (`colo`, `city`, `country`, `clientIp`, `asOrganization`).

HTTPS only, with a certificate for speed.cloudflare.com from a throw-away test CA (`--tls-dir`;
the client trusts it through `SSL_CERT_FILE`); tests reach it by its real name through the lab's
DNS server (labs/network/dns_server.py `--name speed.cloudflare.com=ADDRESS`).

Modes reproduce how a public service fails: `403` (Cloudflare's "access denied" page on every
request), `429` (rate limited, Retry-After), `captive` (every request answered 200 with a hotel
Wi-Fi login page, as a captive portal does), `stall` (set-up and latency requests answer; a
download sends STALL_AFTER_BYTES and an upload reads as much, then the server goes quiet with the
connection open), `slow` (accepts connections, never answers).

    python labs/network/cloudflare_fake.py --host 10.77.5.3 --port 443 [--mode ok] [--tls-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from labs.network.speedtest_fake import CAPTIVE_PAGE, make_tls_files

CLOUDFLARE_NAMES = ("speed.cloudflare.com",)
CHUNK = 64 * 1024
PAYLOAD = os.urandom(1 << 20)  # incompressible
MAX_DOWN_BYTES = 10**9  # this stand-in's limit for one request
STALL_AFTER_BYTES = 256 * 1024
COLO = "AMS"

# Cloudflare's block page (error 1020) in short: HTML with status 403.
ACCESS_DENIED = b"""<!DOCTYPE html>
<html><head><title>Access denied | speed.cloudflare.com used Cloudflare to restrict access</title>
</head><body><h1>Error 1020</h1><p>Access denied</p></body></html>
"""


class Mode(StrEnum):
    OK = "ok"
    FORBIDDEN = "403"
    TOO_MANY = "429"
    CAPTIVE = "captive"
    STALL = "stall"
    SLOW = "slow"


def trace_text() -> bytes:
    """/cdn-cgi/trace as Cloudflare serves it (the client address is a documentation one)."""
    lines = {
        "fl": "29f1",
        "h": "speed.cloudflare.com",
        "ip": "192.0.2.10",
        "ts": f"{time.time():.3f}",
        "visit_scheme": "https",
        "uag": "homecheck",
        "colo": COLO,
        "sliver": "none",
        "http": "http/1.1",
        "loc": "NL",
        "tls": "TLSv1.3",
        "sni": "plaintext",
        "warp": "off",
        "gateway": "off",
        "rbi": "off",
        "kex": "X25519",
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items()).encode()


def meta_json() -> bytes:
    return json.dumps(
        {
            "hostname": "speed.cloudflare.com",
            "clientIp": "192.0.2.10",
            "httpProtocol": "HTTP/1.1",
            "asn": 64496,
            "asOrganization": "Example ISP",
            "colo": COLO,
            "country": "NL",
            "city": "Amsterdam",
        }
    ).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, fake: FakeCloudflare, address: tuple[str, int]) -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def finish_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        # The TLS handshake in the request's own thread, so a stuck client holds only that one.
        try:
            request = self.fake.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):  # a client that does not trust the test CA, a scanner
            return
        super().finish_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._answer(0)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        self._answer(length)

    def _answer(self, body_length: int) -> None:
        fake = self.server.fake
        started = time.perf_counter()
        parts = urlsplit(self.path)
        fake.seen.append(f"{self.command} {parts.path}")
        if fake.mode is Mode.SLOW:
            fake.stopping.wait(fake.slow_s)
            self.close_connection = True
            return
        if fake.mode is Mode.FORBIDDEN:
            self._send(403, ACCESS_DENIED, "text/html", started)
            return
        if fake.mode is Mode.TOO_MANY:
            self._send(429, b"rate limited", "text/plain", started, {"Retry-After": "60"})
            return
        if fake.mode is Mode.CAPTIVE:
            self._read_body(body_length)
            self._send(200, CAPTIVE_PAGE, "text/html", started)
            return
        if parts.path == "/__down" and self.command == "GET":
            self._down(parse_qs(parts.query).get("bytes", [""])[0], started)
        elif parts.path == "/__up" and self.command == "POST":
            self._up(body_length, started)
        elif parts.path == "/cdn-cgi/trace" and self.command == "GET":
            self._send(200, trace_text(), "text/plain", started)
        elif parts.path == "/meta" and self.command == "GET":
            self._send(200, meta_json(), "application/json", started)
        else:
            self._send(404, b"not found", "text/plain", started)

    def _timing(self, started: float) -> str:
        return f"cfRequestDuration;dur={(time.perf_counter() - started) * 1000:.3f}"

    def _send(
        self,
        code: int,
        body: bytes,
        kind: str,
        started: float,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Server-Timing", self._timing(started))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    def _read_body(self, length: int) -> int:
        received = 0
        fake = self.server.fake
        with contextlib.suppress(OSError):
            while received < length and not fake.stopping.is_set():
                piece = self.rfile.read(min(CHUNK, length - received))
                if not piece:
                    break
                received += len(piece)
        return received

    def _down(self, text: str, started: float) -> None:
        fake = self.server.fake
        if not text.isdigit() or int(text) > MAX_DOWN_BYTES:
            self._send(400, b"bytes: a whole number up to 1e9", "text/plain", started)
            return
        length = int(text)
        stall = fake.mode is Mode.STALL and length > 0
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Server-Timing", self._timing(started))
        self.end_headers()
        sent = 0
        limit = min(length, STALL_AFTER_BYTES) if stall else length
        try:
            while sent < limit and not fake.stopping.is_set():
                piece = PAYLOAD[: min(CHUNK, limit - sent)]
                self.wfile.write(piece)
                sent += len(piece)
        except OSError:  # the client stops reading at the end of its test: expected
            self.close_connection = True
        fake.add_sent(sent)
        if stall:
            fake.stopping.wait(fake.slow_s)
            self.close_connection = True

    def _up(self, length: int, started: float) -> None:
        fake = self.server.fake
        if length < 0:
            self._send(400, b"Content-Length: a whole number", "text/plain", started)
            return
        if fake.mode is Mode.STALL and length > 0:
            self._read_body(min(length, STALL_AFTER_BYTES))
            fake.stopping.wait(fake.slow_s)
            self.close_connection = True
            return
        received = self._read_body(length)
        fake.add_received(received)
        if received < length:  # the client gave up mid-body (its test time ran out)
            self.close_connection = True
            return
        self._send(200, b"", "text/plain", started)


class FakeCloudflare:
    """Start with `with FakeCloudflare(...) as fake:`; trust `fake.ca_file`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        mode: Mode = Mode.OK,
        tls_dir: Path | None = None,
        slow_s: float = 60.0,
    ) -> None:
        self.mode = mode
        self.slow_s = slow_s
        self.stopping = threading.Event()
        self.seen: list[str] = []
        self.bytes_sent = 0
        self.bytes_received = 0
        self._lock = threading.Lock()
        self._own_tls_dir = tls_dir is None
        self.tls_dir = Path(tempfile.mkdtemp(prefix="hcnp-cf-tls-")) if tls_dir is None else tls_dir
        if (self.tls_dir / "leaf.pem").exists():
            ca, cert, key = (self.tls_dir / n for n in ("ca.pem", "leaf.pem", "leaf.key"))
        else:
            ca, cert, key = make_tls_files(self.tls_dir, CLOUDFLARE_NAMES)
        self.ca_file = ca
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        self._server = _Server(self, (host, port))
        self.host, self.port = self._server.server_address[:2]  # type: ignore[misc]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def add_sent(self, count: int) -> None:
        with self._lock:
            self.bytes_sent += count

    def add_received(self, count: int) -> None:
        with self._lock:
            self.bytes_received += count

    def start(self) -> FakeCloudflare:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._own_tls_dir:
            shutil.rmtree(self.tls_dir, ignore_errors=True)

    def __enter__(self) -> FakeCloudflare:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--mode", default=Mode.OK.value, choices=[m.value for m in Mode])
    parser.add_argument("--tls-dir", type=Path, help="reuse/create the test CA here")
    args = parser.parse_args()
    if args.tls_dir:
        args.tls_dir.mkdir(parents=True, exist_ok=True)
    fake = FakeCloudflare(args.host, args.port, Mode(args.mode), tls_dir=args.tls_dir)
    print(f"listening {fake.host}:{fake.port} ca={fake.ca_file}", flush=True)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stopping.set()
        fake._server.server_close()


if __name__ == "__main__":
    main()
