"""Failover between the public speed tests (probes/network/public/choose.py), as a candidate would
meet it: `homecheck run --only network` in a closed network namespace whose "internet" is one
shaped link to a second namespace holding the stand-ins, reached by their real names.

    client namespace --- 10/4 Mbit/s veth (tc tbf) --- "internet" namespace
      resolv.conf -> 198.18.0.2                          198.18.0.2: DNS (labs/network/dns_server.py)
      default route -> 198.18.0.2                          www.speedtest.net:443, c.speedtest.net:80,
                                                           speedtest.isp.example:8080
                                                         198.18.0.3: speed.cloudflare.com:443

Neither namespace routes anywhere else. Each stand-in has its own test CA; the client trusts both
(SSL_CERT_FILE), except in the interception case, where speedtest.net's certificate comes from a
CA this computer does not trust. One failure of speedtest.net at a time must end with Cloudflare's
figures and a report naming both services; both failing must be NOT MEASURED with each reason,
exit 2, within 30 s; `--public-backend cloudflare` must not touch speedtest.net at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labs.network import Link, LinkSpec, check_environment
from labs.network.link import ROOT, VETH
from labs.network.netns import in_ns
from tests.support.environment import need

# Run beside other tests (make test's second pass, tests/conftest.py), where a second attempt is
# allowed (pytest-rerunfailures): these check which service measured and why, and the Cloudflare
# figures only to within 15 % of the set rate, yet once, in CI beside two busy workers, Cloudflare
# read 8.48 on the 10 Mbit/s link. A failover that is really wrong fails both attempts; the
# figures' accuracy is bench/speedtest_accuracy.py's, on a quiet machine.
pytestmark = [pytest.mark.root, pytest.mark.flaky(reruns=1)]

DOWN_MBIT, UP_MBIT = 10.0, 4.0
CLOUDFLARE_ADDR = "198.18.0.3"
LISTED_HOST = "speedtest.isp.example"  # the test server's name in speedtest.net's list
SPEEDTEST_NAMES = ("www.speedtest.net", "c.speedtest.net", LISTED_HOST)


@dataclass
class Internet:
    lab: Link
    speedtest_tls: Path
    cloudflare_tls: Path
    started: list[subprocess.Popen[str]]

    def start(self, argv: Sequence[str]) -> None:
        proc = self.lab.popen("server", [sys.executable, *argv])
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening" in line, line + (proc.stderr.read() if proc.stderr else "")
        self.started.append(proc)

    def services(self, speedtest: str = "ok", cloudflare: str = "ok", dns: bool = True) -> None:
        """DNS, speedtest.net and Cloudflare stand-ins in these modes (until `stop_services`)."""
        server = self.lab.server_addr
        names = [f"speed.cloudflare.com={CLOUDFLARE_ADDR}"]
        if dns:
            names += [f"{name}={server}" for name in SPEEDTEST_NAMES]
        self.start(["labs/network/dns_server.py", "--host", server,
                    *(a for n in names for a in ("--name", n))])  # fmt: skip
        self.start(["labs/network/speedtest_fake.py", "--host", server, "--port", "8080",
                    "--https-port", "443", "--http-port", "80", "--listed-host", LISTED_HOST,
                    "--mode", speedtest, "--tls-dir", str(self.speedtest_tls)])  # fmt: skip
        self.start(["-m", "labs.network.cloudflare_fake", "--host", CLOUDFLARE_ADDR,
                    "--port", "443", "--mode", cloudflare,
                    "--tls-dir", str(self.cloudflare_tls)])  # fmt: skip

    def stop_services(self) -> None:
        for proc in self.started:
            proc.kill()
            proc.wait(5)
            self.lab.processes.remove(proc)
        self.started.clear()

    def trust(self, tmp: Path, speedtest: bool = True) -> dict[str, str]:
        """SSL_CERT_FILE holding the CAs this computer trusts."""
        bundle = tmp / "trusted.pem"
        cas = [self.cloudflare_tls / "ca.pem"] + ([self.speedtest_tls / "ca.pem"] * speedtest)
        bundle.write_text("".join(ca.read_text() for ca in cas))
        return {"SSL_CERT_FILE": str(bundle)}

    def tcp_connections_to_speedtest(self) -> int:
        """New TCP connections the speedtest.net stand-in's address has received (iptables)."""
        out = self.lab_run("iptables", "-L", "HCNL_SYN", "-v", "-x", "-n")
        return sum(int(line.split()[0]) for line in out.splitlines()[2:] if line.strip())

    def lab_run(self, *argv: str) -> str:
        done = subprocess.run(in_ns(self.lab.server_ns, argv), capture_output=True, text=True,
                              check=True, timeout=10)  # fmt: skip
        return done.stdout


