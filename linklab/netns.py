"""Network namespaces for the link lab: create, enter (per thread), run commands, sweep leftovers.

Every namespace the lab makes is named `hcnl<pid>x<n><side>`, so leftovers of a run that was
killed (its pid is gone) can be found and deleted by the next run without touching anybody else's.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import subprocess
from collections.abc import Iterator, Sequence

PREFIX = "hcnl"
NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
_OURS = re.compile(rf"^{PREFIX}(\d+)x\d+[cs]$")


class LabError(Exception):
    """The lab could not be built (not root, a missing tool, a kernel feature missing).

    Not a `homecheck.errors.HomecheckError` on purpose: the lab is test tooling, not shipped, and
    its errors are for developers. Code that catches HomecheckError (the CLI, a probe turning an
    error into a reason) must never take a broken test bench for a user's bad input.
    """


def run(argv: Sequence[str], timeout: float = 10.0, check: bool = True) -> str:
    """Run a command, return its stdout; LabError with its stderr when it fails."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{' '.join(argv)}: {exc}") from None
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def in_ns(ns: str, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def add(name: str) -> None:
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])


def delete(name: str) -> None:
    run(["ip", "netns", "delete", name], check=False)


def exists(name: str) -> bool:
    return os.path.exists(os.path.join(NETNS_DIR, name))


def sweep_leftovers() -> list[str]:
    """Delete lab namespaces whose creating process is gone; return their names."""
    removed = []
    try:
        names = os.listdir(NETNS_DIR)
    except OSError:
        return removed
    for name in names:
        match = _OURS.match(name)
        if match and not _alive(int(match.group(1))):
            delete(name)
            removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise LabError(f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body (in this thread) inside namespace `name`. Sockets made there stay there, and
    threads started there start there too; the thread returns to its own namespace afterwards."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
    except OSError:
        os.close(own)
        raise LabError(f"no network namespace {name}") from None
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)
