"""Network namespaces for the labs: create, enter (per thread), run commands, shape a device,
sweep leftovers. `Link` (link.py) builds a client/server link on these; `Netns` and `VethPair`
are the same pieces for tests that wire their own hosts (a DNS server, a speed-test stand-in).

Every namespace the lab makes is named `hcnl<pid>x<n><tag>`, so leftovers of a run that was
killed (its pid is gone) can be found and deleted by the next run without touching anybody else's.
Addresses live only inside the namespaces: nothing is routed off this machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

PREFIX = "hcnl"
NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
_OURS = re.compile(rf"^{PREFIX}(\d+)x\d+[a-z]*$")
_counter = itertools.count()
ROOT = Path(__file__).resolve().parents[2]
# The project's venv when there is one (python in a namespace runs the checkout under test).
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable


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


def unique_name(tag: str) -> str:
    """A name of ours (swept when this process is gone): `hcnl<pid>x<n><tag>`, at most 15
    characters so it also fits a network device name."""
    name = f"{PREFIX}{os.getpid()}x{next(_counter)}{tag}"
    return name[:15]


def tbf_args(mbps: float, queue_ms: float) -> list[str]:
    """`tc tbf` at `mbps` with a queue of `queue_ms` at that rate: a real rate limit with a
    bounded queue. 2 ms of tokens (at least two full frames) keeps the rate exact at any speed."""
    rate_bytes = mbps * 1e6 / 8
    burst = max(3028, int(rate_bytes * 0.002))
    limit = max(2 * 1514, int(rate_bytes * queue_ms / 1000)) + burst
    return ["tbf", "rate", f"{mbps * 1e6:.0f}bit", "burst", str(burst), "limit", str(limit)]


def shape(ns: str, device: str, mbps: float, queue_ms: float) -> None:
    """Shape what leaves `device` in namespace `ns`."""
    run(["tc", "-n", ns, "qdisc", "replace", "dev", device, "root", *tbf_args(mbps, queue_ms)])


def host_problem(*tools: str) -> str | None:
    """Why test hosts cannot be made here (not root, a tool missing, no namespaces), or None."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    for tool in ("ip", "tc", "ethtool", *tools):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    probe = unique_name("p")
    try:
        add(probe)
    except LabError as exc:
        return f"cannot create a network namespace: {exc}"
    delete(probe)
    return None


class Netns:
    """One test host: a namespace with its loopback up, for commands, processes and Python."""

    def __init__(self, tag: str) -> None:
        self.name = unique_name(tag)
        add(self.name)
        self._etc = Path("/etc/netns") / self.name

    def ip(self, *args: str) -> str:
        return run(["ip", "-n", self.name, *args])

    def run(self, *args: str, check: bool = True, timeout: float = 30) -> str:
        return run(in_ns(self.name, args), timeout=timeout, check=check)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            in_ns(self.name, args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )

    def python(self, code: str, env: dict[str, str] | None = None, timeout: float = 60) -> object:
        """Run `code` (which prints one JSON document last) in this namespace; return it."""
        done = subprocess.run(
            in_ns(self.name, [PYTHON, "-c", code]),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )
        if done.returncode != 0:
            raise LabError(f"python in {self.name} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def resolv_conf(self, text: str) -> None:
        """`ip netns exec` mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf."""
        self._etc.mkdir(parents=True, exist_ok=True)
        (self._etc / "resolv.conf").write_text(text)

    def delete(self) -> None:
        delete(self.name)
        shutil.rmtree(self._etc, ignore_errors=True)


class VethPair:
    """Two hosts joined by a veth pair: `a` at 10.77.N.1, `b` at 10.77.N.2 (/24)."""

    def __init__(self, a: Netns, b: Netns, subnet: int = 1) -> None:
        self.a, self.b = a, b
        self.dev_a, self.dev_b = unique_name("a"), unique_name("b")
        self.addr_a, self.addr_b = f"10.77.{subnet}.1", f"10.77.{subnet}.2"
        run(["ip", "link", "add", self.dev_a, "netns", a.name, "type", "veth",
             "peer", "name", self.dev_b, "netns", b.name])  # fmt: skip
        for ns, dev, addr in ((a, self.dev_a, self.addr_a), (b, self.dev_b, self.addr_b)):
            ns.ip("addr", "add", f"{addr}/24", "dev", dev)
            ns.ip("link", "set", dev, "up")
            # One drop must not remove a 64 KB super-packet: shape real MTU-sized packets.
            ns.run("ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", check=False)

    def shape(self, a_to_b_mbit: float, b_to_a_mbit: float, queue_ms: float = 50) -> None:
        """tbf on each side's egress (the labs' one formula, `tbf_args`)."""
        shape(self.a.name, self.dev_a, a_to_b_mbit, queue_ms)
        shape(self.b.name, self.dev_b, b_to_a_mbit, queue_ms)