@pytest.fixture(scope="module")
def internet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Internet]:
    why = check_environment() or (None if shutil.which("openssl") else "`openssl` is missing")
    need(why is None, why or "")
    with Link(LinkSpec(down_mbps=DOWN_MBIT, up_mbps=UP_MBIT, queue_ms=50)) as lab:
        subprocess.run(["ip", "-n", lab.server_ns, "addr", "add", f"{CLOUDFLARE_ADDR}/24",
                        "dev", VETH], check=True, capture_output=True)  # fmt: skip
        subprocess.run(["ip", "-n", lab.client_ns, "route", "add", "default", "via",
                        lab.server_addr], check=True, capture_output=True)  # fmt: skip
        resolv = Path("/etc/netns") / lab.client_ns
        resolv.mkdir(parents=True, exist_ok=True)
        (resolv / "resolv.conf").write_text(f"nameserver {lab.server_addr}\n")
        net = Internet(
            lab, tmp_path_factory.mktemp("st-tls"), tmp_path_factory.mktemp("cf-tls"), []
        )
        # Count connection attempts to speedtest.net's address (its three ports).
        net.lab_run("iptables", "-N", "HCNL_SYN")
        net.lab_run("iptables", "-I", "INPUT", "-p", "tcp", "--syn", "-d", lab.server_addr,
                    "-j", "HCNL_SYN")  # fmt: skip
        net.lab_run("iptables", "-A", "HCNL_SYN", "-j", "RETURN")
        try:
            # The CAs are made once (the first start of each stand-in writes them).
            net.services()
            net.stop_services()
            yield net
        finally:
            net.stop_services()
            shutil.rmtree(resolv, ignore_errors=True)


def homecheck(net: Internet, tmp: Path, *args: str, env: dict[str, str] | None = None
              ) -> tuple[Any, str, int, float]:  # fmt: skip
    """`homecheck run --only network` in the client namespace: (JSON report, terminal, exit
    code, seconds)."""
    markdown = tmp / "report.md"
    argv = [sys.executable, "-m", "homecheck", "run", "--only", "network", "--json", "-",
            "--markdown", str(markdown), "--dns-names", "speed.cloudflare.com", *args]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(in_ns(net.lab.client_ns, argv), capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={**os.environ, **(env or {})},
                          check=False)  # fmt: skip
    elapsed = time.monotonic() - started
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout)
    return report, done.stderr + markdown.read_text(), done.returncode, elapsed


def network_of(report: Any) -> Any:
    return next(p for p in report["probes"] if p["name"] == "network")


# speedtest.net's failure, what the stand-ins do, and what the report must say about it.
FIRST_FAILS = [
    pytest.param({"speedtest": "403"}, {}, "HTTP 403", id="403"),
    pytest.param({"speedtest": "429"}, {}, "HTTP 429", id="429"),
    pytest.param({}, {"speedtest_trusted": False}, "does not trust the certificate", id="tls"),
    pytest.param({"speedtest": "captive"}, {}, "login page", id="captive"),
    pytest.param({"dns": False}, {}, "could not be looked up", id="dns"),
    pytest.param({"speedtest": "stall"}, {}, "stopped answering", id="stall"),
]


