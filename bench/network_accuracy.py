"""How right is the network probe? Set vs measured on lab links, beside iperf3 and speedtest-cli.

Run by hand, as root, from the repository root (not part of the test suite):

    .venv/bin/python -m bench.network_accuracy            # the grid below, ~8 minutes
    .venv/bin/python -m bench.network_accuracy --quick    # three links and the loopback ceiling
    .venv/bin/python -m bench.network_accuracy --loopback-only --runs 3   # the ceiling, ~1 min
    .venv/bin/python -m bench.network_accuracy --precision   # jitter + loss links, 5 runs, ~6 min

Per link (labs.network: veth/TUN relay, tbf rate, iptables loss): the set values; iperf3's TCP
goodput (the throughput truth, 5 s after 2 s omitted, with as many streams as homecheck uses:
probes.network.Timing.streams, 8); homecheck's default network phase
(probes/network/__init__.py, the same code `homecheck run --server` uses) with its wall time; and
speedtest-cli against a local server speaking speedtest.net's protocol
(labs/network/speedtest_fake.py).
Truths for the other figures:
- RTT: the relay's set round trip. (tbf does not model serialisation: a lone 200-byte packet on
  an idle line finds tokens in the bucket and leaves at once, so no per-rate term is added);
- jitter: 2/3 of the set +-j (the mean |D| of two uniform delays, see labs/network/relay.py);
- loss: the set probability (the target), and beside it the loss the link really dealt the loss
  probe's packets, counted by its iptables rules. A random drop's realised rate varies too: over
  the ~3,900 packets a direction of a default run it spreads by 0.27 pp (sd) around 3 %, so even
  a perfect counter lands within 0.5 pp of a set 3 % in about 93 runs of 100 (99.8 at 1 %).
Targets (issue 3): throughput 0.97-1.02 of iperf3; RTT within 1 ms or 2 %; jitter within 1 ms;
loss within 0.5 pp; network phase <= 15 s; loopback ceiling >= 0.5 of iperf3.

The full grid (3 rates x 3 delays x 3 losses = 27 links, ~45 s each) takes 20 minutes; the
default runs a representative subset that varies one factor at a time around 25/5 Mbit, 20 ms.

Precision (`--precision`): links with delay jitter and random loss together, each tried five
times in a row as a user would (iperf3 down, iperf3 up, homecheck, five times on the same link).
Per run the ratio to iperf3; per link the median and the spread of the five homecheck readings
((max - min) / median). Targets (issue 12): every run 0.97-1.03 of iperf3, spread <= 2 %.
`--streams N` makes homecheck and iperf3 both use N streams (to compare stream counts).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import psutil

from bench import echo_under_load
from homecheck.model import ProbeResult
from homecheck.probe import ProbeContext, ProbeOptions
from labs.network import Link, LinkSpec, check_environment
from labs.network.link import ROOT
from probes.network import NetworkProbe, Timing


@dataclass(frozen=True)
class Case:
    name: str
    spec: LinkSpec
    duration_s: float | None = None  # `--duration`: a longer quiet stretch, more packets


def _case(down: float, up: float, rtt: float, loss: float = 0.0, jitter: float = 0.0) -> Case:
    name = f"{down:g}/{up:g} {rtt:g}ms" + (f" ±{jitter:g}" if jitter else "") + f" {loss:g}%"
    return Case(
        name,
        LinkSpec(
            down_mbps=down,
            up_mbps=up,
            rtt_ms=rtt,
            jitter_ms=jitter,
            loss_down_pct=loss,
            loss_up_pct=loss,
            queue_ms=50,
        ),
    )


GRID = [
    _case(5, 1, 20),
    _case(25, 5, 20),
    _case(100, 20, 20),
    _case(25, 5, 80),
    _case(25, 5, 200),
    _case(25, 5, 20, 1.0),
    _case(25, 5, 20, 3.0),
    _case(25, 5, 80, 0.0, jitter=5.0),
]
GRID.append(Case("25/5 20ms 3% --duration 60", GRID[6].spec, duration_s=60))
QUICK = [GRID[1], GRID[4], GRID[6]]
PRECISION = [
    _case(25, 5, 60, 1.0, jitter=5.0),
    _case(10, 2, 40, 2.0, jitter=8.0),
]
FULL = [
    _case(d, u, r, loss)
    for d, u in ((5, 1), (25, 5), (100, 20))
    for r in (20, 80, 200)
    for loss in (0.0, 1.0, 3.0)
]


def _value(result: ProbeResult, metric: str) -> float | None:
    found = result.measurement(metric)
    return None if found is None or isinstance(found.value, str) else float(found.value)


def _homecheck(
    link: Link, url: str, duration_s: float | None, streams: int
) -> tuple[ProbeResult, float]:
    began = time.monotonic()
    options = ProbeOptions(server=url, duration_s=duration_s)
    with link.client():
        result = NetworkProbe(Timing(streams=streams)).run(ProbeContext(options=options))
    return result, time.monotonic() - began


def _speedtest(link: Link) -> dict[str, Any]:
    fake = link.popen(
        "server",
        [
            sys.executable,
            "labs/network/speedtest_fake.py",
            "--host",
            link.server_addr,
            "--port",
            "8080",
            "--tls-dir",
            tempfile.mkdtemp(prefix="hcnl-tls-"),
        ],
    )
    assert fake.stdout is not None
    fake.stdout.readline()
    cli = os.path.join(os.path.dirname(sys.executable), "speedtest-cli")
    argv = [
        "ip",
        "netns",
        "exec",
        link.client_ns,
        "env",
        f"http_proxy=http://{link.server_addr}:8080",
        cli,
        "--json",
    ]
    began = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    wall = time.monotonic() - began
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:], "wall": wall}
    data = json.loads(done.stdout)
    return {
        "down": data["download"] / 1e6,
        "up": data["upload"] / 1e6,
        "ping": data["ping"],
        "wall": wall,
    }


def run_case(case: Case, with_speedtest: bool, streams: int) -> dict[str, Any]:
    spec = case.spec
    with Link(spec) as link:
        url = link.serve()
        truth_down = link.iperf3(download=True, seconds=5, omit_s=2, streams=streams)
        truth_up = link.iperf3(download=False, seconds=5, omit_s=2, streams=streams)
        result, wall = _homecheck(link, url, case.duration_s, streams)
        # The link's own count of the loss probe's packets each way: the loss it really dealt.
        up_out, up_in = (
            link.loss_probe_count("client", "OUTPUT"),
            link.loss_probe_count("server", "INPUT"),
        )
        down_out = link.loss_probe_count("server", "OUTPUT")
        down_in = link.loss_probe_count("client", "INPUT")
        speedtest = _speedtest(link) if with_speedtest else {}
    return {
        "case": case.name,
        "spec": spec,
        "iperf_down": truth_down,
        "iperf_up": truth_up,
        "hc_down": _value(result, "network.download_mbps"),
        "hc_up": _value(result, "network.upload_mbps"),
        "rtt_truth": spec.rtt_ms,
        "hc_rtt": _value(result, "network.latency_ms"),
        "jitter_truth": 2 * spec.jitter_ms / 3,
        "hc_jitter_up": _value(result, "network.jitter_up_ms"),
        "hc_jitter_down": _value(result, "network.jitter_down_ms"),
        "hc_loss_up": _value(result, "network.loss_up_pct"),
        "hc_loss_down": _value(result, "network.loss_down_pct"),
        "actual_loss_up": 100 * (up_out - up_in) / up_out if up_out else None,
        "actual_loss_down": 100 * (down_out - down_in) / down_out if down_out else None,
        "hc_bloat": _value(result, "network.loaded_latency_increase_ms"),
        "hc_mos": _value(result, "network.mos"),
        "hc_wall": wall,
        "default_phase": case.duration_s is None,
        "hc_reason": result.reason,
        "speedtest": speedtest,
    }


def run_precision(case: Case, runs: int, streams: int) -> dict[str, Any]:
    """`runs` times in a row on one link: iperf3 down, iperf3 up, homecheck; the figures."""
    each: list[dict[str, float | None]] = []
    with Link(case.spec) as link:
        url = link.serve()
        for i in range(runs):
            load = os.getloadavg()[0]
            print(
                f"… {case.name} run {i + 1}/{runs} (load {load:.1f})", file=sys.stderr, flush=True
            )
            iperf_down = link.iperf3(download=True, seconds=5, omit_s=2, streams=streams)
            iperf_up = link.iperf3(download=False, seconds=5, omit_s=2, streams=streams)
            result, _ = _homecheck(link, url, None, streams)
            each.append(
                {
                    "iperf_down": iperf_down,
                    "iperf_up": iperf_up,
                    "hc_down": _value(result, "network.download_mbps"),
                    "hc_up": _value(result, "network.upload_mbps"),
                }
            )
    return {"case": case.name, "runs": each}


def _spread(values: list[float]) -> float:
    """(max - min) / median, in %."""
    return 100 * (max(values) - min(values)) / statistics.median(values)


def print_precision(rows: list[dict[str, Any]], streams: int) -> None:
    print(
        f"\nPrecision: each link {len(rows[0]['runs']) if rows else 0} times in a row, homecheck "
        f"and iperf3 both with {streams} streams\n(targets: every run 0.97-1.03 of iperf3, "
        "spread of homecheck's readings <= 2 %; spread = (max - min) / median)"
    )
    for row in rows:
        for d, arrow in (("down", "↓"), ("up", "↑")):
            runs = row["runs"]
            hc = [r[f"hc_{d}"] for r in runs]
            iperf = [r[f"iperf_{d}"] for r in runs]
            if any(v is None for v in hc):
                print(f"  {row['case']:22} {arrow}  homecheck did not measure every run: {hc}")
                continue
            ratios = [h / i for h, i in zip(hc, iperf, strict=True)]
            good = all(0.97 <= x <= 1.03 for x in ratios) and _spread(hc) <= 2.0
            print(
                f"  {row['case']:22} {arrow}  ratios {' '.join(f'{x:.3f}' for x in ratios)}"
                f"   median {statistics.median(ratios):.3f}"
                f"   homecheck {statistics.median(hc):6.2f} Mbit/s spread {_spread(hc):4.1f} %"
                f"   iperf3 {statistics.median(iperf):6.2f} spread {_spread(iperf):4.1f} %"
                f"   {_ok(good)}"
            )
            print(
                f"  {'':22}    iperf3 {' '.join(f'{x:.2f}' for x in iperf)}"
                f"   homecheck {' '.join(f'{x:.2f}' for x in hc)}"
            )


def loopback_ceiling(streams: int) -> dict[str, Any]:
    """homecheck vs iperf3 on 127.0.0.1 (`streams` each way) and the CPU each used."""
    serve = subprocess.Popen(
        [sys.executable, "-m", "homecheck", "serve", "--port", "18777", "--web-port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert serve.stdout is not None
    serve.stdout.readline()
    server_proc = psutil.Process(serve.pid)
    cpu_server0, self0 = server_proc.cpu_times(), resource.getrusage(resource.RUSAGE_SELF)
    options = ProbeOptions(server="http://127.0.0.1:18777")
    result = NetworkProbe(Timing(streams=streams)).run(ProbeContext(options=options))
    cpu_server1, self1 = server_proc.cpu_times(), resource.getrusage(resource.RUSAGE_SELF)
    serve.terminate()
    serve.wait(10)
    hc_cpu = (
        cpu_server1.user
        + cpu_server1.system
        - cpu_server0.user
        - cpu_server0.system
        + self1.ru_utime
        + self1.ru_stime
        - self0.ru_utime
        - self0.ru_stime
    )
    iperf: dict[str, float] = {}
    for direction, flag in (("down", ["-R"]), ("up", [])):
        server = subprocess.Popen(
            ["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", "18778"], stdout=subprocess.DEVNULL
        )
        time.sleep(0.3)
        out = subprocess.run(
            [
                "iperf3",
                "-c",
                "127.0.0.1",
                "-p",
                "18778",
                "-t",
                "4",
                "-O",
                "1",
                "-P",
                str(streams),
                "-J",
                *flag,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        server.wait(10)
        data = json.loads(out.stdout)["end"]
        iperf[direction] = data["sum_received"]["bits_per_second"] / 1e6
        cpu = data["cpu_utilization_percent"]
        iperf[f"{direction}_cpu_pct"] = cpu["host_total"] + cpu["remote_total"]
    phases = result.details.get("phases_s", {})
    load_s = sum(b - a for name, (a, b) in phases.items() if name != "idle")  # type: ignore[union-attr,misc]
    return {
        "hc_down": _value(result, "network.download_mbps"),
        "hc_up": _value(result, "network.upload_mbps"),
        "hc_cpu_pct": 100 * hc_cpu / max(load_s, 1e-9),
        "iperf": iperf,
        "hc_wall": result.duration_s,
        "streams": streams,
    }


def _fmt(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _ok(good: bool) -> str:
    return "ok" if good else "MISS"


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\nThroughput (Mbit/s): iperf3 truth, homecheck (ratio), speedtest-cli (ratio)")
    print(
        f"{'link':22} {'iperf↓':>7} {'hc↓':>7} {'ratio':>6} {'st↓':>7} {'ratio':>6}   "
        f"{'iperf↑':>7} {'hc↑':>7} {'ratio':>6} {'st↑':>7} {'ratio':>6}  target 0.97-1.02"
    )
    for r in rows:
        st = r["speedtest"]
        parts = [f"{r['case']:22}"]
        for d in ("down", "up"):
            truth, hc, s = r[f"iperf_{d}"], r[f"hc_{d}"], st.get(d)
            ratio = hc / truth if hc and truth else None
            parts.append(
                f"{truth:7.2f} {_fmt(hc, 2):>7} {_fmt(ratio, 3):>6} {_fmt(s, 2):>7} "
                f"{_fmt(s / truth if s and truth else None, 3):>6}"
            )
        ratios = [r[f"hc_{d}"] / r[f"iperf_{d}"] for d in ("down", "up") if r[f"hc_{d}"]]
        flag = _ok(len(ratios) == 2 and all(0.97 <= x <= 1.02 for x in ratios))
        print("  ".join(parts) + f"  {flag}")
    print("\nDelay, jitter, loss (homecheck; truths as in the docstring) and wall time")
    print(
        f"{'link':22} {'rtt set':>7} {'truth':>6} {'hc':>6} {'err':>5} {'st ping':>7}  "
        f"{'jit tr':>6} {'hc↑':>5} {'hc↓':>5}  {'loss set':>8} {'act↑':>5} {'hc↑':>5} "
        f"{'act↓':>5} {'hc↓':>5}  {'bloat':>6} {'MOS':>4} {'hc s':>5} {'st s':>5}  targets"
    )
    for r in rows:
        spec, st = r["spec"], r["speedtest"]
        rtt_err = r["hc_rtt"] - r["rtt_truth"] if r["hc_rtt"] is not None else None
        jit_err = max(abs((r[f"hc_jitter_{d}"] or 0) - r["jitter_truth"]) for d in ("up", "down"))
        loss_err = max(abs((r[f"hc_loss_{d}"] or 0) - spec.loss_up_pct) for d in ("up", "down"))
        flags = [
            _ok(rtt_err is not None and abs(rtt_err) <= max(1.0, 0.02 * r["rtt_truth"])),
            _ok(jit_err <= 1.0),
            _ok(loss_err <= 0.5),
            _ok(r["hc_wall"] <= 15) if r["default_phase"] else "n/a",
        ]
        print(
            f"{r['case']:22} {spec.rtt_ms:7.1f} {r['rtt_truth']:6.1f} {_fmt(r['hc_rtt']):>6} "
            f"{_fmt(rtt_err, 2):>5} {_fmt(st.get('ping')):>7}  {r['jitter_truth']:6.2f} "
            f"{_fmt(r['hc_jitter_up'], 2):>5} {_fmt(r['hc_jitter_down'], 2):>5}  "
            f"{spec.loss_up_pct:8.1f} {_fmt(r['actual_loss_up'], 2):>5} "
            f"{_fmt(r['hc_loss_up'], 2):>5} "
            f"{_fmt(r['actual_loss_down'], 2):>5} {_fmt(r['hc_loss_down'], 2):>5}  "
            f"{_fmt(r['hc_bloat']):>6} {_fmt(r['hc_mos'], 2):>4} {r['hc_wall']:5.1f} "
            f"{_fmt(st.get('wall')):>5}  rtt {flags[0]} jit {flags[1]} loss {flags[2]} "
            f"time {flags[3]}"
        )
        if st.get("error"):
            print(f"{'':22} speedtest-cli failed: {st['error']}")


def print_loopback(lo: dict[str, Any]) -> None:
    ip = lo["iperf"]
    print(
        f"\nLoopback ceiling (127.0.0.1, {lo['streams']} streams; CPU as % of one core, "
        "client + server)"
    )
    for d in ("down", "up"):
        ratio = (lo[f"hc_{d}"] or 0) / ip[d]
        print(
            f"  {d:4}: homecheck {_fmt(lo[f'hc_{d}'], 0):>7} Mbit/s   iperf3 {ip[d]:7.0f} Mbit/s"
            f"   ratio {ratio:.2f} {_ok(ratio >= 0.5)}   iperf3 CPU {ip[f'{d}_cpu_pct']:.0f} %"
        )
    print(
        f"  homecheck CPU over both load phases: {lo['hc_cpu_pct']:.0f} %   "
        f"network phase {lo['hc_wall']:.1f} s"
    )


def print_median(runs: list[dict[str, Any]]) -> None:
    print(f"\nMedian of {len(runs)} runs")
    for d in ("down", "up"):
        hc = statistics.median(lo[f"hc_{d}"] or 0 for lo in runs)
        ip = statistics.median(lo["iperf"][d] for lo in runs)
        ratios = [(lo[f"hc_{d}"] or 0) / lo["iperf"][d] for lo in runs]
        ratio = statistics.median(ratios)
        each = " ".join(f"{x:.2f}" for x in ratios)
        print(
            f"  {d:4}: homecheck {hc:7.0f} Mbit/s   iperf3 {ip:7.0f} Mbit/s   ratio {ratio:.2f} "
            f"{_ok(ratio >= 0.5)}   (runs: {each})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three links only")
    parser.add_argument("--full", action="store_true", help="the full 27-link cross product")
    parser.add_argument("--no-speedtest", action="store_true", help="skip speedtest-cli")
    parser.add_argument(
        "--loopback-only", action="store_true", help="no lab links: the loopback ceiling only"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        help="loopback ceiling runs (the median is shown too); with --precision, runs per link "
        "(default 5)",
    )
    parser.add_argument(
        "--precision",
        action="store_true",
        help="the jitter + loss links, several runs in a row each: per-run ratios and spread",
    )
    parser.add_argument(
        "--streams",
        type=int,
        default=Timing().streams,
        help="TCP streams for homecheck and iperf3 alike (default: homecheck's, %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.streams < 1 or (args.runs is not None and args.runs < 1):
        parser.error("--streams and --runs must be at least 1")
    if args.loopback_only:
        # Needs no root and no lab: a shared machine varies, so several runs and their median.
        runs = [loopback_ceiling(args.streams) for _ in range(args.runs or 1)]
        for lo in runs:
            print_loopback(lo)
        if len(runs) > 1:
            print_median(runs)
        print(f"\nmachine load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return 0
    why = check_environment()
    if why:
        print(f"bench: {why}", file=sys.stderr)
        return 2
    began = time.monotonic()
    if args.precision:
        precision = [run_precision(case, args.runs or 5, args.streams) for case in PRECISION]
        print_precision(precision, args.streams)
        print(
            f"\n{len(precision)} links in {time.monotonic() - began:.0f} s; machine load "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        return 0
    cases = FULL if args.full else QUICK if args.quick else GRID
    rows = []
    for case in cases:
        print(f"… {case.name}", file=sys.stderr, flush=True)
        rows.append(run_case(case, not args.no_speedtest, args.streams))
    lo = loopback_ceiling(args.streams)
    print_table(rows)
    print_loopback(lo)
    # The echo's answer time while 8 tests download and the web plane serves 50 requests/s
    # (issue 12): the two planes must not delay each other.
    stages = echo_under_load.run(8, args.streams, 8.0, echo_under_load.web_requests(50.0))
    echo_under_load.print_table(stages, 8, args.streams)
    print(
        f"\n{len(rows)} links in {time.monotonic() - began:.0f} s; machine load "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
