"""A local stand-in for speedtest.net that speaks its real protocol, for tests and bench/.

The public internet cannot be reached from tests, so this server plays both roles speedtest-cli
talks to, on one port:

- www.speedtest.net / c.speedtest.net, reached through the HTTP proxy speedtest-cli's urllib opener
  honours (`http_proxy` / `https_proxy`): `speedtest-config.php` and the server lists
  (`speedtest-servers-static.php`, `speedtest-servers.php`). With `secure=True` (the default of
  homecheck, because speedtest.net answers plain HTTP with 403 since 2022) the client sends
  `CONNECT www.speedtest.net:443` and this server answers TLS with a certificate from a throw-away
  test CA (`env()` points `SSL_CERT_FILE` at it);
- the test server itself, listed in the server list as `http://HOST:PORT/speedtest/upload.php`,
  which speedtest-cli contacts directly (its latency requests bypass the proxy): `latency.txt`,
  `random{N}x{N}.jpg` (about 2 bytes per pixel, like the real files: random350x350.jpg is
  245,388 bytes) and `upload.php` (reads the body, answers `size=BYTES`).

Modes reproduce how speedtest.net fails in the wild: 403, 429, garbage, an HTML captive-portal
page, well-formed XML of the wrong shape, an unparsable server list, an empty one, silence, and a
server that stops answering in the middle of the transfers (`stall`).

Reached by the real names instead of a proxy (`--https-port 443 --http-port 80 --listed-host
NAME`, with the lab's DNS server resolving www.speedtest.net, c.speedtest.net and NAME here):
HTTPS for www.speedtest.net on 443, plain HTTP for c.speedtest.net on 80, and the test server
listed as `http://NAME:PORT/speedtest/upload.php`, as speedtest.net lists its servers.

Run standalone (e.g. inside a network namespace):
    python labs/network/speedtest_fake.py --host 10.0.0.2 --port 8080 [--mode ok] [--tls-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CHUNK = 64 * 1024
PAYLOAD = os.urandom(1 << 20)  # incompressible, like JPEG data
SPEEDTEST_NAMES = ("www.speedtest.net", "c.speedtest.net")


class Mode(StrEnum):
    OK = "ok"
    FORBIDDEN = "403"  # every request: 403, as speedtest.net answers plain HTTP since 2022
    TOO_MANY = "429"  # every request: 429 with Retry-After
    GARBAGE = "garbage"  # configuration is bytes that are not XML
    CAPTIVE = "captive"  # configuration is an HTML login page with status 200 (hotel Wi-Fi)
    WRONG_XML = "wrong-xml"  # configuration is well-formed XML without the expected elements
    GARBAGE_SERVERS = "garbage-servers"  # good configuration, unparsable server list
    NO_SERVERS = "no-servers"  # good configuration, a server list with no server
    SLOW = "slow"  # accepts connections but never answers
    STALL = "stall"  # set-up answers; downloads and uploads stop mid-way (a service going quiet)


# In Mode.STALL: what a transfer moves before the server goes quiet (keeping the connection).
STALL_AFTER_BYTES = 256 * 1024


def config_xml(lat: float = 52.37, lon: float = 4.89) -> bytes:
    """speedtest-config.php as speedtest.net serves it (client IP is a documentation address)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<settings>
<client ip="192.0.2.10" lat="{lat}" lon="{lon}" isp="Example ISP" isprating="3.7" rating="0"
 ispdlavg="0" ispulavg="0" loggedin="0" country="NL"/>
<server-config threadcount="4" ignoreids="1,2" notonmap="" forcepingid="" preferredserverid=""/>
<licensekey>f7a45ced624d3a70-1df5b7cd427370f7-b91ee21d6cb22d7b</licensekey>
<customer>speedtest</customer>
<odometer start="19601573884" rate="12"/>
<times dl1="5000000" dl2="35000000" dl3="800000000" ul1="1000000" ul2="8000000" ul3="35000000"/>
<download testlength="10" initialtest="250K" mintestsize="250K" threadsperurl="4"/>
<upload testlength="10" ratio="5" initialtest="0" mintestsize="32K" threads="2"
 maxchunksize="512K" maxchunkcount="50" threadsperurl="4"/>
