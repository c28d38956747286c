"""Does load delay the UDP echo? Its round trip on loopback, idle and while 8 tests download.

Run by hand from the repository root (no root needed; not part of the test suite):

    .venv/bin/python -m bench.echo_under_load              # ~40 s
    .venv/bin/python -m bench.echo_under_load --tests 8 --streams 8 --seconds 8 --web-rps 50

A real `homecheck serve` on 127.0.0.1; an echo client of its own session sends the call-like
stream's packets (172 bytes, 50 a second) and times each answer with the process's fine clock.
First with nothing else running, then while `--tests` client sessions (separate processes, as
separate candidates would be) each download with `--streams` streams, using the network probe's
own download code (probes/network/employer/throughput.py). The median and 95th percentile of the
round trip are printed for each stage, with the downloads' total rate.

The echo shares its event loop with the transfers (the measurement plane): what this shows is
how long a busy loop holds an answer. `run(extra_load=...)` adds a load of your own to the loaded
stage: a callable given the server's ready line and a stop event, run in a thread (the web plane's
requests, for one).

On loopback the clients and the server share the machine's cores, so the loaded figures include
the clients' own CPU use; compare stages, not machines.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homecheck import wire
from homecheck.wire import PACKET_BYTES, REPLY_MAGIC, EchoPacket
from probes.network.employer import session as speed_session
from probes.network.employer import throughput

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INTERVAL_S = 0.020
SERVE = [sys.executable, "-m", "homecheck", "serve", "--port", "0", "--web-port", "0"]
ExtraLoad = Callable[[str, threading.Event], None]


@dataclass
class Stage:
    name: str
    rtts_ms: list[float]
    holds_ms: list[float]  # from the server's kernel receive stamp to its answer
    lost: int
    download_mbps: float | None = None


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else float("nan")


def start_server(tests: int) -> tuple[subprocess.Popen[str], str, str]:
    """`homecheck serve` on a free port, allowing `tests` tests from this one address."""
    allowed = str(tests + 2)
    proc = subprocess.Popen(
        [*SERVE, "--max-tests", allowed, "--max-tests-per-client", allowed],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"listening on (http://\S+:\d+)", line)
    if found is None:
        proc.kill()
        raise SystemExit(f"bench: homecheck serve did not start: {line!r}")
    return proc, found.group(1), line


def echo_stage(url: str, seconds: float) -> tuple[list[float], list[float], int]:
    """Round trips (ms) of the call-like stream for `seconds`, how long the server held each
    (ms, its own stamps: the wait in its event loop), and the packets not answered."""
    session = speed_session.open_session(url, seconds + 30, 3.0)
    assert session.udp_address is not None
    sock = socket.socket(session.endpoint.family, socket.SOCK_DGRAM)
    sock.connect(session.udp_address)
    sock.settimeout(0.5)
    rtts, holds, lost = [], [], 0
    began = time.monotonic()
    seq = 0
    try:
        while time.monotonic() - began < seconds:
            sent_at = time.perf_counter()
            sock.send(wire.encode(EchoPacket(session.token, seq), size=PACKET_BYTES))
            while True:
                try:
                    reply = wire.decode(sock.recv(2048), REPLY_MAGIC)
                except TimeoutError:
                    lost += 1
                    break
                if reply is not None and reply.seq == seq:
                    rtts.append((time.perf_counter() - sent_at) * 1000)
                    holds.append((reply.server_tx_ns - reply.server_rx_ns) / 1e6)
                    break
            seq += 1
            time.sleep(max(0.0, sent_at + INTERVAL_S - time.perf_counter()))
    finally:
        sock.close()
        speed_session.close_session(session)
    return rtts, holds, lost


def _download_test(url: str, streams: int, seconds: float, results: Any) -> None:
    """One candidate's download phase (a process of its own)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    session = speed_session.open_session(url, seconds + 30, 3.0)
    try:
        done = throughput.download(session.endpoint, streams, seconds, threading.Event())
        results.put(done.steady.mbps if done.steady is not None else 0.0)
    finally:
        speed_session.close_session(session)


