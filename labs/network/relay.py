"""A userspace link emulator between two TUN devices: delay +- jitter, loss and rate per direction.

This kernel has no sch_netem and cannot load modules, so delay and jitter are made here: the
relay opens one TUN device in each namespace (`python -m labs.network.relay ...`, as root) and
copies
IP packets between them. Per direction, each packet is held for `delay` plus a uniform random
`+-jitter` (the mean stays `delay`), optionally dropped with probability `loss`, and optionally
serialised at `rate` bit/s behind a queue of at most `queue` bytes (a tail-drop FIFO).

Packets of one flow (same protocol, addresses and ports) leave in the order they came (a late
packet holds back the ones behind it), as on a real access link, so TCP is never reordered;
netem would reorder instead. Different flows are independent: with one order for all, a stream's
delay would grow with the other traffic (each packet waits for the largest random delay among
the packets just ahead of it, whoever sent them), so the truth would depend on the traffic. For a
stream with gaps wider than 2 x jitter (a 20 ms voice stream with jitter up to 10 ms) the order
rule never binds, so its one-way delays are exactly uniform on [delay - jitter, delay + jitter]
and the RFC 3550 jitter to expect is 2/3 of `jitter` (the mean |difference| of two such delays).

Prints "ready" once both devices exist; on SIGTERM prints one JSON line of counters and exits.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import heapq
import json
import os
import random
import select
import signal
import struct
import sys
import threading
import time
from dataclasses import dataclass
from types import FrameType

from labs.network import netns

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
BATCH = 256


@dataclass(frozen=True)
class Shape:
    delay_s: float = 0.0
    jitter_s: float = 0.0
    loss: float = 0.0  # probability 0-1
    rate_bps: float = 0.0  # 0: no rate limit here
    queue_bytes: int = 1 << 20


def open_tun(ns: str, name: str) -> int:
    """A TUN device `name` inside namespace `ns`; the descriptor keeps it alive."""
    with netns.entered(ns):
        fd = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


class Direction(threading.Thread):
    def __init__(self, name: str, src: int, dst: int, shape: Shape, seed: int) -> None:
        super().__init__(name=name, daemon=True)
        self.src, self.dst, self.shape = src, dst, shape
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.counts = {"in": 0, "out": 0, "lost": 0, "queue_drops": 0, "write_errors": 0}

    def run(self) -> None:
        shape = self.shape
        held: list[tuple[float, int, bytes]] = []  # a heap: (release time, arrival no., packet)
        last_release: dict[bytes, float] = {}  # per flow
        arrivals = 0
        line_free_at = 0.0
        while not self.stop.is_set():
            timeout = max(0.0, held[0][0] - time.monotonic()) if held else 0.2
            readable, _, _ = select.select([self.src], [], [], timeout)
            now = time.monotonic()
            for _ in range(BATCH if readable else 0):
                try:
                    packet = os.read(self.src, 65536)
                except BlockingIOError:
                    break
                self.counts["in"] += 1
                if shape.loss and self.rng.random() < shape.loss:
                    self.counts["lost"] += 1
                    continue
                leaves = now
                if shape.rate_bps:
                    start = max(now, line_free_at)
                    if (start - now) * shape.rate_bps / 8 > shape.queue_bytes:
                        self.counts["queue_drops"] += 1
                        continue
                    line_free_at = start + len(packet) * 8 / shape.rate_bps
                    leaves = line_free_at
                wobble = (
                    self.rng.uniform(-shape.jitter_s, shape.jitter_s) if shape.jitter_s else 0.0
                )
                flow = flow_key(packet)
                release = max(leaves + shape.delay_s + wobble, last_release.get(flow, 0.0), now)
                last_release[flow] = release
                arrivals += 1
                heapq.heappush(held, (release, arrivals, packet))
                if len(last_release) > 4096:  # forget flows long gone
                    last_release = {k: v for k, v in last_release.items() if v > now}
            now = time.monotonic()
            while held and held[0][0] <= now:
                _, _, packet = heapq.heappop(held)
                try:
                    os.write(self.dst, packet)
                    self.counts["out"] += 1
                except OSError:  # the far device is down (a cut link): the packet is lost
                    self.counts["write_errors"] += 1


def flow_key(packet: bytes) -> bytes:
    """Protocol, addresses and (for TCP/UDP) ports of an IPv4 or IPv6 packet."""
    if packet[:1] and packet[0] >> 4 == 6 and len(packet) >= 44:
        return packet[6:7] + packet[8:40] + packet[40:44]
    if len(packet) >= 20:
        header = (packet[0] & 0x0F) * 4
        return packet[9:10] + packet[12:20] + packet[header : header + 4]
    return packet


def _shape(prefix: str, args: argparse.Namespace) -> Shape:
    def get(name: str) -> float:
        return float(getattr(args, f"{prefix}_{name}"))

    return Shape(
        delay_s=get("delay_ms") / 1000,
        jitter_s=get("jitter_ms") / 1000,
        loss=get("loss_pct") / 100,
        rate_bps=get("rate_mbps") * 1e6,
        queue_bytes=int(get("queue_kb") * 1000),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labs.network.relay", description=__doc__)
    parser.add_argument("--client-ns", required=True)
    parser.add_argument("--server-ns", required=True)
    parser.add_argument("--dev", default="hcnlt0", help="TUN device name in both namespaces")
    parser.add_argument("--seed", type=int, default=1)
    for side in ("up", "down"):
        for name, default in (
            ("delay_ms", 0.0),
            ("jitter_ms", 0.0),
            ("loss_pct", 0.0),
            ("rate_mbps", 0.0),
            ("queue_kb", 1000.0),
        ):
            parser.add_argument(f"--{side}-{name.replace('_', '-')}", type=float, default=default)
    args = parser.parse_args(argv)
    # The two directions are threads of one process: a thread busy with a batch holds the GIL
    # for up to the switch interval (5 ms by default), which would delay the other direction's
    # due packets and add jitter of the relay's own. Switch every 0.1 ms instead.
    sys.setswitchinterval(1e-4)
    # The link is a piece of hardware to the tests: a busy machine must not slow it (tests and
    # benches running beside it moved iperf3's and homecheck's readings together by up to 10 %).
    # As root, run ahead of ordinary processes; elsewhere, as it is.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    client = open_tun(args.client_ns, args.dev)
    server = open_tun(args.server_ns, args.dev)
    up = Direction("up", client, server, _shape("up", args), args.seed)
    down = Direction("down", server, client, _shape("down", args), args.seed + 1)
    done = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    up.start()
    down.start()
    print("ready", flush=True)
    while not done.wait(0.5):
        pass
    for direction in (up, down):
        direction.stop.set()
        direction.join(1.0)
    print(json.dumps({"up": up.counts, "down": down.counts}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
