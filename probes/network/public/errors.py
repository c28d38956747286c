"""Why a public speed test failed, in one plain sentence.

speedtest.net answers 403 or 429 at times, a hotel Wi-Fi answers with its login page, an offline
computer cannot look the name up, a filtered network lets nothing through in time. speedtest-cli
(2.1.3) wraps some of these in its exception root, SpeedtestException, lets others out as socket,
TLS and URL errors, and its parsers raise plain Python errors on XML of the wrong shape. This module
names exactly those (never everything) and turns each into a sentence a candidate can act on.
The same failures of Cloudflare's speed test (probes/network/public/cloudflare.py, plain
http.client) read the same, with that service's name.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from urllib.error import HTTPError, URLError

import speedtest

ADVICE = (
    "To test against your employer's server instead, run homecheck run --server URL "
    "with the address your employer gives you."
)
# What speedtest-cli 2.1.3 lets out on a failure: its own root, the socket/TLS/URL errors its
# catch_request does not wrap (socket.timeout, URLError and ssl.SSLError are OSErrors), broken
# HTTP answers, and what its parsers raise on XML of the wrong shape: KeyError/ValueError/TypeError
# on missing attributes, and NameError from its fallback to an xml.dom path it never imported.
SPEEDTEST_FAILURES: tuple[type[BaseException], ...] = (
    speedtest.SpeedtestException,
    OSError,
    http.client.HTTPException,
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    NameError,
)


class OutOfTime(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"did not answer within {round(seconds, 1):g} s")
        self.seconds = seconds


class StoppedAnswering(Exception):
    """The service answered the set-up, then stopped sending (or taking) data mid-test."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no data moved for {seconds:g} s")
        self.seconds = seconds


# Everything that ends the test early with a reason instead of a traceback.
GIVE_UP: tuple[type[BaseException], ...] = (OutOfTime, StoppedAnswering, *SPEEDTEST_FAILURES)


class UnexpectedAnswer(ValueError):
    """An answer of the wrong shape: a login page instead of the service's data."""


class NoServers(speedtest.SpeedtestException):  # type: ignore[misc]
    """speedtest.net's server list parsed, but held no usable server."""


def why(exc: BaseException, service: str = "speedtest.net") -> str:
    """One plain sentence for a failure of the public speed test `service`."""
    for cause in _causes(exc):
        if isinstance(cause, OutOfTime):
            return f"{service} {cause} (the service is slow or blocked on this network)"
        if isinstance(cause, StoppedAnswering):
            return f"{service} stopped answering in the middle of the test ({cause})"
        if isinstance(cause, HTTPError):
            if cause.code == 403:
                return f"{service} refused the test (HTTP 403: it blocks the test tool at times)"
            if cause.code == 429:
                return f"{service} is limiting how often tests run (HTTP 429: too many tests)"
            return f"{service} answered with an error (HTTP {cause.code})"
        if isinstance(cause, socket.gaierror):
            return (
                f"the name {service} could not be looked up: this computer seems to have "
                "no internet connection, or DNS is not working"
            )
        if isinstance(cause, TimeoutError):
            return f"{service} did not answer in time (the service is slow or blocked here)"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _untrusted(cause, service)
        if isinstance(cause, ssl.SSLError | ssl.CertificateError):
            return (
                f"the secure connection to {service} failed (a firewall or proxy on this "
                "network may be intercepting it)"
            )
        if isinstance(cause, NoServers):
            return "speedtest.net listed no test servers for this connection"
        if isinstance(cause, speedtest.SpeedtestBestServerFailure):
            return "none of the nearest speed-test servers answered"
        if isinstance(cause, ConnectionError | OSError) and not isinstance(cause, URLError):
            return f"{service} could not be reached: this computer seems to be offline"
    return (
        f"{service} sent an answer homecheck could not understand (for example the "
        "login page of a hotel or cafe Wi-Fi, or the service changed)"
    )


# OpenSSL's X509_V_ERR_CERT_NOT_YET_VALID and X509_V_ERR_CERT_HAS_EXPIRED (x509_vfy.h).
CLOCK_ERRORS = {9, 10}


def _untrusted(cause: ssl.SSLCertVerificationError, service: str) -> str:
    """A certificate the computer does not trust: the name, or the likely reason, to act on."""
    if cause.verify_code in CLOCK_ERRORS:
        return (
            f"the certificate of {service} was refused as expired or not yet valid: check "
            "this computer's date and time"
        )
    return (
        f"this computer does not trust the certificate {service} presented (a company "
        "network, a security program or a public Wi-Fi may be intercepting secure connections)"
    )


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps: speedtest-cli puts the cause in args[0], urllib in
    URLError.reason."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or item in seen or len(seen) > 8:
            continue
        seen.append(item)
        todo += [*item.args[:1], getattr(item, "reason", None), item.__cause__, item.__context__]
    return seen
