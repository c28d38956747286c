"""What the web plane is started with, and the checks made before its process starts.

Standard library only: `homecheck serve --help` and the option checks work without the server
extra, and the parent process (the measurement plane) never imports the web framework.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
from dataclasses import dataclass

from homecheck.errors import HomecheckError

DEFAULT_APP_FACTORY = "homecheck.server.web.app:create_web_app"


class WebPlaneError(HomecheckError):
    """The web plane cannot start (bad certificate or key, bad option, the child failed): one
    line; the CLI prints it and exits 2."""


@dataclass(frozen=True)
class WebOptions:
    # With tls_key: the web plane serves https itself.
    tls_cert: str | None = None
    tls_key: str | None = None
    # Behind a reverse proxy: the proxy addresses (comma-separated addresses or networks, or "*")
    # whose X-Forwarded-For / X-Forwarded-Proto headers are trusted. Nobody else's are.
    forwarded_allow_ips: str | None = None
    # A connection that has not sent a complete request head within this many seconds (its first
    # request or the next one) is closed; so is a request body that stalls this long.
    idle_timeout_s: float = 10.0
    # A request head (request line and headers) beyond this is refused (431/400), a body
    # beyond max_body_bytes gets 413.
    max_head_bytes: int = 16 * 1024
    max_body_bytes: int = 2_000_000
    # The web plane's own log: a file, or None for the standard error it inherits.
    log_path: str | None = None
    log_level: int = logging.WARNING
    # One line per request (client address, method, path, status) at INFO level.
    access_log: bool = False
    # Where candidates run the speed test (the measurement plane), shown on the front page.
    speed_test_url: str | None = None
    # With --db: the web plane serves the employer hub's API (homecheck/hub/web.py) on this
    # database (None: the default SQLite file); the child opens its own connection to it.
    hub: bool = False
    hub_db: str | None = None
    # "module:function" that builds the ASGI app from these options, imported in the child.
    app_factory: str = DEFAULT_APP_FACTORY
    # How long start() waits for the child to answer its first request.
    start_timeout_s: float = 30.0

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


def check_options(options: WebOptions) -> None:
    """Raise WebPlaneError (one line) for options the child could not start with."""
    if (options.tls_cert is None) != (options.tls_key is None):
        raise WebPlaneError("--tls-cert and --tls-key go together: give both or neither")
    if not options.idle_timeout_s > 0:
        raise WebPlaneError(f"the idle timeout must be above 0 s (got {options.idle_timeout_s})")
    if options.max_head_bytes < 1024:
        raise WebPlaneError("the request head bound must be at least 1024 bytes")
    if options.max_body_bytes < 0:
        raise WebPlaneError("the request body bound cannot be negative")
    if ":" not in options.app_factory:
        raise WebPlaneError(f"the web app factory {options.app_factory!r} is not module:function")
    if options.forwarded_allow_ips is not None:
        TrustedProxies.parse(options.forwarded_allow_ips)
    if options.tls_cert is not None and options.tls_key is not None:
        tls_context(options.tls_cert, options.tls_key)


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """The server's TLS context; a missing, unreadable or mismatched file is one line."""
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not os.path.isfile(path):
            raise WebPlaneError(f"{flag} {path}: no such file")
        if not os.access(path, os.R_OK):
            raise WebPlaneError(f"{flag} {path}: not readable")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        # exc.reason: "PEM_lib", "KEY_VALUES_MISMATCH", ...; the library's words are the detail.
        reason = (exc.reason or str(exc)).replace("_", " ").lower()
        raise WebPlaneError(
            f"--tls-cert {cert} / --tls-key {key}: not a usable certificate and key ({reason})"
        ) from None
    except OSError as exc:
        raise WebPlaneError(f"--tls-cert {cert} / --tls-key {key}: {exc.strerror}") from None
    return context


@dataclass(frozen=True)
class TrustedProxies:
    """The addresses whose X-Forwarded-* headers are believed ("*": every address)."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    everyone: bool = False

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise WebPlaneError("--forwarded-allow-ips: give the proxy's address (or '*')")
        if "*" in items:
            return cls((), everyone=True)
        return cls(tuple(_network(item) for item in items))

    def trusts(self, host: str | None) -> bool:
        if self.everyone:
            return True
        if host is None:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def _network(item: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(item, strict=False)
    except ValueError:
        raise WebPlaneError(
            f"--forwarded-allow-ips: {item!r} is not an IP address or network "
            "(for example 127.0.0.1,10.0.0.0/8)"
        ) from None
