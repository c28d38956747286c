"""Windows' select() on Linux: a selector that refuses three empty sets as Windows does.

Python's docs of select.select: "acceptance of three empty iterables is platform-dependent. (It
is known to work on Unix but not on Windows.)" Winsock's select() answers WSAEINVAL, which Python
raises as OSError "[WinError 10022] An invalid argument was supplied" (errno EINVAL). On Windows
selectors.DefaultSelector is SelectSelector, so this is DefaultSelector there, made real here.
"""

from __future__ import annotations

import errno
import select
import selectors
from typing import Any

import pytest

WSAEINVAL = 10022


class WindowsSelectSelector(selectors.SelectSelector):
    """selectors.SelectSelector as CPython defines it on win32 (writable sockets are also watched
    as exceptional, which is how Winsock reports a failed connect), with Winsock's rule for
    empty sets."""

    empty_selects = 0

    def _select(self, r: Any, w: Any, _: Any, timeout: float | None = None) -> Any:
        if not r and not w:
            type(self).empty_selects += 1
            raise OSError(errno.EINVAL, f"[WinError {WSAEINVAL}] An invalid argument was supplied")
        r, w, x = select.select(r, w, w, timeout)
        return r, w + x, []


def use_windows_select(monkeypatch: pytest.MonkeyPatch) -> type[WindowsSelectSelector]:
    """From now on (until the test ends) every DefaultSelector is Windows' select()."""
    WindowsSelectSelector.empty_selects = 0
    monkeypatch.setattr(selectors, "DefaultSelector", WindowsSelectSelector)
    return WindowsSelectSelector
