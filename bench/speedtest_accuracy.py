"""Bench (run by hand, as root): the public backends against iperf3 on shaped lab links.

    .venv/bin/python -m bench.speedtest_accuracy [--backend all|speedtest|cloudflare]
                                                 [--grid square|full]
                                                 [--links 25/5/80/1,...] [--runs 3]

The lab grid of issue 15: 5/1, 25/5, 100/20 Mbit/s; 20, 80, 200 ms round trip; 0, 1, 3 % loss
(each way). `--grid full` runs all 27 links; the default `square` is a 9-link Latin square
(loss index = (rate index + RTT index) mod 3) that covers every rate x RTT, rate x loss and
RTT x loss pair once. Links: labs.network (tc tbf per direction with 50 ms queues, the TUN
relay's delay, iptables random loss).

Per link, for each backend (all of them by default, on the same link and against the same truth):
iperf3's TCP goodput with the backend's stream count (8, -P 8, 6 s after 2 s omitted; fewer where
iperf3 -P 8 gives no result, marked P4) as the throughput truth, before and after homecheck (their
mean; their ratio shows how much the truth itself moves on that link); then the backend's stand-in
on the far side (labs/network/speedtest_fake.py for speedtest; labs/network/cloudflare_fake.py,
reached by its real name through the lab's DNS server, for cloudflare) and homecheck's public
backend (`run_speedtest` or `run_cloudflare`, production settings) `--runs` times: download and
upload against iperf3, the spread of the runs ((max - min) / mean), the quiet delay against the set
round trip, and the wall time of the network phase. Beside it, once, speedtest-cli's own
download()/upload() (the method homecheck used before issue 15: all bytes over all the time, upload
counted into the send buffer); the cloudflare backend has no old method.

Targets (issue 15): 0.97-1.03 of iperf3, spread <= 2 %, RTT within 1 ms or 2 %, phase <= 15 s.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homecheck.probe import ProbeContext
from labs.network import Link, LinkSpec, check_environment
from labs.network.link import ROOT
from probes.network.public.backend import SpeedtestSettings
from probes.network.public.cloudflare import CloudflareSettings

RATES = ((5.0, 1.0), (25.0, 5.0), (100.0, 20.0))
RTTS = (20.0, 80.0, 200.0)
LOSSES = (0.0, 1.0, 3.0)
# The backends' stream count: iperf3 -P with the same count is the fair truth.
STREAMS = SpeedtestSettings().streams
assert CloudflareSettings().streams == STREAMS
TARGET_RATIO = (0.97, 1.03)
TARGET_SPREAD = 0.02
TARGET_PHASE_S = 15.0


@dataclass(frozen=True)
class Case:
    down: float
    up: float
    rtt: float
    loss: float

    @property
    def name(self) -> str:
        return f"{self.down:g}/{self.up:g} {self.rtt:g}ms {self.loss:g}%"

    def spec(self) -> LinkSpec:
        return LinkSpec(
            down_mbps=self.down,
            up_mbps=self.up,
            rtt_ms=self.rtt,
            loss_down_pct=self.loss,
            loss_up_pct=self.loss,
            queue_ms=50,
        )


def grid(kind: str) -> list[Case]:
    if kind == "full":
        return [Case(d, u, r, loss) for (d, u), r, loss in itertools.product(RATES, RTTS, LOSSES)]
    return [
        Case(d, u, r, LOSSES[(i + j) % 3])
        for i, (d, u) in enumerate(RATES)
        for j, r in enumerate(RTTS)
    ]


def parse_links(text: str) -> list[Case]:
    cases = []
    for item in text.split(","):
        parts = item.split("/")
        if len(parts) not in (3, 4):
            raise ValueError(f"--links: {item!r} is not DOWN/UP/RTT[/LOSS]")
        values = [float(p) for p in parts]
        cases.append(Case(values[0], values[1], values[2], values[3] if len(parts) == 4 else 0.0))
    return cases


# --- the backends: a stand-in on the far side, homecheck's run, the old method -----------------
@contextlib.contextmanager
def speedtest_stand_in(link: Link) -> Iterator[None]:
    """labs/network/speedtest_fake.py in the server namespace, reached as production does:
    the configuration through the proxy variables over TLS to a test CA, the listed server
    direct."""
    tls = tempfile.mkdtemp(prefix="hcnl-bench-tls-")
    argv = ["labs/network/speedtest_fake.py", "--host", link.server_addr, "--port", "8080"]
    fake = link.popen("server", [sys.executable, *argv, "--tls-dir", tls])
    assert fake.stdout is not None
    line = fake.stdout.readline()
    if "ca=" not in line:
        raise SystemExit(f"the speedtest.net stand-in did not start: {line.strip()}")
    proxy = f"http://{link.server_addr}:8080"
    env = {"http_proxy": proxy, "https_proxy": proxy, "no_proxy": ""}
    env["SSL_CERT_FILE"] = line.strip().split("ca=", 1)[1]
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def speedtest_homecheck(link: Link) -> dict[str, Any]:
    from probes.network.public.backend import run_speedtest

    began = time.monotonic()
    result = run_speedtest(ProbeContext())
    wall = time.monotonic() - began
    return _figures(result.measurements, result.series, result.reason, result.details, wall)


def _figures(
    measurements: Any, series: Any, reason: str | None, details: Any, wall: float | None = None
) -> dict[str, Any]:
    values = {m.metric: m.value for m in measurements}
    rtt = next((s for s in series if s.name == "rtt_ms"), None)
    return {
        "setup": rtt.phases[0][1] if rtt is not None and rtt.phases else float("nan"),
        "down": values.get("network.download_mbps"),
        "up": values.get("network.upload_mbps"),
        "rtt": values.get("network.latency_ms"),
        "wall": wall,
        "reason": reason or details.get("stopped_because"),
    }


def speedtest_cli_old() -> dict[str, Any]:
    """speedtest-cli's own download()/upload(), called as homecheck called them before issue 15
    (5 s down with the configuration's threads, 7 s up on 4 threads, no pre-allocation)."""
    from probes.network.public import trust

    tester = trust.Speedtest(
        config={"length": {"download": 5.0, "upload": 7.0}}, timeout=4.0, secure=True
    )
    tester.get_closest_servers(limit=3)
    tester.get_best_server()
    down = tester.download(threads=None) / 1e6
    up = tester.upload(pre_allocate=False, threads=4) / 1e6
    return {"down": down, "up": up}


@contextlib.contextmanager
def cloudflare_stand_in(link: Link) -> Iterator[None]:
    """labs/network/cloudflare_fake.py on port 443 of the server namespace, reached by its real
    name: the lab's DNS server there resolves speed.cloudflare.com, and the client namespace's
    resolv.conf (bound over /etc/resolv.conf by `ip netns exec`) points at it."""
    tls = tempfile.mkdtemp(prefix="hcnl-bench-cf-tls-")
    dns = link.popen("server", [sys.executable, "labs/network/dns_server.py", "--host",
                                link.server_addr, "--name",
                                f"speed.cloudflare.com={link.server_addr}"])  # fmt: skip
    fake = link.popen("server", [sys.executable, "-m", "labs.network.cloudflare_fake", "--host",
                                 link.server_addr, "--port", "443", "--tls-dir", tls])  # fmt: skip
    assert dns.stdout is not None and fake.stdout is not None
    if "listening" not in dns.stdout.readline():
        raise SystemExit("the lab's DNS server did not start")
    line = fake.stdout.readline()
    if "ca=" not in line:
        raise SystemExit(f"the Cloudflare stand-in did not start: {line.strip()}")
    resolv = Path("/etc/netns") / link.client_ns
    resolv.mkdir(parents=True, exist_ok=True)
    (resolv / "resolv.conf").write_text(f"nameserver {link.server_addr}\n")
    saved = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = line.strip().split("ca=", 1)[1]
    try:
        yield
    finally:
        shutil.rmtree(resolv, ignore_errors=True)
        if saved is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved


# In the client namespace through `ip netns exec`, which gives it the namespace's resolv.conf
# (a thread that only entered the namespace would still read this machine's).
CLOUDFLARE_RUN = """
import json, time
from homecheck.probe import ProbeContext
from probes.network.public.cloudflare import run_cloudflare
began = time.monotonic()
r = run_cloudflare(ProbeContext())
wall = time.monotonic() - began
rtt = next((s for s in r.series if s.name == "rtt_ms"), None)
values = {m.metric: m.value for m in r.measurements}
print(json.dumps({"setup": rtt.phases[0][1] if rtt and rtt.phases else None,
                  "down": values.get("network.download_mbps"),
                  "up": values.get("network.upload_mbps"),
                  "rtt": values.get("network.latency_ms"), "wall": wall,
                  "reason": r.reason or r.details.get("stopped_because")}))
"""


def cloudflare_homecheck(link: Link) -> dict[str, Any]:
    done = subprocess.run(
        ["ip", "netns", "exec", link.client_ns, sys.executable, "-c", CLOUDFLARE_RUN],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SystemExit(f"run_cloudflare failed:\n{done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(lines[-1])
    if figures["setup"] is None:
        figures["setup"] = float("nan")
    return figures


@dataclass(frozen=True)
class Backend:
    stand_in: Callable[[Link], contextlib.AbstractContextManager[None]]
    homecheck: Callable[[Link], dict[str, Any]]
    old: Callable[[], dict[str, Any]] | None


BACKENDS = {
    "speedtest": Backend(speedtest_stand_in, speedtest_homecheck, speedtest_cli_old),
    # Cloudflare has no old method in homecheck to compare with.
    "cloudflare": Backend(cloudflare_stand_in, cloudflare_homecheck, None),
}


def _iperf3(link: Link, download: bool, tries: int = 2) -> tuple[float, int]:
    """iperf3's goodput (Mbit/s) and the stream count it ran with: -P STREAMS, again when its
    JSON has no result (on a busy machine its client can come before the server listens), then
    with fewer streams. On the 1 Mbit/s uplink at a 20 ms round trip (a 50 ms queue holds four
    packets there) iperf3 -P 8 left six streams at 0 bytes and ended with "unable to write to
    stream socket: Connection timed out" every time; -P 4 ran. On a loss-free link the stream
    count does not change the truth, the link's goodput."""
    for streams in (STREAMS, 4, 1):
        for attempt in range(tries):
            try:
                mbps = link.iperf3(download=download, seconds=6, omit_s=2, streams=streams)
                return mbps, streams
            except (KeyError, ValueError):
                if attempt < tries - 1:
                    time.sleep(1.0)
    raise SystemExit(f"iperf3 gave no result on {link.spec} with {STREAMS}, 4 or 1 streams")


# --- one link ------------------------------------------------------------------------------------
def run_case(
    case: Case, backends: dict[str, Backend], runs: int, with_old: bool
) -> list[dict[str, Any]]:
    """Each backend's runs on one link, against the same iperf3 truth (before and after all of
    them): a row per backend."""
    with Link(case.spec()) as link:
        truths: dict[str, list[float]] = {"down": [], "up": []}
        iperf_streams: dict[str, set[int]] = {"down": set(), "up": set()}

        def truth() -> None:
            for way in ("down", "up"):
                mbps, streams = _iperf3(link, way == "down")
                truths[way].append(mbps)
                iperf_streams[way].add(streams)

        truth()
        rows = []
        for name, backend in backends.items():
            hc, old = [], None
            with backend.stand_in(link), link.client():
                for _ in range(runs):
                    hc.append(backend.homecheck(link))
                if with_old and backend.old is not None:
                    try:
                        old = backend.old()
                    except Exception as exc:  # the old method failing is a result, not a crash
                        old = {"error": f"{type(exc).__name__}: {exc}"}
            rows.append(
                {
                    "case": case,
                    "backend": name,
                    "iperf": truths,
                    "iperf_streams": iperf_streams,
                    "hc": hc,
                    "old": old,
                }
            )
        truth()
    return rows


def _ratio_and_spread(values: list[float | None], truth: float) -> tuple[float, float, str]:
    got = [v for v in values if isinstance(v, int | float)]
    if len(got) < len(values) or not got or truth <= 0:
        return float("nan"), float("nan"), " ".join("-" if v is None else f"{v:g}" for v in values)
    mean = statistics.fmean(got)
    return mean / truth, (max(got) - min(got)) / mean, " ".join(f"{v:.2f}" for v in got)


def _flag(good: bool) -> str:
    return "ok" if good else "MISS"


def print_row(row: dict[str, Any]) -> None:
    case: Case = row["case"]
    cells = []
    for way in ("down", "up"):
        iperf = row["iperf"][way]
        truth = statistics.fmean(iperf)
        ratio, spread, runs = _ratio_and_spread([r[way] for r in row["hc"]], truth)
        moved = (max(iperf) - min(iperf)) / truth if truth > 0 else float("nan")
        good = TARGET_RATIO[0] <= ratio <= TARGET_RATIO[1] and spread <= TARGET_SPREAD
        old = row["old"] or {}
        old_ratio = old.get(way, float("nan")) / truth if truth > 0 and way in old else float("nan")
        fewer = sorted(row["iperf_streams"][way] - {STREAMS})
        mark = f"P{','.join(map(str, fewer))}" if fewer else ""
        cells.append(
            f"{mark:>3}{truth:7.2f} ({moved:4.0%}) {ratio:5.3f} {spread:5.1%} {old_ratio:5.3f} "
            f"{_flag(good):>4}  [{runs}]"
        )
    rtts = [r["rtt"] for r in row["hc"] if isinstance(r["rtt"], int | float)]
    rtt = statistics.median(rtts) if rtts else float("nan")
    rtt_ok = abs(rtt - case.rtt) <= max(1.0, 0.02 * case.rtt)
    wall = max(r["wall"] for r in row["hc"])
    setup = max(r["setup"] for r in row["hc"])
    print(
        f"{row['backend']:>10} {case.name:>18} | {cells[0]} | {cells[1]} | "
        f"{rtt:6.1f} {_flag(rtt_ok):>4} | "
        f"{wall:5.1f} {_flag(wall <= TARGET_PHASE_S):>4} (setup {setup:.1f})"
    )
    for r in row["hc"]:
        if r["reason"]:
            print(f"{'':>29}   homecheck: {r['reason']}")
    if row["old"] and "error" in row["old"]:
        print(f"{'':>29}   speedtest-cli: {row['old']['error']}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--backend",
        choices=[*sorted(BACKENDS), "all"],
        default="all",
        help="the public backend to measure, or all of them on each link (the default)",
    )
    parser.add_argument("--grid", choices=("square", "full"), default="square")
    parser.add_argument(
        "--links", help="DOWN/UP/RTT[/LOSS] (Mbit/s, Mbit/s, ms, %%), comma-separated"
    )
    parser.add_argument("--runs", type=int, default=3, help="homecheck runs per link (default 3)")
    parser.add_argument("--no-old", action="store_true", help="skip speedtest-cli's own figure")
    args = parser.parse_args(argv)
    try:
        cases = parse_links(args.links) if args.links else grid(args.grid)
    except ValueError as exc:
        parser.error(str(exc))
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    problem = check_environment()
    if problem:
        print(f"cannot build the lab: {problem}", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    backends = BACKENDS if args.backend == "all" else {args.backend: BACKENDS[args.backend]}
    names = ", ".join(backends)
    print(f"backends {names}; {STREAMS} streams; iperf3 -P {STREAMS} before and after")
    head = "   iperf3 (moved) ratio spread  old  ok"
    print(
        f"{'backend':>10} {'link':>18} | {'download: ' + head:<50} | "
        f"{'upload: ' + head:<50} | {'RTT':>11} | wall"
    )
    for case in cases:
        for row in run_case(case, backends, args.runs, not args.no_old):
            print_row(row)
    print(
        f"targets: ratio {TARGET_RATIO[0]}-{TARGET_RATIO[1]} of iperf3 (mean of the runs), spread "
        f"<= {TARGET_SPREAD:.0%}, RTT within 1 ms or 2 %, phase <= {TARGET_PHASE_S:g} s; old = "
        "speedtest-cli's own figure / iperf3; P4: iperf3 ran with 4 streams (see _iperf3)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
