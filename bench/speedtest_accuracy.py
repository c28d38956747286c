"""Bench (run by hand, as root): homecheck's public backend against iperf3 on shaped links.

For each link of a grid (labs.network: tc tbf per direction with 50 ms queues, plus the TUN relay's
delay when an RTT is set), iperf3 gives the throughput truth per direction; then the local
speedtest.net-protocol server (labs/network/speedtest_fake.py) runs on the far side and
homecheck's public
backend (speedtest-cli for the speeds, timed probes for delay) on the near side, with the
production settings. Prints set values, iperf3, homecheck, their ratios, the delay measured against
the set round trip, the delay added under load, and the wall time of the test.

    .venv/bin/python -m bench.speedtest_accuracy [--links 5/1/20,25/5/40,25/5/80,100/20/0]

Target (issue 4): throughput within 10 % of iperf3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any

from labs.network import Link, LinkSpec, check_environment
from labs.network.link import ROOT
from labs.network.netns import in_ns, run

RUN = """
import json, time
from homecheck.probe import ProbeContext
from probes.network.public.backend import run_speedtest
started = time.monotonic()
r = run_speedtest(ProbeContext())
print(json.dumps({"elapsed": time.monotonic() - started, "reason": r.reason,
                  "values": {m.metric: m.value for m in r.measurements},
                  "rtt_method": r.details.get("rtt_method")}))
"""


def one_link(down: float, up: float, rtt: float) -> dict[str, Any]:
    with Link(LinkSpec(down_mbps=down, up_mbps=up, rtt_ms=rtt, queue_ms=50)) as link:
        truth_down = link.iperf3(download=True, seconds=5)
        truth_up = link.iperf3(download=False, seconds=5)
        tls = tempfile.mkdtemp(prefix="hcnp-bench-tls-")
        argv = ["labs/network/speedtest_fake.py", "--host", link.server_addr, "--port", "8080"]
        fake = link.popen("server", [sys.executable, *argv, "--tls-dir", tls])
        assert fake.stdout is not None
        ca = fake.stdout.readline().strip().split("ca=", 1)[1]
        proxy = f"http://{link.server_addr}:8080"
        env = {"http_proxy": proxy, "https_proxy": proxy, "no_proxy": "", "SSL_CERT_FILE": ca}
        os.environ.update(env)
        out = run(in_ns(link.client_ns, [sys.executable, "-c", RUN]), timeout=120)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return {"iperf3_down": truth_down, "iperf3_up": truth_up, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--links", default="5/1/20,25/5/40,25/5/80,100/20/0",
                        help="DOWN/UP/RTT (Mbit/s, Mbit/s, ms), comma-separated")  # fmt: skip
    args = parser.parse_args()
    problem = check_environment()
    if problem:
        raise SystemExit(f"cannot build the lab: {problem}")
    os.chdir(ROOT)
    header = (
        f"{'set down/up, RTT':>18} | {'iperf3':>6} {'homecheck':>9} {'ratio':>5} | "
        f"{'iperf3':>6} {'homecheck':>9} {'ratio':>5} | {'RTT':>6} {'+load':>6} | {'probe':>5} "
        f"{'wall':>5}"
    )
    print(f"{'':18} | {'download (Mbit/s)':^23} | {'upload (Mbit/s)':^23} | {'delay (ms)':^13} |")
    print(header)
    print("-" * len(header))
    for link in args.links.split(","):
        down, up, rtt = (float(x) for x in link.split("/"))
        r = one_link(down, up, rtt)
        v = r["values"]
        dl, ul = v.get("network.download_mbps", 0.0), v.get("network.upload_mbps", 0.0)
        rd, ru = r["iperf3_down"], r["iperf3_up"]
        method = "ICMP" if str(r.get("rtt_method", "")).startswith("ICMP") else "TCP"
        print(
            f"{f'{down:g}/{up:g}, {rtt:g} ms':>18} | {rd:>6.2f} {dl:>9.2f} {dl / rd:>5.3f} | "
            f"{ru:>6.2f} {ul:>9.2f} {ul / ru:>5.3f} | "
            f"{v.get('network.latency_ms', float('nan')):>6.1f} "
            f"{v.get('network.loaded_latency_increase_ms', float('nan')):>6.1f} | "
            f"{method:>5} {r['elapsed']:>4.1f}s"
        )
        if r.get("reason"):
            print(f"    not measured: {r['reason']}")


if __name__ == "__main__":
    main()
