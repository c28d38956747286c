"""A shaped link between two network namespaces, built for one test and torn down after it.

    client namespace                                   server namespace
    hcnlv0 198.18.0.1/24  <------- veth pair ------->  hcnlv0 198.18.0.2/24
    hcnlt0 198.18.1.1 p2p <-- TUN -- relay -- TUN -->  hcnlt0 198.18.1.2 p2p

Addresses are from 198.18.0.0/15 (RFC 2544, reserved for benchmarking) and exist only inside the
two namespaces; neither has a default route, so nothing can leave the machine. A link without
delay or jitter uses the veth pair (kernel forwarding only); with delay or jitter, traffic goes to
the server's TUN address and through the userspace relay (labs/network/relay.py).

On the device that carries the traffic, in each namespace:
- offloads off (TSO/GSO/GRO), so one random drop removes one packet, not a 64 KB super-packet;
- `tc tbf` at the side's rate (client side = upload, server side = download) with a queue of
  `queue_ms` at that rate: a deep queue gives real bufferbloat, a shallow one drops instead;
- loss: an iptables `statistic --mode random` DROP rule on the way out (dropped UDP packets are
  counted apart), and a counting rule for UDP arriving, so a test knows exactly how many of its
  UDP packets got through each way, whatever dropped the others (the loss rule or a full queue).
`close()` kills every process the link started and deletes both namespaces; it runs on exit too.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from labs.network import netns
from labs.network.netns import LabError

VETH, TUN = "hcnlv0", "hcnlt0"
VETH_CLIENT, VETH_SERVER = "198.18.0.1", "198.18.0.2"
TUN_CLIENT, TUN_SERVER = "198.18.1.1", "198.18.1.2"
DROP_CHAIN = "HCNL_DROP"
LOSS_IP_BYTES = 20 + 8 + 36  # a loss-probe packet (homecheck/wire.py LOSS_BYTES)
# The repository: `python -m labs.network.relay` runs from it.
ROOT = Path(__file__).resolve().parents[2]
_counter = itertools.count()


@dataclass(frozen=True)
class LinkSpec:
    down_mbps: float | None = None  # server -> client; None: no rate limit
    up_mbps: float | None = None  # client -> server
    rtt_ms: float = 0.0  # added by the relay, half each way
    jitter_ms: float = 0.0  # +- per direction, uniform
    loss_down_pct: float = 0.0
    loss_up_pct: float = 0.0
    queue_ms: float = 20.0  # tbf queue depth, in time at the link's rate

    @property
    def relayed(self) -> bool:
        return self.rtt_ms > 0 or self.jitter_ms > 0


def check_environment() -> str | None:
    """Why the lab cannot be built here, or None when it can."""
    if os.geteuid() != 0:
        return "the link lab needs root (network namespaces, tc, iptables)"
    for tool in ("ip", "tc", "iptables", "ethtool", "iperf3"):
        if shutil.which(tool) is None:
            return f"the link lab needs `{tool}` (Debian packages iproute2 iptables ethtool iperf3)"
    if not os.path.exists("/dev/net/tun"):
        return "the link lab needs /dev/net/tun"
    return None


class Link:
    def __init__(self, spec: LinkSpec) -> None:
        why = check_environment()
        if why:
            raise LabError(why)
        netns.sweep_leftovers()
        self.spec = spec
        tag = f"{netns.PREFIX}{os.getpid()}x{next(_counter)}"
        self.client_ns, self.server_ns = f"{tag}c", f"{tag}s"
        self.processes: list[subprocess.Popen[str]] = []
        self.relay: subprocess.Popen[str] | None = None
        self.relay_counts: dict[str, dict[str, int]] = {}
        self._closed = False
        atexit.register(self.close)
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    @property
    def device(self) -> str:
        return TUN if self.spec.relayed else VETH

    @property
    def server_addr(self) -> str:
        return TUN_SERVER if self.spec.relayed else VETH_SERVER

    @property
    def client_addr(self) -> str:
        return TUN_CLIENT if self.spec.relayed else VETH_CLIENT

    def _build(self) -> None:
        spec = self.spec
        for ns in (self.client_ns, self.server_ns):
            netns.add(ns)
        netns.run(
            [
                "ip",
                "link",
                "add",
                VETH,
                "netns",
                self.client_ns,
                "type",
                "veth",
                "peer",
                "name",
                VETH,
                "netns",
                self.server_ns,
            ]
        )
        for ns, addr in ((self.client_ns, VETH_CLIENT), (self.server_ns, VETH_SERVER)):
            netns.run(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", VETH])
            netns.run(["ip", "-n", ns, "link", "set", VETH, "up"])
            netns.run(
                netns.in_ns(ns, ["ethtool", "-K", VETH, "tso", "off", "gso", "off", "gro", "off"])
            )
        if spec.relayed:
            self._start_relay()
        sides = (
            (self.client_ns, spec.up_mbps, spec.loss_up_pct),
            (self.server_ns, spec.down_mbps, spec.loss_down_pct),
        )
        for ns, rate, loss in sides:
            if rate:
                self._tbf(ns, rate)
            if loss:
                self._loss(ns, loss)
            # Count UDP arriving in each namespace: with what was sent, the exact loss per
            # direction, whichever way a packet was lost (random drop or a full queue). The
            # loss probe's packets (LOSS_IP_BYTES long) are also counted apart, leaving too.
            ipt = netns.in_ns(ns, ["iptables", "-w"])
            netns.run([*ipt, "-A", "INPUT", "-p", "udp"])
            size = ["-m", "length", "--length", str(LOSS_IP_BYTES)]
            netns.run([*ipt, "-A", "INPUT", "-p", "udp", *size])
            netns.run([*ipt, "-I", "OUTPUT", "1", "-p", "udp", *size])

    def _start_relay(self) -> None:
        spec = self.spec
        one_way, jitter = spec.rtt_ms / 2, spec.jitter_ms
        argv = [
            sys.executable,
            "-m",
            "labs.network.relay",
            "--client-ns",
            self.client_ns,
            "--server-ns",
            self.server_ns,
            "--dev",
            TUN,
            "--up-delay-ms",
            str(one_way),
            "--down-delay-ms",
            str(one_way),
            "--up-jitter-ms",
            str(jitter),
            "--down-jitter-ms",
            str(jitter),
        ]
        self.relay = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        line = _read_line(self.relay, 10.0)
        if line.strip() != "ready":
            err = self.relay.stderr.read() if self.relay.stderr else ""
            raise LabError(f"the relay did not start: {line or err}")
        for ns, local, peer in (
            (self.client_ns, TUN_CLIENT, TUN_SERVER),
            (self.server_ns, TUN_SERVER, TUN_CLIENT),
        ):
            netns.run(["ip", "-n", ns, "addr", "add", local, "peer", peer, "dev", TUN])
            netns.run(["ip", "-n", ns, "link", "set", TUN, "up"])

    def _tbf(self, ns: str, mbps: float) -> None:
        netns.shape(ns, self.device, mbps, self.spec.queue_ms)

    def _loss(self, ns: str, pct: float) -> None:
        ipt = netns.in_ns(ns, ["iptables", "-w"])
        netns.run([*ipt, "-N", DROP_CHAIN])
        netns.run([*ipt, "-A", DROP_CHAIN, "-p", "udp", "-j", "DROP"])
        netns.run([*ipt, "-A", DROP_CHAIN, "-j", "DROP"])
        netns.run(
            [
                *ipt,
                "-A",
                "OUTPUT",
                "-o",
                self.device,
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                f"{pct / 100:.6f}",
                "-j",
                DROP_CHAIN,
            ]
        )

    def udp_dropped(self, side: str) -> int:
        """UDP packets the loss rule dropped on `side` ("client": upstream, "server": down)."""
        ns = self.client_ns if side == "client" else self.server_ns
        out = netns.run(
            netns.in_ns(ns, ["iptables", "-w", "-L", DROP_CHAIN, "-v", "-x", "-n"]), check=False
        )
        for line in out.splitlines():
            fields = line.split()
            if len(fields) > 3 and fields[2] == "DROP" and fields[3] in ("udp", "17"):
                return int(fields[0])
        return 0

    def udp_arrivals(self, side: str) -> int:
        """UDP packets that arrived in `side`'s namespace ("server": upstream, "client": down)."""
        return self._udp_count(side, "INPUT", sized=False)

    def loss_probe_count(self, side: str, chain: str) -> int:
        """Loss-probe packets (UDP, LOSS_IP_BYTES long) that arrived in ("INPUT") or left
        ("OUTPUT") `side`'s namespace."""
        return self._udp_count(side, chain, sized=True)

    def _udp_count(self, side: str, chain: str, sized: bool) -> int:
        ns = self.client_ns if side == "client" else self.server_ns
        out = netns.run(netns.in_ns(ns, ["iptables", "-w", "-L", chain, "-v", "-x", "-n"]))
        for line in out.splitlines():
            fields = line.split()
            # A counting rule has no target, so the protocol is the third column.
            udp = len(fields) > 3 and fields[0].isdigit() and fields[2] in ("udp", "17")
            if udp and (f"length {LOSS_IP_BYTES}" in line) == sized:
                return int(fields[0])
        return 0

    def block_udp(self) -> None:
        """Drop every UDP packet leaving the client: a network that blocks VoIP."""
        netns.run(
            netns.in_ns(
                self.client_ns, ["iptables", "-w", "-I", "OUTPUT", "-p", "udp", "-j", "DROP"]
            )
        )

    def cut(self) -> None:
        """Take the link down: the server side's device goes down, packets vanish."""
        netns.run(["ip", "-n", self.server_ns, "link", "set", self.device, "down"])

    @contextmanager
    def client(self) -> Iterator[None]:
        """Run the body (this thread and threads it starts) inside the client namespace."""
        with netns.entered(self.client_ns):
            yield

    def popen(self, side: str, argv: Sequence[str]) -> subprocess.Popen[str]:
        ns = self.client_ns if side == "client" else self.server_ns
        proc = subprocess.Popen(
            netns.in_ns(ns, argv),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(proc)
        return proc

    def serve(self, port: int = 8765, extra: Sequence[str] = ()) -> str:
        """Start `homecheck serve` in the server namespace; return its URL once it listens."""
        proc = self.popen(
            "server",
            [
                sys.executable,
                "-m",
                "homecheck",
                "serve",
                "--host",
                self.server_addr,
                "--port",
                str(port),
                "--web-port",
                "0",
                *extra,
            ],
        )
        line = _read_line(proc, 15.0)
        if "listening on" not in line:
            err = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
            raise LabError(f"homecheck serve did not start: {line.strip()} {err.strip()}")
        return f"http://{self.server_addr}:{port}"

    def iperf3(
        self,
        download: bool,
        seconds: float,
        omit_s: float = 1.0,
        streams: int = 4,
        port: int = 5201,
    ) -> float:
        """Receiver-side TCP goodput (Mbit/s) measured by iperf3 on this link: the truth."""
        server = self.popen(
            "server", ["iperf3", "-s", "-1", "-B", self.server_addr, "-p", str(port)]
        )
        time.sleep(0.3)
        argv = [
            "iperf3",
            "-c",
            self.server_addr,
            "-p",
            str(port),
            "-t",
            f"{seconds:g}",
            "-O",
            f"{omit_s:g}",
            "-P",
            str(streams),
            "-J",
            *(["-R"] if download else []),
        ]
        out = netns.run(netns.in_ns(self.client_ns, argv), timeout=seconds + omit_s + 20)
        _stop(server)
        return float(json.loads(out)["end"]["sum_received"]["bits_per_second"]) / 1e6

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for proc in self.processes:
            _stop(proc)
        if self.relay is not None:
            _stop(self.relay)
            if self.relay.stdout is not None:
                tail = self.relay.stdout.read().strip().splitlines()
                if tail and tail[-1].startswith("{"):
                    self.relay_counts = json.loads(tail[-1])
        for ns in (self.client_ns, self.server_ns):
            netns.delete(ns)
        atexit.unregister(self.close)

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The first line the process prints, or "" if it prints nothing in time."""
    import selectors

    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if sel.select(timeout):
            return proc.stdout.readline()
    return ""


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(3.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(3.0)
