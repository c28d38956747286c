"""The sentence for each way speedtest-cli fails, from the exception shapes it really raises."""

from __future__ import annotations

import socket
from urllib.error import URLError

import pytest
import speedtest

from probes.network.public.errors import OutOfTime, why


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
    ],
)  # fmt: skip
def test_sentences(exc: BaseException, words: str) -> None:
    sentence = why(exc)
    assert words in sentence
    assert "\n" not in sentence and "Traceback" not in sentence
