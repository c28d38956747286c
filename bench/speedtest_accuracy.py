"""Bench (run by hand, as root): the public backend against iperf3 on shaped links.

For each link of a grid (tc tbf on a veth pair between two namespaces, 50 ms queues), iperf3 gives
the ground truth per direction; then the local speedtest.net-protocol server
(tests/speedtest_fake.py) runs on the far side and homecheck's public backend (speedtest-cli plus
the delay probes) on the near side, with the production settings. Prints set rate, iperf3,
homecheck, their ratio, idle delay, delay added under load and wall time.

    .venv/bin/python bench/speedtest_accuracy.py [--links 5/1,25/5,100/20]

Target (issue 4): throughput within 10 % of iperf3.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.netns import PYTHON, Netns, VethPair, lab_problem  # noqa: E402

RUN = """
import json, time
from homecheck.probe import ProbeContext
from probes.speedtest_backend import run_speedtest
started = time.monotonic()
r = run_speedtest(ProbeContext())
print(json.dumps({"elapsed": time.monotonic() - started, "reason": r.reason,
                  "values": {m.metric: m.value for m in r.measurements},
                  "rtt_method": r.details.get("rtt_method")}))
"""


def iperf3(pair: VethPair, reverse: bool) -> float:
    server = pair.b.popen("iperf3", "-s", "-1", "-B", pair.addr_b, "-p", "5299")
    time.sleep(0.3)
    args = ["iperf3", "-c", pair.addr_b, "-p", "5299", "-t", "5", "-O", "1", "-J"]
    out = json.loads(pair.a.run(*args, *(["-R"] if reverse else []), timeout=40))
    server.wait(10)
    return float(out["end"]["sum_received"]["bits_per_second"]) / 1e6


def one_link(down: float, up: float, tls_dir: Path, subnet: int) -> dict[str, object]:
    home, internet = Netns("bh"), Netns("bn")
    try:
        pair = VethPair(home, internet, subnet=subnet)
        pair.shape(a_to_b_mbit=up, b_to_a_mbit=down)
        truth_down, truth_up = iperf3(pair, True), iperf3(pair, False)
        fake = internet.popen(PYTHON, str(ROOT / "tests" / "speedtest_fake.py"), "--host",
                              pair.addr_b, "--port", "8080", "--tls-dir", str(tls_dir))  # fmt: skip
        assert fake.stdout is not None
        ca = fake.stdout.readline().strip().split("ca=", 1)[1]
        proxy = f"http://{pair.addr_b}:8080"
        env = {"http_proxy": proxy, "https_proxy": proxy, "no_proxy": "", "SSL_CERT_FILE": ca}
        out = home.python(RUN, env=env, timeout=120)
        fake.terminate()
        fake.wait(10)
    finally:
        home.delete()
        internet.delete()
    assert isinstance(out, dict)
    return {"iperf3_down": truth_down, "iperf3_up": truth_up, **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--links", default="5/1,25/5,100/20", help="DOWN/UP Mbit/s, comma list")
    args = parser.parse_args()
    problem = lab_problem()
    if problem:
        raise SystemExit(f"cannot build the lab: {problem}")
    tls_dir = Path("/tmp/hcnp-bench-tls")
    tls_dir.mkdir(exist_ok=True)
    header = (
        f"{'set down/up':>12} | {'iperf3 down':>11} {'homecheck':>9} {'ratio':>6} | "
        f"{'iperf3 up':>9} {'homecheck':>9} {'ratio':>6} | {'idle RTT':>8} {'+load':>7} | "
        f"{'probe':>6} {'wall':>6}"
    )
    print(header)
    print("-" * len(header))
    for index, link in enumerate(args.links.split(",")):
        down, up = (float(x) for x in link.split("/"))
        r = one_link(down, up, tls_dir, subnet=20 + index)
        v = r["values"]
        assert isinstance(v, dict)
        dl, ul = v.get("network.download_mbps", 0.0), v.get("network.upload_mbps", 0.0)
        rd, ru = float(r["iperf3_down"]), float(r["iperf3_up"])  # type: ignore[arg-type]
        method = "ICMP" if str(r.get("rtt_method", "")).startswith("ICMP") else "TCP"
        print(
            f"{down:>5g}/{up:<6g} | {rd:>11.2f} {dl:>9.2f} {dl / rd:>6.3f} | "
            f"{ru:>9.2f} {ul:>9.2f} {ul / ru:>6.3f} | "
            f"{v.get('network.latency_ms', float('nan')):>6.2f}ms "
            f"{v.get('network.loaded_latency_increase_ms', float('nan')):>5.1f}ms | "
            f"{method:>6} {float(r['elapsed']):>5.1f}s"  # type: ignore[arg-type]
        )
        if r.get("reason"):
            print(f"    not measured: {r['reason']}")


if __name__ == "__main__":
    main()
