"""A real `homecheck run --only network --server URL` against a real `homecheck serve` on
127.0.0.1: under a crowd of idle and slow-header connections, over https with a test CA, and with
the server stopped (SIGTERM) in the middle of the test."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.environment import need
from tests.support.serve import ROOT, Served

RUN = [sys.executable, "-m", "homecheck", "run", "--only", "network", "--server"]
SERVE = [
    sys.executable,
    "-m",
    "homecheck",
    "serve",
    "--port",
    "0",
    "--tls-port",
    "0",
    "--web-port",
    "0",
]
MEASURED = ("network.download_mbps", "network.upload_mbps", "network.latency_ms")


def _run(url: str, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*RUN, url, "--json", "-", "--quiet", "--dns-names", "localhost"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        **popen,
    )


def _network(run: subprocess.Popen[str]) -> dict[str, Any]:
    """The network probe's part of the JSON report (the run must end by itself, and cleanly)."""
    out, err = run.communicate(timeout=60)
    assert "Traceback" not in err, err
    report = json.loads(out)
    (probe,) = [p for p in report["probes"] if p["name"] == "network"]
    return dict(probe)


def _values(probe: dict[str, Any]) -> dict[str, Any]:
    return {m["metric"]: m["value"] for m in probe["measurements"]}


class Crowd:
    """Idle connections that never send a byte, and slow-header clients sending one byte a
    second; each reconnects when the server closes it, so the crowd holds its size."""

    def __init__(self, port: int, idle: int, slow: int) -> None:
        self.port = port
        self.closed_by_server = {"idle": 0, "slow": 0}
        self.stop = threading.Event()
        self.selector = selectors.DefaultSelector()
        for _ in range(idle):
            self._connect("idle")
        self.slow = [self._connect("slow") for _ in range(slow)]
        self.thread = threading.Thread(target=self._hold, daemon=True)
        self.thread.start()

    def _connect(self, kind: str) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ, kind)
        return sock

    def _hold(self) -> None:
        next_byte = time.monotonic()
        while not self.stop.is_set():
            for key, _ in self.selector.select(0.1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                with contextlib.suppress(OSError):
                    sock.recv(65536)  # the server's 408, or its close
                self.selector.unregister(sock)
                sock.close()
                self.closed_by_server[key.data] += 1
                fresh = self._connect(key.data)
                if key.data == "slow":
                    self.slow[self.slow.index(sock)] = fresh
            if time.monotonic() >= next_byte:
                next_byte += 1.0
                for sock in self.slow:
                    with contextlib.suppress(OSError):
                        sock.send(b"X")  # a head that never ends, one byte a second

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.selector.close()


@pytest.fixture
def crowd() -> Iterator[Callable[[int], Crowd]]:
    made: list[Crowd] = []

    def make(port: int) -> Crowd:
        made.append(Crowd(port, idle=200, slow=5))
        return made[-1]

    yield make
    for each in made:
        if not each.stop.is_set():
            each.close()


def test_idle_and_slow_connections_do_not_stop_a_real_run(
    serve_factory: Callable[..., Served], crowd: Callable[[int], Crowd]
) -> None:
    served = serve_factory()
    began = time.monotonic()
    held = crowd(served.port)
    probe = _network(_run(served.url))
    values = _values(probe)
    assert probe["reason"] is None and not probe["partial"]
    assert all(values.get(m) for m in MEASURED), values
    assert values["network.download_mbps"] > 100 and values["network.upload_mbps"] > 100
    # The crowd was there all along: the server timed out its idle and slow connections
    # (10 s idle, 5 s head by default) and the crowd came back.
    assert held.closed_by_server["slow"] >= 5 and held.closed_by_server["idle"] >= 150
    assert time.monotonic() - began < 45
    held.close()
    assert _quiet_stop(served) == "homecheck serve: stopped"  # nothing logged on the way


def _quiet_stop(served: Served) -> str:
    """Stop the server (Ctrl-C); what it wrote to stderr."""
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(10) == 0
    return (served.process.stderr.read() if served.process.stderr else "").strip()


def test_sigterm_during_a_run_is_reported_as_the_server_stopping(
    serve_factory: Callable[..., Served],
) -> None:
    served = serve_factory()
    run = _run(served.url)
    time.sleep(5.5)  # the quiet phase is 3 s: the download is running
    stopped_at = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(10) == 0
    assert time.monotonic() - stopped_at < 3
    probe = _network(run)
    text = json.dumps(probe)
    assert probe["partial"] is True
    assert "the test server stopped during the test" in text
    assert "connection to the test server was lost" not in text
    server_output = (served.process.stdout.read() if served.process.stdout else "") + (
        served.process.stderr.read() if served.process.stderr else ""
    )
    assert "Traceback" not in server_output and "ERROR" not in server_output
    assert "stopped" in server_output


def _test_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    openssl = shutil.which("openssl")
    need(openssl is not None, "`openssl` is not installed (it makes the test CA)")
    assert openssl is not None

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=30)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "k.pem", "c.csr", "c.pem"))  # fmt: skip
    ext = directory / "leaf.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    run("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
        "-subj", "/CN=homecheck serve test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))  # fmt: skip
    return ca, cert, key


def test_an_https_server_is_measured_by_the_client(
    serve_factory: Callable[..., Served], tmp_path: Path
) -> None:
    ca, cert, key = _test_ca(tmp_path)
    served = serve_factory("--tls-port", "0", "--tls-cert", str(cert), "--tls-key", str(key))
    assert served.tls_url is not None
    probe = _network(_run(served.tls_url, env={"SSL_CERT_FILE": str(ca)}))
    values = _values(probe)
    assert probe["reason"] is None and not probe["partial"]
    assert all(values.get(m) for m in MEASURED), values
    methods = {m["metric"]: m["method"] for m in probe["measurements"]}
    assert "over TLS" in methods["network.download_mbps"]
    assert "over TLS" in methods["network.upload_mbps"]
    assert values["network.download_mbps"] > 100 and values["network.upload_mbps"] > 100

    # Without the test CA the client does not trust the server, and says so plainly.
    probe = _network(_run(served.tls_url, env={"SSL_CERT_FILE": str(tmp_path / "none.pem")}))
    assert "does not trust the test server's certificate" in str(probe["reason"])
    assert "127.0.0.1" not in str(probe["reason"])
    assert _quiet_stop(served) == "homecheck serve: stopped"


@pytest.mark.parametrize("problem", ["missing cert", "missing key", "key of another cert"])
def test_a_bad_certificate_or_key_is_one_line(tmp_path: Path, problem: str) -> None:
    _, cert, key = _test_ca(tmp_path)
    if problem == "missing cert":
        cert = tmp_path / "nothing.pem"
    elif problem == "missing key":
        key = tmp_path / "nothing.key"
    else:
        key = tmp_path / "ca.key"
    done = subprocess.run(
        [*SERVE, "--tls-cert", str(cert), "--tls-key", str(key)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--tls-" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
