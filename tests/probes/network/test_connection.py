"""Connection facts and DNS time, measured inside network namespaces the test builds.

A "home" namespace reaches an "isp" namespace over a veth pair (an Ethernet adapter with no radio:
wired); a TUN device with OpenVPN-style /1 routes plays a VPN. The "isp" side runs a real DNS
server, and the home namespace's /etc/resolv.conf points at it (`ip netns exec` mounts
/etc/netns/NAME/resolv.conf). The code under test runs in the namespace as a separate process, as
it would on a candidate's machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from labs.network.netns import PYTHON, ROOT, Netns, VethPair, host_problem
from tests.support.environment import need

MEASURE = """
import json
from probes.network import connection
r = connection.measure(target={target!r}, dns_names={names!r}, dns_timeout_s={timeout})
print(json.dumps({{
    "values": {{m.metric: m.value for m in r.measurements}},
    "methods": {{m.metric: m.method for m in r.measurements}},
    "unmeasured": {{u.metric: u.reason for u in r.unmeasured}},
    "details": r.details,
}}))
"""


@dataclass
class Lab:
    home: Netns
    isp: Netns
    pair: VethPair

    def measure(self, target: str | None = None, names: tuple[str, ...] = ("a.test",),
                timeout: float = 2.0) -> Any:  # fmt: skip
        return self.home.python(MEASURE.format(target=target, names=names, timeout=timeout))


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    problem = host_problem("iperf3", "iptables", "openssl")
    need(problem is None, problem or "")
    home, isp = Netns("h"), Netns("i")
    try:
        pair = VethPair(home, isp, subnet=5)
        home.ip("route", "add", "default", "via", pair.addr_b)
        home.resolv_conf(f"nameserver {pair.addr_b}\noptions timeout:1 attempts:1\n")
        dns = isp.popen(PYTHON, str(ROOT / "labs" / "network" / "dns_server.py"), "--host", pair.addr_b,
                        "--delay-ms", "40")  # fmt: skip
        assert dns.stdout is not None and "listening" in dns.stdout.readline()
        yield Lab(home, isp, pair)
        dns.terminate()
        dns.wait(5)
    finally:
        home.delete()
        isp.delete()


def test_a_veth_default_route_is_wired_with_its_link_speed(lab: Lab) -> None:
    out = lab.measure()
    values = out["values"]
    assert values["network.connection"] == "wired"
    assert values["network.vpn"] is False
    assert out["details"]["interface"] == lab.pair.dev_a
    speed = lab.home.run("cat", f"/sys/class/net/{lab.pair.dev_a}/speed").strip()
    assert values["network.link_speed_mbps"] == float(speed)
    assert out["unmeasured"]["network.wifi_signal_dbm"] == "not connected by Wi-Fi"


def test_the_adapter_towards_a_given_server(lab: Lab) -> None:
    out = lab.measure(target=lab.pair.addr_b)
    assert out["details"]["interface"] == lab.pair.dev_a


def test_dns_time_is_the_servers_delay(lab: Lab) -> None:
    out = lab.measure(names=("crm.test", "phone.test", "missing.test"))
    lookups = out["details"]["dns_lookups_ms"]
    # The server answers after 40 ms; the resolver adds well under 100 ms on a busy 2-core box.
    assert 40 <= out["values"]["network.dns_ms"] < 140
    assert lookups["missing.test"] is None  # NXDOMAIN is a failed lookup, not a time
    assert "1 failed: missing.test" in out["methods"]["network.dns_ms"]


def test_a_tun_vpn_is_flagged_and_the_wired_link_under_it_found(lab: Lab) -> None:
    tun = "hcnptun0"
    lab.home.ip("tuntap", "add", "dev", tun, "mode", "tun")
    try:
        lab.home.ip("addr", "add", "10.78.0.1", "peer", "10.78.0.2", "dev", tun)
        lab.home.ip("link", "set", tun, "up")
        for half in ("0.0.0.0/1", "128.0.0.0/1"):  # what OpenVPN's redirect-gateway def1 adds
            lab.home.ip("route", "add", half, "dev", tun)
        out = lab.measure(names=())
    finally:
        lab.home.ip("link", "del", tun)
    assert out["values"]["network.vpn"] is True
    assert out["details"]["vpn_interface"] == tun
    assert out["values"]["network.connection"] == "wired"  # the veth underneath
    assert out["details"]["interface"] == lab.pair.dev_a


def test_no_route_and_no_dns_is_not_measured_quickly() -> None:
    problem = host_problem("iperf3", "iptables", "openssl")
    need(problem is None, problem or "")
    alone = Netns("o")  # only a loopback adapter: a computer with no network at all
    try:
        alone.resolv_conf("nameserver 10.77.250.1\n")
        started = time.monotonic()
        out = alone.python(MEASURE.format(target=None, names=("a.test", "b.test"), timeout=2.0))
        elapsed = time.monotonic() - started
    finally:
        alone.delete()
    assert out["values"] == {}
    assert "no network route" in out["unmeasured"]["network.connection"]
    assert "no internet connection" in out["unmeasured"]["network.dns_ms"]
    assert elapsed < 4.0  # unreachable fails at once; a Python start-up is most of this
