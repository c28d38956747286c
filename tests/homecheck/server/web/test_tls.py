"""The web plane serving https itself (--tls-cert/--tls-key), verified by a client against a test
CA made in the test's tmp dir; bad certificate or key files are one line before anything starts."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from homecheck.errors import HomecheckError
from homecheck.server.web import WebOptions, WebPlane, WebPlaneError
from tests.homecheck.server.web.conftest import Running, listening_socket
from tests.support.environment import need
from tests.support.tls_ca import make_server_certificate


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path, Path]:
    need(shutil.which("openssl") is not None, "`openssl` is not installed (it makes the test CA)")
    return make_server_certificate(tmp_path)


def test_get_over_https_verifies_against_the_test_ca(
    web_plane: Callable[..., Running], certificate: tuple[Path, Path, Path]
) -> None:
    ca, cert, key = certificate
    running = web_plane(tls_cert=str(cert), tls_key=str(key))
    context = ssl.create_default_context(cafile=str(ca))
    for host in ("localhost", "127.0.0.1"):
        conn = http.client.HTTPSConnection(host, running.port, timeout=5, context=context)
        conn.request("GET", "/")
        response = conn.getresponse()
        page = json.loads(response.read())
        conn.close()
        assert response.status == 200
        assert page["url"] == f"https://{host}:{running.port}/"
    # A client that does not trust the test CA refuses the server.
    with pytest.raises(ssl.SSLCertVerificationError):
        conn = http.client.HTTPSConnection(
            "localhost", running.port, timeout=5, context=ssl.create_default_context()
        )
        conn.request("GET", "/")
    # Plain http on the https port gets no page.
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"homecheck serve" not in sock.recv(4096)
    assert "Traceback" not in running.log_text()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"tls_key": "missing.key"}, "--tls-key {tmp}/missing.key: no such file"),
        ({"tls_cert": "missing.pem"}, "--tls-cert {tmp}/missing.pem: no such file"),
        ({"tls_key": "ca.pem"}, "not a usable certificate and key"),
        ({"tls_cert": "server.key"}, "not a usable certificate and key"),
        ({"tls_key": None}, "--tls-cert and --tls-key go together"),
    ],
)
def test_a_bad_certificate_or_key_is_one_line_and_no_child(
    tmp_path: Path,
    certificate: tuple[Path, Path, Path],
    change: dict[str, str | None],
    expected: str,
) -> None:
    _, cert, key = certificate
    fields = {"tls_cert": str(cert), "tls_key": str(key)}
    fields.update({k: (str(tmp_path / v) if v else None) for k, v in change.items()})
    sock = listening_socket()
    plane = WebPlane(sock, WebOptions(**fields))  # type: ignore[arg-type]
    try:
        with pytest.raises(WebPlaneError) as raised:
            plane.start()
    finally:
        sock.close()
    message = str(raised.value)
    assert isinstance(raised.value, HomecheckError)  # the CLI prints it as one line, exit 2
    assert "\n" not in message
    assert expected.format(tmp=tmp_path) in message
    assert plane.pid is None
