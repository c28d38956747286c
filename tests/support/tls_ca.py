"""A throw-away certificate authority and a server certificate signed by it (openssl), made in a
test's tmp dir: https tests verify against this CA like a client verifies a real one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def make_server_certificate(
    directory: Path, names: tuple[str, ...] = ("localhost",), ips: tuple[str, ...] = ("127.0.0.1",)
) -> tuple[Path, Path, Path]:
    """(ca.pem, cert.pem, key.pem): a CA and a certificate for `names` and `ips` signed by it."""
    openssl = shutil.which("openssl") or "openssl"
    ca_key, ca_pem = directory / "ca.key", directory / "ca.pem"
    key, csr, cert, ext = (directory / n for n in ("server.key", "server.csr", "server.pem", "ext"))
    alt = [f"DNS:{n}" for n in names] + [f"IP:{ip}" for ip in ips]
    ext.write_text(
        f"subjectAltName={','.join(alt)}\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=30)

    run("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca_pem), "-days", "2",
        "-subj", "/CN=homecheck web test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={names[0]}")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_pem), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))  # fmt: skip
    return ca_pem, cert, key