<latency testlength="10" waittime="50" timeout="20"/>
<socket-download testlength="15" initialthreads="4" minthreads="4" maxthreads="32"
 threadratio="750K" maxsamplesize="5000000" minsamplesize="32000" startsamplesize="1000000"
 startbuffersize="1" bufferlength="5000" packetlength="1000" readbuffer="65536"/>
</settings>
""".encode()


def servers_xml(host: str, port: int, count: int = 3, scheme: str = "http") -> bytes:
    """The server list: `count` entries that all point at this server, nearest first."""
    entries = "\n".join(
        f'<server url="{scheme}://{host}:{port}/speedtest/upload.php" lat="{52.37 + i * 0.5:.4f}" '
        f'lon="4.8900" name="Testville {i + 1}" country="Netherlands" cc="NL" '
        f'sponsor="Example Networks" id="{1000 + i}" host="{host}:{port}" />'
        for i in range(count)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<settings>\n<servers>\n'
        f"{entries}\n</servers>\n</settings>\n"
    ).encode()


CAPTIVE_PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Welcome to Hotel Wi-Fi</title></head>
<body><form action="/login"><input name="room"><br>Please log in to use the internet</form></body>
</html>
"""


def make_tls_files(
    directory: Path, names: tuple[str, ...] = SPEEDTEST_NAMES
) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for `names` (speedtest.net's) signed by it: (ca, cert, key)."""
    ca_key, ca_pem = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "leaf.key", directory / "leaf.csr", directory / "leaf.pem"
    ext = directory / "leaf.ext"
    ext.write_text(
        "subjectAltName=" + ",".join(f"DNS:{n}" for n in names) + "\n"
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl = shutil.which("openssl") or "openssl"

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=30)

    run("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca_pem), "-days", "2",
        "-subj", "/CN=homecheck test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash")  # fmt: skip
    run("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={names[0]}")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_pem), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))  # fmt: skip
    return ca_pem, cert, key


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, fake: FakeSpeedtest, address: tuple[str, int], tls: ssl.SSLContext | None = None
    ) -> None:
        self.fake = fake
        self.tls = tls  # set: HTTPS on this port (www.speedtest.net reached by its name)
        super().__init__(address, _Handler)

    def finish_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        # The handshake in the request's own thread: a client that never finishes it holds
        # only that thread, not the accept loop.
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):  # e.g. a client that does not trust the test CA
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client resetting its streams at the end of a phase (SO_LINGER 0), or refusing the
        # certificate, is normal here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    # --- the proxy side -------------------------------------------------------------------------
    def do_CONNECT(self) -> None:
        fake = self.server.fake
        fake.seen.append(f"CONNECT {self.path}")
        if fake.tls is None:
            self.send_error(405, "no TLS configured")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        try:
            tls = fake.tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        # Keep serving requests, now inside the TLS tunnel.
        self.connection = tls
        self.rfile = tls.makefile("rb", self.rbufsize)
        self.wfile = tls.makefile("wb", 0)
        self.close_connection = False

    # --- both sides -----------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._answer(body_length=0)

    def do_POST(self) -> None:
        self._answer(body_length=int(self.headers.get("Content-Length") or 0))

    def _answer(self, body_length: int) -> None:
        fake = self.server.fake
        path = urlsplit(self.path).path
        fake.seen.append(f"{self.command} {path}")
        if fake.mode is Mode.SLOW:
            fake.stopping.wait(fake.slow_s)
            self.close_connection = True
            return
        if fake.mode is Mode.STALL and self._stalls(path, body_length):
            return
        if fake.mode is Mode.FORBIDDEN:
            self._send(403, b"<html><body>403 Forbidden</body></html>", "text/html")
            return
        if fake.mode is Mode.TOO_MANY:
            self._send(429, b"Too Many Requests", "text/plain", {"Retry-After": "60"})
            return
        name = path.rsplit("/", 1)[-1]
        if name == "speedtest-config.php":
            self._send(200, self._config(), "text/xml")
        elif name.startswith("speedtest-servers"):
            self._send(200, self._servers(), "text/xml")
        elif name == "latency.txt":
            self._send(200, b"test=test\n", "text/plain")
        elif name.startswith("random") and name.endswith(".jpg"):
            self._download(name)
        elif name == "upload.php":
            self._upload(body_length)
        else:
            self._send(404, b"not found", "text/plain")

    def _stalls(self, path: str, body_length: int) -> bool:
        """Mode.STALL: a download sends STALL_AFTER_BYTES of its file, an upload reads as much of
        its body, then the server goes quiet with the connection open. True if it stalled."""
        name = path.rsplit("/", 1)[-1]
        fake = self.server.fake
        if name.startswith("random") and name.endswith(".jpg"):
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(10 * STALL_AFTER_BYTES))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(PAYLOAD[:STALL_AFTER_BYTES])
        elif name == "upload.php":
            with contextlib.suppress(OSError):
                self.rfile.read(min(body_length, STALL_AFTER_BYTES))
        else:
            return False
        fake.stopping.wait(fake.slow_s)
        self.close_connection = True
        return True

    def _config(self) -> bytes:
        mode = self.server.fake.mode
        if mode is Mode.GARBAGE:
            return b"\x00\x17 this is not XML {\xff\xfe"
        if mode is Mode.CAPTIVE:
            return CAPTIVE_PAGE
        if mode is Mode.WRONG_XML:
            return b'<?xml version="1.0"?><settings><error code="7">try later</error></settings>'
        return config_xml()

    def _servers(self) -> bytes:
        fake = self.server.fake
        if fake.mode is Mode.GARBAGE_SERVERS:
            return b"<settings><servers><server url=broken"
        if fake.mode is Mode.NO_SERVERS:
            return b'<?xml version="1.0"?><settings><servers></servers></settings>'
        return servers_xml(fake.listed_host, fake.listed_port, scheme=fake.listed_scheme)

    def _send(
        self, code: int, body: bytes, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _download(self, name: str) -> None:
        try:
            side = int(name[len("random") :].split("x", 1)[0])
        except ValueError:
            self._send(404, b"not found", "image/jpeg")
            return
        length = side * side * 2
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        sent = 0
        try:
            while sent < length and not self.server.fake.stopping.is_set():
                piece = PAYLOAD[: min(CHUNK, length - sent)]
                self.wfile.write(piece)
                sent += len(piece)
        except OSError:  # the client stops reading at the end of its test: expected
            self.close_connection = True
        self.server.fake.add_sent(sent)

    def _upload(self, length: int) -> None:
        received = 0
        try:
            while received < length and not self.server.fake.stopping.is_set():
                piece = self.rfile.read(min(CHUNK, length - received))
                if not piece:
                    break
                received += len(piece)
        except OSError:
            pass
        self.server.fake.add_received(received)
        if received < length:  # the client gave up mid-body (its test time ran out)
            self.close_connection = True
            return
        try:
            self._send(200, f"size={received}".encode(), "text/html")
        except OSError:
            self.close_connection = True


class FakeSpeedtest:
    """Start with `with FakeSpeedtest(...) as fake:`; `fake.env()` is what the client needs."""

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
        self.tls_dir = Path(tempfile.mkdtemp(prefix="hcnp-tls-")) if tls_dir is None else tls_dir
        ca, cert, key = (
            make_tls_files(self.tls_dir)
            if not (self.tls_dir / "leaf.pem").exists()
            else (self.tls_dir / "ca.pem", self.tls_dir / "leaf.pem", self.tls_dir / "leaf.key")
        )
        self.ca_file = ca
        self.tls: ssl.SSLContext | None = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        self._server = _Server(self, (host, port))
        self.host, self.port = self._server.server_address[:2]  # type: ignore[misc]
        self.listed_host = str(self.host)
        self.listed_port, self.listed_scheme = int(self.port), "http"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._extra: list[_Server] = []

    def listen(self, port: int, tls: bool = False) -> None:
        """Also answer on `port` of the same host: HTTPS (www.speedtest.net by its name) with
        `tls`, else plain HTTP (c.speedtest.net). Serves until `stop()`."""
        server = _Server(self, (str(self.host), port), self.tls if tls else None)
        self._extra.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()

    @property
    def proxy_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment for a speedtest-cli client: proxy to this server, trust the test CA."""
        return {
            "http_proxy": self.proxy_url,
            "https_proxy": self.proxy_url,
            "no_proxy": "",
            "SSL_CERT_FILE": str(self.ca_file),
        }

    def add_sent(self, count: int) -> None:
        with self._lock:
            self.bytes_sent += count

    def add_received(self, count: int) -> None:
        with self._lock:
            self.bytes_received += count

    def start(self) -> FakeSpeedtest:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        for server in (self._server, *self._extra):
            server.shutdown()
            server.server_close()
        if self._own_tls_dir:
            shutil.rmtree(self.tls_dir, ignore_errors=True)

    def __enter__(self) -> FakeSpeedtest:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_leaf(tls_dir: Path, names: Sequence[str], stem: str = "server") -> tuple[Path, Path]:
    """A certificate for other names (subjectAltName entries: "DNS:...", "IP:...") signed by the
    test CA that `make_tls_files` made in `tls_dir`: (cert, key)."""
    key, csr, cert = (tls_dir / f"{stem}.{ext}" for ext in ("key", "csr", "pem"))
    ext = tls_dir / f"{stem}.ext"
    ext.write_text(
        f"subjectAltName={','.join(names)}\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    openssl = shutil.which("openssl") or "openssl"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for args in (
        ["req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={stem}"],
        ["x509", "-req", "-in", str(csr), "-CA", str(tls_dir / "ca.pem"), "-CAkey",
         str(tls_dir / "ca.key"), "-CAcreateserial", "-out", str(cert), "-days", "2",
         "-extfile", str(ext)],
    ):  # fmt: skip
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=30)
    return cert, key


@contextlib.contextmanager
def https_listing(fake: FakeSpeedtest, names: Sequence[str] = ("IP:127.0.0.1",)) -> Iterator[int]:
    """The test server also on a port speaking TLS from the first byte, with a certificate for
    `names` from the test CA, and listed in the server list with its https:// URL (as
    speedtest.net lists some servers). Yields that port."""
    cert, key = make_leaf(fake.tls_dir, names)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _Server(fake, (str(fake.host), 0))
    # The handshake happens in the request's thread, at its first read, not in the accept loop.
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    listed = fake.listed_port, fake.listed_scheme
    fake.listed_port, fake.listed_scheme = port, "https"
    try:
        yield port
    finally:
        fake.listed_port, fake.listed_scheme = listed
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--mode", default=Mode.OK.value, choices=[m.value for m in Mode])
    parser.add_argument("--tls-dir", type=Path, help="reuse/create the test CA here")
    parser.add_argument("--https-port", type=int, help="also HTTPS here (www.speedtest.net: 443)")
    parser.add_argument("--http-port", type=int, help="also plain HTTP here (c.speedtest.net: 80)")
    parser.add_argument("--listed-host", help="the test server's name in the server list")
    args = parser.parse_args()
    if args.tls_dir:
        args.tls_dir.mkdir(parents=True, exist_ok=True)
    fake = FakeSpeedtest(args.host, args.port, Mode(args.mode), tls_dir=args.tls_dir)
    if args.listed_host:
        fake.listed_host = args.listed_host
    if args.https_port:
        fake.listen(args.https_port, tls=True)
    if args.http_port:
        fake.listen(args.http_port)
    print(f"listening {fake.host}:{fake.port} ca={fake.ca_file}", flush=True)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stopping.set()
        for server in (fake._server, *fake._extra):
            server.server_close()


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    main()
