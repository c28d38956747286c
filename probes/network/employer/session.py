"""Reaching a `homecheck serve`: the URL, the test session, and plain-language failures.

Every failure becomes a `ProbeError` whose message a non-technical person understands, with what
to do, and without the server's address (reports hold no addresses).

An `https://` address: every request and every stream goes over TLS, verified with the operating
system's trust store (truststore, as probes/network/public/trust.py explains: a company's own
root certificate is in the OS store, not in Python's bundle), with a fresh context per connection
(a truststore context serialises its handshakes). Streams still connect to the address resolved
once, and the certificate is checked against the name in the URL.
"""

from __future__ import annotations

import errno
import http.client
import json
import socket
import ssl
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import truststore

from homecheck.probe import ProbeError
from homecheck.wire import API, SESSION_PATH

CHECK_ADDRESS = "Check the server address your employer gave you and that you are online."
SERVER_STOPPED = (
    "the test server stopped during the test (it is shutting down or restarting), so this was "
    "not measured: not a problem with your connection; run homecheck again in a few minutes"
)
STOPPING_WORDS = "server stopping"  # in the server's refusals while it shuts down
HUB_CLOSE_TIMEOUT_S = 15.0  # under an invite the close waits for the server to store its figures


@dataclass(frozen=True)
class Endpoint:
    """Where the streams connect: a resolved address (no DNS per stream) and the session."""

    address: tuple[str, int] | tuple[str, int, int, int]
    family: socket.AddressFamily
    host_header: str
    token: str
    max_upload_bytes: int = 1_000_000_000  # the server's limit per request (its session reply)
    tls_name: str | None = None  # https: the name the server's certificate must carry
    max_transfer_s: float = 30.0  # the server's limit per download or upload (its session reply)

    def wrap(self, sock: socket.socket) -> socket.socket:
        """The connected socket, over TLS for an https server (handshake done), else as it is."""
        if self.tls_name is None:
            return sock
        return tls_context().wrap_socket(sock, server_hostname=self.tls_name)

    def http(self, timeout_s: float) -> http.client.HTTPConnection:
        """A connection for one request (http.client), to the resolved address."""
        return _Connection(self, timeout_s)


def tls_context() -> ssl.SSLContext:
    """A client TLS context verifying with the operating system's trust store."""
    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class _Connection(http.client.HTTPConnection):
    """http.client to the endpoint's resolved address, over TLS when it has a name to verify."""

    def __init__(self, endpoint: Endpoint, timeout_s: float) -> None:
        super().__init__(endpoint.address[0], endpoint.address[1], timeout=timeout_s)
        self._endpoint = endpoint

    def connect(self) -> None:
        sock = socket.socket(self._endpoint.family, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._endpoint.address)
            self.sock = self._endpoint.wrap(sock)
        except BaseException:
            sock.close()
            raise


@dataclass(frozen=True)
class Session:
    endpoint: Endpoint
    token: bytes
    udp_address: tuple[str, int] | tuple[str, int, int, int] | None
    hub_session: str | None = None  # under an invite: the test session the report names


BAD_ADDRESS = (
    "--server: this is not a valid address (an IPv6 address goes in brackets: "
    f"http://[2001:db8::1]:8765). {CHECK_ADDRESS}"
)


def parse_url(url: str) -> tuple[str, int]:
    """(host, port) of a --server address, or a ProbeError saying in one line what is wrong
    (without the address itself: the reason may end up in a report)."""
    host, port, _ = parse_server(url)
    return host, port


