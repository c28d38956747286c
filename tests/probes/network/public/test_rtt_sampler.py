"""The delay/jitter/loss probes of the public backend, on real links.

Loopback for TCP connect timing; a pair of namespaces for ICMP (allowed there with
net.ipv4.ping_group_range, which is per namespace) and for loss: an iptables `statistic` rule drops
a known share of the probes at random (those need root; the loopback ones do not).
"""

from __future__ import annotations

import errno
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from labs.network.netns import Netns, VethPair, host_problem
from probes.network.public.rtt_sampler import RttMethod, RttSampler
from tests.support.environment import need
from tests.support.windows_select import use_windows_select

SAMPLE = """
import json, time
from probes.network.public.rtt_sampler import RttSampler
s = RttSampler({host!r}, {port}, interval_s=0.01, timeout_s=0.5).start()
time.sleep({seconds})
out = s.stop()
print(json.dumps({{"method": s.method.value, "rtts": [x.rtt_ms for x in out]}}))
"""


def test_tcp_connect_timing_on_loopback() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(128)
        sampler = RttSampler("127.0.0.1", server.getsockname()[1], interval_s=0.02, try_icmp=False)
        sampler.start()
        time.sleep(1.0)
        samples = sampler.stop()
    assert sampler.method is RttMethod.TCP
    assert 35 <= len(samples) <= 55  # 50 per second, give or take start-up
    rtts = [s.rtt_ms for s in samples]
    assert None not in rtts
    assert all(r is not None and 0 < r < 50 for r in rtts)
    assert [s.sent_s for s in samples] == sorted(s.sent_s for s in samples)


def test_a_refused_connection_is_still_a_round_trip() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, not listening: the kernel answers RST
        sampler = RttSampler("127.0.0.1", port, interval_s=0.05, try_icmp=False).start()
        time.sleep(0.5)
        samples = sampler.stop()
    assert samples and all(s.rtt_ms is not None for s in samples)


@pytest.fixture(scope="module")
def pair() -> Iterator[VethPair]:
    problem = host_problem("iperf3", "iptables", "openssl")
    need(problem is None, problem or "")
    client, server = Netns("r"), Netns("e")
    try:
        link = VethPair(client, server, subnet=7)
        client.run("sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
        yield link
    finally:
        client.delete()
        server.delete()


def sample(pair: VethPair, port: int = 9, seconds: float = 2.0) -> tuple[str, list[float | None]]:
    out = pair.a.python(SAMPLE.format(host=pair.addr_b, port=port, seconds=seconds))
    assert isinstance(out, dict)
    return out["method"], out["rtts"]


def drop(ns: Netns, match: list[str], probability: float | None) -> list[str]:
    rule = ["INPUT", *match]
    if probability is not None:
        rule += ["-m", "statistic", "--mode", "random", "--probability", str(probability)]
    rule += ["-j", "DROP"]
    ns.run("iptables", "-A", *rule)
    return rule


@pytest.mark.root
def test_icmp_echo_where_the_os_allows_it(pair: VethPair) -> None:
    method, rtts = sample(pair)
    assert method == RttMethod.ICMP.value
    assert len(rtts) >= 150 and None not in rtts  # 100 per second for 2 s
    assert all(r is not None and r < 20 for r in rtts)


@pytest.mark.root
def test_icmp_loss_is_counted(pair: VethPair) -> None:
    need(pair.b.run("iptables", "-L", check=False) != "", "iptables does not work here")
    rule = drop(pair.b, ["-p", "icmp", "--icmp-type", "echo-request"], 0.2)
    try:
        method, rtts = sample(pair)
    finally:
        pair.b.run("iptables", "-D", *rule)
    loss = 100 * rtts.count(None) / len(rtts)
    assert method == RttMethod.ICMP.value
    # ~190 probes at p = 0.2: one standard deviation is 2.9 points; allow about three.
    assert 11 <= loss <= 29


@pytest.mark.root
def test_no_icmp_falls_back_to_tcp_and_counts_lost_syns(pair: VethPair) -> None:
    echo = drop(pair.b, ["-p", "icmp", "--icmp-type", "echo-request"], None)
    syn = drop(pair.b, ["-p", "tcp", "--syn", "--dport", "9"], 0.2)
    try:
        method, rtts = sample(pair, port=9)  # nothing listens on 9: answered by RST
    finally:
        pair.b.run("iptables", "-D", *echo)
        pair.b.run("iptables", "-D", *syn)
    loss = 100 * rtts.count(None) / len(rtts)
    assert method == RttMethod.TCP.value
    assert 11 <= loss <= 29


def test_keeps_sampling_with_windows_select(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows' select() refuses empty sets (WinError 10022), and between TCP probes nothing is
    registered: the sampler must keep going, not die after its first answer."""
    windows = use_windows_select(monkeypatch)
    errors: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(128)
        sampler = RttSampler("127.0.0.1", server.getsockname()[1], interval_s=0.02, try_icmp=False)
        assert isinstance(selectors.DefaultSelector(), windows)  # the stand-in is in place
        sampler.start()
        time.sleep(1.0)
        samples = sampler.stop()
    assert not errors and sampler.failure is None
    assert 35 <= len(samples) <= 55
    assert all(s.rtt_ms is not None and 0 < s.rtt_ms < 50 for s in samples)


def test_a_failing_loop_is_a_reason_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever ends the loop early is kept as `failure` for the report, not printed over the
    progress display."""

    class Broken(selectors.SelectSelector):
        def select(self, timeout: float | None = None) -> list[Any]:
            raise OSError(errno.ENOBUFS, "No buffer space available")

    monkeypatch.setattr(selectors, "DefaultSelector", Broken)
    errors: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(128)
        sampler = RttSampler("127.0.0.1", server.getsockname()[1], interval_s=0.02, try_icmp=False)
        sampler.start()
        time.sleep(0.3)
        sampler.stop()
    assert not errors
    assert sampler.failure is not None and "No buffer space" in sampler.failure
