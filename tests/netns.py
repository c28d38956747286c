"""Network namespaces for tests of the public backend and the connection facts (prefix `hcnp`).

`Netns` makes a namespace and runs commands or Python in it; `VethPair` joins two namespaces with
a veth pair and can shape each direction with `tc tbf` (a token bucket: a real rate limit with a
bounded queue). Everything lives in namespaces the test creates: addresses are only inside them,
and nothing is routed off this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable


def sh(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=timeout)


def lab_problem() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    for tool in ("ip", "tc", "ethtool", "iperf3", "iptables", "openssl"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    probe = f"hcnp{uuid.uuid4().hex[:6]}"
    made = sh("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    sh("ip", "netns", "del", probe, check=False)
    return None


class Netns:
    def __init__(self, tag: str) -> None:
        self.name = f"hcnp{tag}{uuid.uuid4().hex[:4]}"
        sh("ip", "netns", "add", self.name)
        self.ip("link", "set", "lo", "up")
        self._etc = Path("/etc/netns") / self.name

    def ip(self, *args: str) -> str:
        return sh("ip", "-n", self.name, *args).stdout

    def run(self, *args: str, check: bool = True, timeout: float = 30) -> str:
        return sh("ip", "netns", "exec", self.name, *args, check=check, timeout=timeout).stdout

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["ip", "netns", "exec", self.name, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )

    def python(self, code: str, env: dict[str, str] | None = None, timeout: float = 60) -> object:
        """Run `code` (which prints one JSON document last) in this namespace; return it."""
        done = subprocess.run(
            ["ip", "netns", "exec", self.name, PYTHON, "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", **(env or {})},
        )
        if done.returncode != 0:
            raise AssertionError(f"python in {self.name} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def resolv_conf(self, text: str) -> None:
        """`ip netns exec` mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf."""
        self._etc.mkdir(parents=True, exist_ok=True)
        (self._etc / "resolv.conf").write_text(text)

    def delete(self) -> None:
        sh("ip", "netns", "del", self.name, check=False)
        shutil.rmtree(self._etc, ignore_errors=True)


class VethPair:
    """Two namespaces joined by a veth pair: `a` at 10.77.N.1, `b` at 10.77.N.2 (/24)."""

    def __init__(self, a: Netns, b: Netns, subnet: int = 1) -> None:
        self.a, self.b = a, b
        tag = uuid.uuid4().hex[:4]
        self.dev_a, self.dev_b = f"hcnpa{tag}", f"hcnpb{tag}"
        self.addr_a, self.addr_b = f"10.77.{subnet}.1", f"10.77.{subnet}.2"
        sh("ip", "link", "add", self.dev_a, "netns", a.name, "type", "veth",
           "peer", "name", self.dev_b, "netns", b.name)  # fmt: skip
        for ns, dev, addr in ((a, self.dev_a, self.addr_a), (b, self.dev_b, self.addr_b)):
            ns.ip("addr", "add", f"{addr}/24", "dev", dev)
            ns.ip("link", "set", dev, "up")
            # One drop must not remove a 64 KB super-packet: shape real MTU-sized packets.
            ns.run("ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", check=False)

    def shape(self, a_to_b_mbit: float, b_to_a_mbit: float, queue_ms: float = 50) -> None:
        """tbf on each side's egress; the queue holds `queue_ms` of traffic at the rate."""
        for ns, dev, rate in ((self.a, self.dev_a, a_to_b_mbit), (self.b, self.dev_b, b_to_a_mbit)):
            limit = max(int(rate * 1e6 / 8 * queue_ms / 1000), 3000)
            burst = max(int(rate * 1e6 / 8 / 250), 3000)  # HZ=250 worth of tokens, >= 2 MTU
            ns.run("tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", f"{rate}mbit",
                   "burst", str(burst), "limit", str(limit))  # fmt: skip