def parse_server(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) of a --server address (http:// or https://), or a ProbeError."""
    text = url.strip()
    if not text:
        raise ProbeError(f"--server: the address is empty. {CHECK_ADDRESS}")
    try:
        parts = urlsplit(text if "://" in text else f"http://{text}")
    except ValueError:  # an unclosed "[" (urllib: "Invalid IPv6 URL")
        raise ProbeError(BAD_ADDRESS) from None
    if parts.scheme not in ("http", "https"):
        raise ProbeError(
            f"--server: only http:// and https:// addresses are supported (got {parts.scheme}://)."
            f" {CHECK_ADDRESS}"
        )
    tls = parts.scheme == "https"
    host_port = parts.netloc.rpartition("@")[2]
    if host_port.count(":") > 1 and not host_port.startswith("["):  # IPv6 without brackets
        raise ProbeError(BAD_ADDRESS)
    if not parts.hostname:
        raise ProbeError(f"--server: the address has no host name. {CHECK_ADDRESS}")
    if any(c.isspace() for c in parts.hostname):
        raise ProbeError(BAD_ADDRESS)
    try:
        port = (443 if tls else 80) if parts.port is None else parts.port
    except ValueError:  # not a number, or above 65535
        port = 0
    if not 0 < port < 65536:
        raise ProbeError(
            f"--server: the port in the address must be a number from 1 to 65535. {CHECK_ADDRESS}"
        )
    return parts.hostname, port, tls


def address_problem(url: str) -> str | None:
    """Why `url` cannot be a --server address (one line), or None: checked before measuring."""
    try:
        parse_url(url)
    except ProbeError as exc:
        return str(exc)
    return None


def resolve(
    host: str, port: int
) -> tuple[socket.AddressFamily, tuple[str, int] | tuple[str, int, int, int]]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ProbeError(
            f"the test server's name could not be found (no DNS answer). {CHECK_ADDRESS}"
        ) from None
    family, _, _, _, address = infos[0]
    parts: tuple[object, ...] = tuple(address)
    if family == socket.AF_INET6 and len(parts) == 4:
        return family, (str(parts[0]), int(str(parts[1])), int(str(parts[2])), int(str(parts[3])))
    return family, (str(parts[0]), int(str(parts[1])))


def open_session(url: str, seconds: float, timeout_s: float, invite: str | None = None) -> Session:
    host, port, tls = parse_server(url)
    family, address = resolve(host, port)
    host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    body = json.dumps({"seconds": seconds})
    server = Endpoint(address, family, host_header, token="", tls_name=host if tls else None)
    reply = _post_json(server, SESSION_PATH, body, timeout_s, invite)
    try:
        token_hex = str(reply["token"])
        token = bytes.fromhex(token_hex)
        udp_port = reply.get("udp_port")
    except (KeyError, ValueError, TypeError):
        raise ProbeError(
            f"the address given with --server is not a homecheck server. {CHECK_ADDRESS}"
        ) from None
    udp_address = None
    if isinstance(udp_port, int) and 0 < udp_port < 65536:
        udp_address = (address[0], udp_port, *address[2:])
    limits = reply.get("limits")
    limits = limits if isinstance(limits, dict) else {}
    max_bytes = limits.get("max_request_bytes")
    max_seconds = limits.get("max_transfer_s")
    endpoint = replace(
        server,
        token=token_hex,
        max_upload_bytes=max_bytes if isinstance(max_bytes, int) and max_bytes > 0 else 10**9,
        max_transfer_s=(
            float(max_seconds)
            if isinstance(max_seconds, int | float) and 1 <= max_seconds <= 3600
            else 30.0
        ),
    )
    hub_session = reply.get("hub_session") if invite is not None else None
    return Session(
        endpoint, token, udp_address, hub_session if isinstance(hub_session, str) else None
    )


def close_session(session: Session, timeout_s: float = 0.5) -> None:
    """Tell the server we are done (best effort: it also expires the session by itself). Under
    an invite the server answers once it stored what it saw, so the wait is longer."""
    if session.hub_session is not None:
        timeout_s = max(timeout_s, HUB_CLOSE_TIMEOUT_S)
    conn = session.endpoint.http(timeout_s)
    try:
        conn.request(
            "DELETE",
            f"{SESSION_PATH}/{session.endpoint.token}",
            headers={"Host": session.endpoint.host_header},
        )
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        pass
    finally:
        conn.close()


def server_stopped(endpoint: Endpoint, timeout_s: float = 1.0) -> bool:
    """Whether the server has stopped: it refuses connections, or answers that it is stopping.
    Asked when a test goes wrong, to tell a stopped server from a failing line."""
    conn = endpoint.http(timeout_s)
    try:
        conn.request("GET", f"{API}/", headers={"Host": endpoint.host_header})
        response = conn.getresponse()
        return response.status == 503 and STOPPING_WORDS in response.read(4096).decode("latin-1")
    except ConnectionRefusedError:
        return True  # the host answered: nothing listens there any more
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _post_json(
    server: Endpoint, path: str, body: str, timeout_s: float, invite: str | None = None
) -> dict[str, object]:
    conn = server.http(timeout_s)
    headers = {"Host": server.host_header, "Content-Type": "application/json"}
    if invite is not None:
        headers["Authorization"] = f"Bearer {invite}"
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read(65536)
    except ssl.SSLError as exc:
        raise ProbeError(tls_problem(exc)) from None
    except OSError as exc:
        raise ProbeError(connection_problem(exc, timeout_s)) from None
    except http.client.HTTPException:
        raise ProbeError(
            f"the address given with --server is not a homecheck server. {CHECK_ADDRESS}"
        ) from None
    finally:
        conn.close()
    if response.status == 503 and STOPPING_WORDS.encode() in raw:
        raise ProbeError(SERVER_STOPPED)
    if response.status == 503:
        raise ProbeError(
            "the test server is busy with other tests right now; try again in a minute."
        )
    if response.status == 429:
        raise ProbeError(
            "the test server is already running as many tests from your network as it allows "
            "(for example a colleague's at the same office); try again in a minute."
        )
    if response.status in (403, 404) and invite is not None:
        raise ProbeError(f"the test server refused the invite: {_error_text(raw)}")
    if response.status != 201:
        raise ProbeError(
            f"the address given with --server did not accept a test (HTTP {response.status}); "
            f"it may not be a homecheck server. {CHECK_ADDRESS}"
        )
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise ProbeError(
            f"the address given with --server is not a homecheck server. {CHECK_ADDRESS}"
        )
    return parsed


def _error_text(raw: bytes) -> str:
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    message = parsed.get("error") if isinstance(parsed, dict) else None
    return str(message)[:200] if message else "no reason given"


def tls_problem(exc: ssl.SSLError) -> str:
    """Plain words for a failed secure (https) connection to the test server."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code in (9, 10):  # X509_V_ERR_CERT_NOT_YET_VALID, _HAS_EXPIRED
            return (
                "the test server's certificate was refused as expired or not yet valid: check "
                "this computer's date and time, or tell whoever gave you the server address"
            )
        return (
            "this computer does not trust the test server's certificate (the server's "
            "certificate is wrong for its name, or a company network, security program or "
            "public Wi-Fi is intercepting secure connections); tell whoever gave you the "
            "server address"
        )
    return (
        "the secure connection to the test server failed (it may not speak https at that "
        f"port, or a firewall or proxy is intercepting it). {CHECK_ADDRESS}"
    )


def connection_problem(exc: OSError, timeout_s: float) -> str:
    """Plain words for why a connection to the test server failed."""
    if isinstance(exc, ssl.SSLError):
        return tls_problem(exc)
    if isinstance(exc, TimeoutError):
        return (
            f"the test server did not answer within {timeout_s:g} s: it may be down, or a firewall "
            f"is in the way. {CHECK_ADDRESS}"
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            "the test server refused the connection: nothing is running at that address and "
            f"port, or it is stopped. {CHECK_ADDRESS}"
        )
    if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EADDRNOTAVAIL):
        return (
            "there is no route to the test server: this computer is not connected to a network "
            f"that reaches it. {CHECK_ADDRESS}"
        )
    why = exc.strerror or type(exc).__name__
    return f"could not connect to the test server ({why}). {CHECK_ADDRESS}"
