"""`homecheck run` without --server, as a candidate would run it, on the two machines of issue 4.

- No internet: a namespace with only a loopback adapter (DNS server unreachable). The run must
  finish at once with the network NOT MEASURED, a plain reason and the way out, exit code 2.
- A shaped link (labs.network: tc tbf on a veth pair, 20 Mbit/s down, 8 Mbit/s up, 50 ms queues) with
  the local speedtest.net-protocol server on the far side, reached through the proxy variables as
  speedtest-cli allows, with TLS to a test CA as in production, and a real DNS server there too.
  Throughput must be within 3 % of iperf3 (8 streams, as homecheck) on the same link: the
  transfers are homecheck's own, counted where the bytes arrive, ramp-up discarded (the issue 15
  targets, 0.97-1.03 on the lab grid, are bench/speedtest_accuracy.py's).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labs.network import Link, LinkSpec, check_environment
from labs.network.link import ROOT
from labs.network.netns import Netns, host_problem, in_ns
from probes.network.public.backend import SpeedtestSettings
from tests.support.environment import need

pytestmark = pytest.mark.root

DOWN_MBIT, UP_MBIT = 20.0, 8.0


def homecheck_in(ns: str, *args: str, env: dict[str, str] | None = None) -> tuple[Any, str, float]:
    """`homecheck run --only network --json -` in namespace `ns`: (report, terminal, seconds)."""
    started = time.monotonic()
    done = subprocess.run(
        in_ns(
            ns,
            [sys.executable, "-m", "homecheck", "run", "--only", "network", "--json", "-", *args],
        ),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )
    elapsed = time.monotonic() - started
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout), done.stderr, elapsed


def test_no_internet_is_not_measured_with_the_way_out_exit_2() -> None:
    problem = host_problem("iperf3", "iptables", "openssl")
    need(problem is None, problem or "")
    offline = Netns("o")
    try:
        offline.resolv_conf("nameserver 198.18.250.1\n")  # nothing routes there: no network
        started = time.monotonic()
        done = subprocess.run(
            in_ns(offline.name, [sys.executable, "-m", "homecheck", "run", "--only", "network"]),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            check=False,
        )
        elapsed = time.monotonic() - started
    finally:
        offline.delete()
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    # The table (stdout) wraps long reasons; the progress lines (stderr) keep them whole.
    assert "NOT MEASURED" in done.stdout and "INCOMPLETE" in done.stdout
    # Both public services are tried (probes/network/public/choose.py), each reason is given.
    assert "No public speed test could run" in done.stderr
    assert "the name speedtest.net could not be looked up" in done.stderr
    assert "the name speed.cloudflare.com could not be looked up" in done.stderr
    assert "homecheck run --server URL" in done.stderr
    assert "no network route" in done.stdout  # the connection line says why
    assert elapsed < 10  # Python start-up dominates; the probe gives up at once


@pytest.fixture(scope="module")
def link(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Link, dict[str, str]]]:
    why = check_environment() or (None if shutil.which("openssl") else "`openssl` is missing")
    need(why is None, why or "")
    with Link(LinkSpec(down_mbps=DOWN_MBIT, up_mbps=UP_MBIT, queue_ms=50)) as lab:
        # A home's default route points at the far side; the far side forwards nothing further.
        in_ns_ip = ["ip", "-n", lab.client_ns, "route", "add", "default", "via", lab.server_addr]
        subprocess.run(in_ns_ip, check=True, capture_output=True)
        resolv = Path("/etc/netns") / lab.client_ns
        resolv.mkdir(parents=True, exist_ok=True)
        (resolv / "resolv.conf").write_text(f"nameserver {lab.server_addr}\n")
        try:
            dns = lab.popen("server", [sys.executable, str(ROOT / "labs" / "network" / "dns_server.py"),
                                       "--host", lab.server_addr, "--delay-ms", "15"])  # fmt: skip
            fake = lab.popen("server", [sys.executable, str(ROOT / "labs" / "network" / "speedtest_fake.py"),
                                        "--host", lab.server_addr, "--port", "8080",
                                        "--tls-dir", str(tmp_path_factory.mktemp("tls"))])  # fmt: skip
            assert dns.stdout is not None and "listening" in dns.stdout.readline()
            assert fake.stdout is not None
            ready = fake.stdout.readline()
            assert "listening" in ready, ready
            proxy = f"http://{lab.server_addr}:8080"
            env = {"http_proxy": proxy, "https_proxy": proxy, "no_proxy": ""}
            env["SSL_CERT_FILE"] = ready.strip().split("ca=", 1)[1]
            yield lab, env
        finally:
            shutil.rmtree(resolv, ignore_errors=True)


def test_throughput_within_10_percent_of_iperf3(link: tuple[Link, dict[str, str]]) -> None:
    lab, env = link
    streams = SpeedtestSettings().streams  # iperf3 with as many streams as homecheck

    def truth() -> tuple[float, float]:
        return (
            lab.iperf3(download=True, seconds=4, streams=streams),
            lab.iperf3(download=False, seconds=4, streams=streams),
        )

    # The truth is iperf3 before and after the run, and a second attempt is allowed: a busy moment
    # of a shared CI machine once left one iperf3 run at 17.4 on this 20 Mbit/s link while
    # homecheck read 19.25 (as the employer path's lab test does). A probe that is off is off twice.
    attempts = []
    for _ in range(2):
        before = truth()
        report, terminal, elapsed = homecheck_in(lab.client_ns, "--dns-names",
                                                 "crm.test,voip.test", env=env)  # fmt: skip
        after = truth()
        down_truth, up_truth = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
        network = next(p for p in report["probes"] if p["name"] == "network")
        assert network["reason"] is None
        values = {m["metric"]: m["value"] for m in network["measurements"]}
        print(
            f"\niperf3 down {down_truth:.2f} up {up_truth:.2f}; homecheck down "
            f"{values['network.download_mbps']} up {values['network.upload_mbps']} Mbit/s; "
            f"{network['duration_s']:.1f} s in the probe, {elapsed:.1f} s in all"
        )
        attempts.append((values["network.download_mbps"], down_truth,
                         values["network.upload_mbps"], up_truth))  # fmt: skip
        # A correctness bound: the figures are this link's. The accuracy target (0.97-1.03 of
        # iperf3, spread <= 2 %) is bench/speedtest_accuracy.py's, on a quiet machine.
        if values["network.download_mbps"] == pytest.approx(down_truth, rel=0.10) and values[
            "network.upload_mbps"
        ] == pytest.approx(up_truth, rel=0.10):
            break
    else:
        pytest.fail(f"not within 10 % of iperf3 (down, iperf3, up, iperf3) twice: {attempts}")
    assert values["network.latency_ms"] < 5  # a veth pair: well under a millisecond
    assert values["network.loaded_latency_increase_ms"] > 10  # the 50 ms queues fill
    assert values["network.mos"] > 4.0
    assert values["network.connection"] == "wired" and values["network.vpn"] is False
    assert 15 <= values["network.dns_ms"] < 115  # the lab's DNS server answers after 15 ms
    assert network["duration_s"] < 20
    assert "Download speed" in terminal
