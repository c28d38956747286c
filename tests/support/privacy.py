"""What a report must never hold unless the user opts in: this machine's name, the user's name
and any of its interface addresses."""

from __future__ import annotations

import getpass
import re
import socket

import psutil


def assert_private(text: str) -> None:
    assert socket.gethostname() not in text
    assert not re.search(rf"\b{re.escape(getpass.getuser())}\b", text)
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            plain = address.address.split("%")[0]
            if plain and plain not in {"0.0.0.0", "::"}:
                assert plain not in text, "an interface address leaked into the report"
