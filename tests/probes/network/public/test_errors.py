"""The sentence for each way speedtest-cli fails, from the exception shapes it really raises."""

from __future__ import annotations

import socket
import ssl
from urllib.error import URLError

import pytest
import speedtest

from probes.network.public.errors import OutOfTime, why


def _cert_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    """As the ssl module raises it: verify_code and verify_message set on the exception."""
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    error.verify_code, error.verify_message = code, message
    return error


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        # speedtest-cli wraps urllib's error in its own: ConfigRetrievalError(URLError(...)).
        (speedtest.ConfigRetrievalError(URLError(socket.gaierror(-2, "Name or service not known"))),
         "could not be looked up"),
        (speedtest.ConfigRetrievalError(URLError(ConnectionRefusedError(111, "refused"))),
         "offline"),
        (URLError(OSError(101, "Network is unreachable")), "offline"),
        (URLError(TimeoutError("timed out")), "did not answer in time"),
        (OutOfTime(12), "did not answer within 12 s"),
        (speedtest.SpeedtestBestServerFailure("Unable to connect"), "none of the nearest"),
        (speedtest.SpeedtestConfigError("Malformed speedtest.net configuration"),
         "could not understand"),
        (NameError("name 'DOM' is not defined"), "could not understand"),
        (URLError(_cert_error(20, "unable to get local issuer certificate")),
         "does not trust the certificate"),
        (URLError(_cert_error(10, "certificate has expired")), "date and time"),
        (URLError(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")),
         "secure connection to speedtest.net failed"),
    ],
)  # fmt: skip
def test_sentences(exc: BaseException, words: str) -> None:
    sentence = why(exc)
    assert words in sentence
    assert "\n" not in sentence and "Traceback" not in sentence