def run(
    tests: int = 8,
    streams: int = 8,
    seconds: float = 8.0,
    extra_load: ExtraLoad | None = None,
) -> list[Stage]:
    """The stages: idle, `tests` downloads at once, and with `extra_load` too when given."""
    proc, url, line = start_server(tests)
    stages = []
    try:
        stages.append(Stage("idle", *echo_stage(url, seconds)))
        loads: list[tuple[str, ExtraLoad | None]] = [(f"{tests} tests downloading", None)]
        if extra_load is not None:
            loads.append((f"{tests} tests downloading + web plane load", extra_load))
        for name, extra in loads:
            stages.append(_loaded(name, url, line, tests, streams, seconds, extra))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    return stages


def _loaded(
    name: str,
    url: str,
    line: str,
    tests: int,
    streams: int,
    seconds: float,
    extra: ExtraLoad | None,
) -> Stage:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    # The downloads run a little longer than the echo, which starts once they ramped up.
    workers = [
        context.Process(target=_download_test, args=(url, streams, seconds + 2.0, results))
        for _ in range(tests)
    ]
    for worker in workers:
        worker.start()
    stop = threading.Event()
    extra_thread = None
    if extra is not None:
        extra_thread = threading.Thread(target=extra, args=(line, stop), daemon=True)
        extra_thread.start()
    time.sleep(1.5)
    rtts, holds, lost = echo_stage(url, seconds - 1.0)
    stop.set()
    rates = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
    if extra_thread is not None:
        extra_thread.join(10)
    return Stage(name, rtts, holds, lost, sum(rates))


def web_requests(per_second: float) -> ExtraLoad:
    """The web plane's load: `per_second` GET requests to its pages (front page and health
    check, alternately, each on a new connection as separate browsers would), paced evenly."""

    def load(line: str, stop: threading.Event) -> None:
        found = re.search(r"web plane on (https?)://(\S+):(\d+)", line)
        if found is None:
            raise SystemExit(f"bench: no web plane in the ready line: {line!r}")
        host, port = found.group(2).strip("[]"), int(found.group(3))
        paths, sent, failed = ("/", "/healthz"), 0, 0
        began = time.monotonic()
        while not stop.is_set():
            conn = http.client.HTTPConnection(host, port, timeout=5)
            try:
                conn.request("GET", paths[sent % 2])
                if conn.getresponse().status != 200:
                    failed += 1
            except OSError:
                failed += 1
            finally:
                conn.close()
            sent += 1
            stop.wait(max(0.0, began + sent / per_second - time.monotonic()))
        elapsed = time.monotonic() - began
        WEB_LOAD.append((sent / elapsed if elapsed else 0.0, failed))

    return load


# What the web load achieved (requests/s, failures), per loaded stage that had it.
WEB_LOAD: list[tuple[float, int]] = []


def print_table(stages: list[Stage], tests: int, streams: int) -> None:
    print(f"\nUDP echo on 127.0.0.1 (172-byte packets, 50/s; {tests} tests x {streams} streams "
          "downloading when loaded). Round trip as the client sees it; held: from the server's "
          "kernel receive stamp to its answer (its event loop's wait)")  # fmt: skip
    print(f"  {'stage':40} {'RTT median':>10} {'RTT p95':>8} {'held med':>9} {'held p95':>9} "
          f"{'answered':>8} {'lost':>5} {'downloads Mbit/s':>17}")  # fmt: skip
    for stage in stages:
        rate = "—" if stage.download_mbps is None else f"{stage.download_mbps:.0f}"
        print(
            f"  {stage.name:40} {median(stage.rtts_ms):10.3f} {p95(stage.rtts_ms):8.3f} "
            f"{median(stage.holds_ms):9.3f} {p95(stage.holds_ms):9.3f} "
            f"{len(stage.rtts_ms):8d} {stage.lost:5d} {rate:>17}"
        )
    for rate, failed in WEB_LOAD:
        print(f"  web plane load: {rate:.1f} requests/s served, {failed} failed")
    print(f"\nmachine load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=8, help="tests downloading at once")
    parser.add_argument("--streams", type=int, default=8, help="streams per test (the probe's 8)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each stage")
    parser.add_argument(
        "--web-rps",
        type=float,
        default=50.0,
        help="requests a second to the web plane in a third stage (0: no such stage)",
    )
    args = parser.parse_args(argv)
    extra = web_requests(args.web_rps) if args.web_rps > 0 else None
    stages = run(args.tests, args.streams, args.seconds, extra)
    print_table(stages, args.tests, args.streams)
    return 0


if __name__ == "__main__":
    sys.exit(main())
