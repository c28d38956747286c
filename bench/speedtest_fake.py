"""A local server speaking speedtest.net's protocol, for running speedtest-cli on a lab link.

speedtest-cli fetches its configuration and server list from speedtest.net through urllib (which
honours `http_proxy`: point it at this server and it answers those absolute-URL requests too),
then pings each listed server with plain HTTP to that host, downloads random{N}x{N}.jpg files and
POSTs to upload.php. This serves all of it from one address: the one it is started on.

    python -m bench.speedtest_fake --host 198.18.1.2 --port 8080
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

TEST_SECONDS = 8  # speedtest-cli's per-direction test length (its real default is 10)
BLOCK = os.urandom(1 << 20)


def config_xml(client_ip: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<settings>
<client ip="{client_ip}" lat="0" lon="0" isp="homecheck lab" isprating="3.7" rating="0"
 ispdlavg="0" ispulavg="0" loggedin="0" country="LB"/>
<server-config threadcount="4" ignoreids="" notonmap="" forcepingid="" preferredserverid=""/>
<download testlength="{TEST_SECONDS}" initialtest="250K" mintestsize="250K" threadsperurl="4"/>
<upload testlength="{TEST_SECONDS}" ratio="5" initialtest="0" mintestsize="32K" threads="2"
 maxchunksize="512K" maxchunkcount="50" threadsperurl="4"/>
</settings>
""".encode()


def servers_xml(host: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<settings><servers>
<server url="http://{host}/speedtest/upload.php" lat="0" lon="0" name="Lab" country="Lab"
 cc="LB" sponsor="homecheck lab" id="1" host="{host}"/>
</servers></settings>
""".encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    host = ""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, body: bytes, kind: str = "text/plain") -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.endswith("speedtest-config.php"):
            self._send(config_xml(self.client_address[0]), "text/xml")
        elif "speedtest-servers" in path:
            self._send(servers_xml(self.host), "text/xml")
        elif path.endswith("latency.txt"):
            self._send(b"test=test")
        elif match := re.search(r"random(\d+)x\d+\.jpg$", path):
            side = int(match.group(1))
            size = side * side * 2  # about the size of speedtest.net's JPEGs
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            left = size
            try:
                while left > 0:
                    chunk = BLOCK[: min(left, len(BLOCK))]
                    self.wfile.write(chunk)
                    left -= len(chunk)
            except OSError:
                pass
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        got = 0
        try:
            while got < length:
                data = self.rfile.read(min(65536, length - got))
                if not data:
                    break
                got += len(data)
        except OSError:
            return
        self._send(f"size={got}".encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    Handler.host = f"{args.host}:{args.port}"
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