@pytest.mark.parametrize(("modes", "client", "says"), FIRST_FAILS)
def test_speedtest_failing_falls_over_to_cloudflare(
    internet: Internet, tmp_path: Path, modes: dict[str, Any], client: dict[str, Any], says: str
) -> None:
    internet.services(**modes)
    try:
        env = internet.trust(tmp_path, speedtest=client.get("speedtest_trusted", True))
        report, text, _, elapsed = homecheck(internet, tmp_path, env=env)
    finally:
        internet.stop_services()
    network = network_of(report)
    values = {m["metric"]: m for m in network["measurements"]}
    assert network["reason"] is None and not network["partial"], network["reason"]
    assert network["details"]["public_service"] == "Cloudflare"
    (skipped,) = network["details"]["public_not_used"]
    assert skipped["service"] == "speedtest.net" and says in skipped["reason"]
    assert "speedtest.net" in skipped["reason"]  # the sentence names the service that failed
    # Cloudflare's figures, of this link: tbf at 10/4 Mbit/s (its 2 ms of tokens let a short
    # window read a little over the set rate). Once, under a heavily loaded machine, the download
    # read 1.058 of the set rate after the stall case: a short phase after failover (issue 15,
    # open); this test checks which service measured, the bench checks accuracy.
    down, up = values["network.download_mbps"], values["network.upload_mbps"]
    assert 0.85 * DOWN_MBIT <= down["value"] <= 1.10 * DOWN_MBIT
    assert 0.85 * UP_MBIT <= up["value"] <= 1.10 * UP_MBIT
    assert down["method"].endswith("HTTPS to Cloudflare (GET /__down)")
    assert network["details"]["server"] == "Cloudflare (AMS)"
    assert values["network.latency_ms"]["value"] < 5  # a veth pair
    # The terminal (stderr, as --json - holds stdout) and the Markdown both name both services.
    line = f"Network measured by Cloudflare (speedtest.net was not used: {skipped['reason']}"
    assert line.split(":", 1)[0] in text.replace("\n", " ")
    assert text.count("Network measured by Cloudflare") == 2, text
    # The next backend started within the phase budget plus 10 s: the whole run shows it.
    assert elapsed < 25 + 20


def test_every_service_down_is_not_measured_with_each_reason(
    internet: Internet, tmp_path: Path
) -> None:
    internet.services(speedtest="429", cloudflare="403")
    try:
        report, text, code, elapsed = homecheck(internet, tmp_path, env=internet.trust(tmp_path))
    finally:
        internet.stop_services()
    network = network_of(report)
    assert code == 2
    assert elapsed < 30
    assert network["measurements"] == [] or all(
        m["metric"] in {"network.connection", "network.vpn", "network.link_speed_mbps",
                        "network.dns_ms"} for m in network["measurements"]
    )  # fmt: skip
    reason = network["reason"]
    assert reason.startswith("No public speed test could run")
    assert "speedtest.net is limiting how often tests run (HTTP 429" in reason
    assert "speed.cloudflare.com refused the test (HTTP 403" in reason
    assert "homecheck run --server URL" in reason
    services = [e["service"] for e in network["details"]["public_not_used"]]
    assert services == ["speedtest.net", "Cloudflare"]
    assert "No public speed test measured the network" in text


def test_public_backend_cloudflare_never_contacts_speedtest(
    internet: Internet, tmp_path: Path
) -> None:
    internet.services()
    before = internet.tcp_connections_to_speedtest()
    try:
        report, text, _, _ = homecheck(internet, tmp_path, "--public-backend", "cloudflare",
                                       env=internet.trust(tmp_path))  # fmt: skip
    finally:
        internet.stop_services()
    network = network_of(report)
    assert network["reason"] is None
    assert network["details"]["public_service"] == "Cloudflare"
    assert "public_not_used" not in network["details"]
    assert internet.tcp_connections_to_speedtest() == before
    assert "Network measured by Cloudflare." in text


def test_cloudflare_alone_stalling_is_not_measured_with_its_reason(
    internet: Internet, tmp_path: Path
) -> None:
    internet.services(cloudflare="stall")
    try:
        report, _, code, elapsed = homecheck(internet, tmp_path, "--public-backend", "cloudflare",
                                             env=internet.trust(tmp_path))  # fmt: skip
    finally:
        internet.stop_services()
    network = network_of(report)
    assert network["partial"]
    assert network["details"]["public_service"] == "Cloudflare"
    assert "public_not_used" not in network["details"]
    stopped = network["details"]["stopped_because"]
    assert stopped.startswith("speed.cloudflare.com stopped answering in the middle of the test")
    assert "network.download_mbps" not in {m["metric"] for m in network["measurements"]}
    assert code == 2
    assert elapsed < 30
