"""Reaching a `homecheck serve`: the URL, the test session, and plain-language failures.

Every failure becomes a `ProbeError` whose message a non-technical person understands, with what
to do, and without the server's address (reports hold no addresses).
"""

from __future__ import annotations

import errno
import http.client
import json
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from homecheck.probe import ProbeError
from homecheck.wire import SESSION_PATH

CHECK_ADDRESS = "Check the server address your employer gave you and that you are online."


@dataclass(frozen=True)
class Endpoint:
    """Where the streams connect: a resolved address (no DNS per stream) and the session."""

    address: tuple[str, int] | tuple[str, int, int, int]
    family: socket.AddressFamily
    host_header: str
    token: str
    max_upload_bytes: int = 1_000_000_000  # the server's limit per request (its session reply)


@dataclass(frozen=True)
class Session:
    endpoint: Endpoint
    token: bytes
    udp_address: tuple[str, int] | tuple[str, int, int, int] | None


BAD_ADDRESS = (
    "--server: this is not a valid address (an IPv6 address goes in brackets: "
    f"http://[2001:db8::1]:8765). {CHECK_ADDRESS}"
)


def parse_url(url: str) -> tuple[str, int]:
    """(host, port) of a --server address, or a ProbeError saying in one line what is wrong
    (without the address itself: the reason may end up in a report)."""
    text = url.strip()
    if not text:
        raise ProbeError(f"--server: the address is empty. {CHECK_ADDRESS}")
    try:
        parts = urlsplit(text if "://" in text else f"http://{text}")
    except ValueError:  # an unclosed "[" (urllib: "Invalid IPv6 URL")
        raise ProbeError(BAD_ADDRESS) from None
    if parts.scheme != "http":
        raise ProbeError(
            f"--server: only http:// addresses are supported (got {parts.scheme}://). "
            + CHECK_ADDRESS
        )
    host_port = parts.netloc.rpartition("@")[2]
    if host_port.count(":") > 1 and not host_port.startswith("["):  # IPv6 without brackets
        raise ProbeError(BAD_ADDRESS)
    if not parts.hostname:
        raise ProbeError(f"--server: the address has no host name. {CHECK_ADDRESS}")
    if any(c.isspace() for c in parts.hostname):
        raise ProbeError(BAD_ADDRESS)
    try:
        port = 80 if parts.port is None else parts.port
    except ValueError:  # not a number, or above 65535
        port = 0
    if not 0 < port < 65536:
        raise ProbeError(
            f"--server: the port in the address must be a number from 1 to 65535. {CHECK_ADDRESS}"
        )
    return parts.hostname, port


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


def open_session(url: str, seconds: float, timeout_s: float) -> Session:
    host, port = parse_url(url)
    family, address = resolve(host, port)
    host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    body = json.dumps({"seconds": seconds})
    reply = _post_json(address, host_header, SESSION_PATH, body, timeout_s)
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
    max_bytes = limits.get("max_request_bytes") if isinstance(limits, dict) else None
    endpoint = Endpoint(
        address=address,
        family=family,
        host_header=host_header,
        token=token_hex,
        max_upload_bytes=max_bytes if isinstance(max_bytes, int) and max_bytes > 0 else 10**9,
    )
    return Session(endpoint, token, udp_address)


def close_session(session: Session, timeout_s: float = 0.5) -> None:
    """Tell the server we are done (best effort: it also expires the session by itself)."""
    ip, port = session.endpoint.address[0], session.endpoint.address[1]
    conn = http.client.HTTPConnection(ip, port, timeout=timeout_s)
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


def _post_json(
    address: tuple[str, int] | tuple[str, int, int, int],
    host_header: str,
    path: str,
    body: str,
    timeout_s: float,
) -> dict[str, object]:
    conn = http.client.HTTPConnection(address[0], address[1], timeout=timeout_s)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={"Host": host_header, "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        raw = response.read(65536)
    except OSError as exc:
        raise ProbeError(connection_problem(exc, timeout_s)) from None
    except http.client.HTTPException:
        raise ProbeError(
            f"the address given with --server is not a homecheck server. {CHECK_ADDRESS}"
        ) from None
    finally:
        conn.close()
    if response.status == 503:
        raise ProbeError(
            "the test server is busy with other tests right now; try again in a minute."
        )
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


def connection_problem(exc: OSError, timeout_s: float) -> str:
    """Plain words for why a connection to the test server failed."""
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
