"""speedtest-cli with the operating system's certificate store (TLS trust).

speedtest-cli 2.1.3 opens HTTPS through its own urllib handler (`SpeedtestHTTPSHandler`), built
without an SSL context, so http.client falls back to Python's default one: the CA file its OpenSSL
was built with. The python.org installer for macOS ships none until the user runs "Install
Certificates.command" (cpython #80521), so every TLS handshake to speedtest.net fails there. And
a company network that inspects TLS has its own root certificate installed in the OS store, which
Python's bundle does not know either.

`truststore` (https://truststore.readthedocs.io; by the pip/urllib3 maintainers, used by pip
itself) verifies with the OS: the Security framework on macOS, CryptoAPI on Windows, and the
system's OpenSSL paths on Linux (which still honour SSL_CERT_FILE). certifi would fix the first
case only: Mozilla's bundle does not hold the company's root either.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any
from urllib.request import (
    HTTPDefaultErrorHandler,
    HTTPErrorProcessor,
    HTTPRedirectHandler,
    OpenerDirector,
    ProxyHandler,
)

import speedtest
import truststore


def os_trust_context() -> ssl.SSLContext:
    """A client TLS context that verifies certificates with the operating system's store."""
    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class _HTTPSHandler(speedtest.SpeedtestHTTPSHandler):  # type: ignore[misc]
    """speedtest-cli's HTTPS handler with a TLS context of its own for every connection.

    A truststore context holds one lock around each handshake (and its certificate check), so
    the parallel streams of a speed test sharing one context would connect one after another:
    their ramp-up stretched by a round trip per stream, and speedtest-cli's figure (all bytes
    over all the time) read low. `contexts` makes a fresh one per connection instead."""

    def __init__(self, contexts: Callable[[], ssl.SSLContext], timeout: float) -> None:
        super().__init__(context=None, timeout=timeout)
        self._contexts = contexts

    def https_open(self, req: Any) -> Any:
        # speedtest-cli's own https_open, with a context made for this connection (the handler is
        # shared by the streams' threads, so nothing is stored on it).
        connection = speedtest._build_connection(
            speedtest.SpeedtestHTTPSConnection,
            self.source_address,
            self.timeout,
            context=self._contexts(),
        )
        return self.do_open(connection, req)


def opener(timeout: float, contexts: Callable[[], ssl.SSLContext]) -> OpenerDirector:
    """speedtest-cli's own opener (speedtest.build_opener: proxies from the environment, its
    timeouts and User-Agent), with a TLS context from `contexts` for each HTTPS connection."""
    director = OpenerDirector()
    director.addheaders = [("User-agent", speedtest.build_user_agent())]
    for handler in (
        ProxyHandler(),
        speedtest.SpeedtestHTTPHandler(timeout=timeout),
        _HTTPSHandler(contexts, timeout),
        HTTPDefaultErrorHandler(),
        HTTPRedirectHandler(),
        HTTPErrorProcessor(),
    ):
        director.add_handler(handler)
    return director


class Speedtest(speedtest.Speedtest):  # type: ignore[misc]
    """speedtest.Speedtest whose HTTPS verifies against the OS trust store, a context of its own
    for each connection (`contexts`, by default `os_trust_context`)."""

    def __init__(self, contexts: Callable[[], ssl.SSLContext] | None = None, **kwargs: Any) -> None:
        self._tls_contexts = contexts or os_trust_context
        super().__init__(**kwargs)

    def get_config(self) -> Any:
        # Speedtest.__init__ builds its opener, then fetches the configuration at once: the
        # first use of the opener, so it is swapped here (results and downloads reuse it).
        if not getattr(self, "_os_trust", False):
            self._opener = opener(self._timeout, self._tls_contexts)
            self._os_trust = True
        return super().get_config()
