"""The network probe on real shaped links (labs.network): accuracy against known truths.

Needs root (CI runs as root: there a lab that cannot be built fails, see conftest.need). Links are
small and phases short so the whole file takes about a minute on two cores.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from homecheck.model import ProbeResult
from homecheck.probe import ProbeContext, ProbeOptions
from homecheck.runner import run_probes
from labs.network import Link, LinkSpec
from labs.network.netns import run as sh
from probes.network import NetworkProbe, Timing
from probes.network.employer import result as network_result

pytestmark = pytest.mark.root

Lab = Callable[[LinkSpec], Link]


def _probe(link: Link, url: str, timing: Timing, duration_s: float | None = None) -> ProbeResult:
    context = ProbeContext(options=ProbeOptions(server=url, duration_s=duration_s))
    with link.client():
        return NetworkProbe(timing).run(context)


def _value(result: ProbeResult, metric: str) -> float:
    found = result.measurement(metric)
    assert found is not None, {u.metric: u.reason for u in result.unmeasured}.get(metric)
    assert not isinstance(found.value, str | bool)
    return float(found.value)


def test_throughput_within_5_percent_of_iperf3(lab: Lab) -> None:
    link = lab(LinkSpec(down_mbps=20, up_mbps=5, queue_ms=30))
    url = link.serve()
    # One busy moment of a 2-core CI machine can move a single short iperf3 run or probe phase by
    # ~5 % either way (seen: iperf3 18.2 against a usual 19.1). So the truth is iperf3 run both
    # before and after the probe, and a second attempt is allowed; a probe that is really off by
    # more than 5 % fails both.
    attempts = []
    for _ in range(2):
        before = (link.iperf3(True, seconds=4, omit_s=1), link.iperf3(False, seconds=4, omit_s=1))
        result = _probe(link, url, Timing(idle_s=1.0, load_s=5.0))
        after = (link.iperf3(True, seconds=4, omit_s=1), link.iperf3(False, seconds=4, omit_s=1))
        truth_down, truth_up = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
        down = _value(result, "network.download_mbps")
        up = _value(result, "network.upload_mbps")
        attempts.append((down, truth_down, up, truth_up))
        # TCP goodput is ~95.6 % of a tbf rate (1448 payload bytes per 1514-byte frame). A sanity
        # check of the lab itself: below 90 % the lab was starved (CI saw iperf3 read 17.7 of 20
        # once), and that attempt judges nothing.
        lab_ok = 0.90 * 20 < truth_down < 1.03 * 20 and 0.90 * 5 < truth_up < 1.03 * 5
        if (
            lab_ok
            and down == pytest.approx(truth_down, rel=0.05)
            and up == pytest.approx(truth_up, rel=0.05)
        ):
            return
    pytest.fail(f"not within 5 % of iperf3 (down, iperf3, up, iperf3) twice: {attempts}")


def test_delay_jitter_and_loss_per_direction(lab: Lab) -> None:
    rtt, jitter, loss = 40.0, 4.0, 2.0
    spec = LinkSpec(
        down_mbps=20,
        up_mbps=5,
        rtt_ms=rtt,
        jitter_ms=jitter,
        loss_down_pct=loss,
        loss_up_pct=loss,
    )
    # The relay that delays the packets is a userspace process: a moment the machine does not
    # run it (CI once read a 45 ms median on this link) makes the link itself slower than set.
    # So a second, fresh link is allowed; a probe that is really off is off on both.
    for attempt in range(2):
        link = lab(spec)
        url = link.serve()
        result = _probe(link, url, Timing(idle_s=1.0, load_s=1.5, window_s=2.0), duration_s=6.0)
        if _value(result, "network.latency_ms") == pytest.approx(rtt, abs=2.0) or attempt:
            break
    # The relay delays each way by rtt/2 +- jitter (uniform): the median round trip is the set
    # one, plus ~0.5 ms for the TUN/relay hops and sending 200 bytes at 5 Mbit/s.
    assert _value(result, "network.latency_ms") == pytest.approx(rtt, abs=2.0)
    assert _value(result, "network.latency_p95_ms") < rtt + 2 * jitter + 2
    # RFC 3550 jitter of a uniform +-j delay is 2j/3 = 2.67 ms. Over ~300 packets its sampling
    # error is ~0.1 ms, timestamps add ~0.1 ms: 0.7 ms is a safe bound that a wrong estimator
    # (e.g. round-trip jitter, or J taken from 0) would miss.
    for direction in ("up", "down"):
        assert _value(result, f"network.jitter_{direction}_ms") == pytest.approx(
            2 * jitter / 3, abs=0.7
        )
    # Loss: the link counts every UDP packet that arrives each way; with what the probe sent,
    # that is the exact loss per direction (random drops, and queue overflows under load). The
    # probe must find exactly those, give or take the few count queries it sends at the end.
    stream = result.details["stream"]
    assert isinstance(stream, dict)
    sent, queries = int(stream["sent"]), int(stream["count_queries"])  # type: ignore[arg-type]
    probe_in_server = link.loss_probe_count("server", "INPUT")
    probe_in_client = link.loss_probe_count("client", "INPUT")
    reached_server = link.udp_arrivals("server") - probe_in_server
    reached_client = link.udp_arrivals("client") - probe_in_client
    lost_up_truth = sent + queries - reached_server
    lost_down_truth = reached_server - reached_client  # the server answers every packet
    counted_up = int(stream["lost_up"]) + int(stream["unresolved"])  # type: ignore[arg-type]
    counted_down = int(stream["lost_down"])  # type: ignore[arg-type]
    assert lost_up_truth - (queries - 1) <= counted_up <= lost_up_truth
    assert (
        lost_down_truth - (queries - 1) - int(stream["unresolved"])
        <= counted_down
        <= lost_down_truth
    )  # type: ignore[arg-type]
    assert link.udp_dropped("client") > 0 and link.udp_dropped("server") > 0  # the rule works
    # The loss probe (500 small packets/s), against the link's counters of its packets. Up: every
    # packet counts, so the count is exact. Down: answers sent while the download began and the
    # burst's tail are left out, so the link's losses lie between the probe's and that plus
    # what it left out.
    probe = result.details["loss_probe"]
    assert isinstance(probe, dict) and not probe["errors"]
    sent_up = link.loss_probe_count("client", "OUTPUT")
    assert probe["sent"] == probe["counted_up"] == sent_up
    assert probe["lost_up"] == sent_up - probe_in_server
    sent_down = link.loss_probe_count("server", "OUTPUT")
    lost_down, counted_down = int(probe["lost_down"]), int(probe["counted_down"])  # type: ignore[arg-type]
    assert probe["down_sent"] and counted_down > 0.9 * sent_down
    assert lost_down <= sent_down - probe_in_client <= lost_down + (sent_down - counted_down)
    # The percentage itself is a sample of ~4,000 packets per direction (the probe and the voice
    # stream): binomial sd 0.23 pp at 2 %; 1 pp is over four of them.
    for direction in ("up", "down"):
        assert _value(result, f"network.loss_{direction}_pct") == pytest.approx(loss, abs=1.0)
    # The stability run: three 2 s windows, the worst one reported.
    assert len(result.details["windows"]) == 3  # type: ignore[arg-type]
    assert (
        _value(result, "network.worst_window_loss_pct") >= _value(result, "network.loss_up_pct") - 3
    )
    assert 1 < _value(result, "network.worst_window_mos") <= _value(result, "network.mos")


@pytest.mark.parametrize(("queue_ms", "bloated"), [(500, True), (10, False)])
def test_bufferbloat_seen_on_a_deep_queue_only(lab: Lab, queue_ms: float, bloated: bool) -> None:
    link = lab(LinkSpec(down_mbps=8, up_mbps=2, queue_ms=queue_ms))
    url = link.serve()
    result = _probe(link, url, Timing(idle_s=1.0, load_s=3.0))
    increase = _value(result, "network.loaded_latency_increase_ms")
    if bloated:
        assert increase > 250  # the upload fills a 500 ms queue
    else:
        assert increase < 40  # a 10 ms queue (plus a 2 ms burst) cannot hold more


def test_udp_blocked_falls_back_to_tcp_timing(lab: Lab) -> None:
    link = lab(LinkSpec(down_mbps=20, up_mbps=5, rtt_ms=30))
    url = link.serve()
    link.block_udp()
    result = _probe(link, url, Timing(idle_s=1.0, load_s=1.0))
    udp_ok = result.measurement("network.udp_ok")
    assert udp_ok is not None and udp_ok.value is False
    latency = result.measurement("network.latency_ms")
    assert latency is not None and "TCP" in latency.method
    assert _value(result, "network.latency_ms") == pytest.approx(30, abs=3)
    reasons = {u.metric: u.reason for u in result.unmeasured}
    assert reasons["network.jitter_up_ms"] == network_result.UDP_BLOCKED
    assert reasons["network.mos"] == network_result.UDP_BLOCKED
    assert result.measurement("network.download_mbps") is not None


def test_no_route_and_silent_server_are_not_measured_in_time(lab: Lab) -> None:
    link = lab(LinkSpec())
    url = link.serve()
    timing = Timing(connect_timeout_s=2.0)
    with link.client():
        began = time.monotonic()
        no_route = run_probes([NetworkProbe(timing)], ProbeOptions(server="http://198.19.9.9:8765"))
        assert time.monotonic() - began < 1.0
        # Now the server's packets vanish (a firewall that drops instead of refusing).
        sh(["iptables", "-w", "-I", "OUTPUT", "-p", "tcp", "--dport", "8765", "-j", "DROP"])
        began = time.monotonic()
        silent = run_probes([NetworkProbe(timing)], ProbeOptions(server=url))
        assert time.monotonic() - began < timing.connect_timeout_s + 1.0
    assert "no route" in (no_route.results[0].reason or "")
    assert "did not answer within 2 s" in (silent.results[0].reason or "")
    for outcome in (no_route, silent):
        assert "198." not in (outcome.results[0].reason or "")


def test_link_cut_mid_test_is_bounded_and_keeps_what_was_measured(lab: Lab) -> None:
    link = lab(LinkSpec(down_mbps=20, up_mbps=5, rtt_ms=20))
    url = link.serve()
    timing = Timing(idle_s=2.0, load_s=3.0)
    threading.Timer(3.0, link.cut).start()  # one second into the download
    began = time.monotonic()
    result = _probe(link, url, timing)
    took = time.monotonic() - began
    # Cut 1 s into the download; 1.5 s without an answer means lost; ~2 s to wrap up.
    assert took < timing.idle_s + 1.0 + timing.lost_after_s + 3.0
    assert result.partial
    assert _value(result, "network.latency_ms") == pytest.approx(20, abs=2)
    reasons = {u.metric: u.reason for u in result.unmeasured}
    assert reasons["network.upload_mbps"] == network_result.LOST
    assert reasons["network.download_mbps"] == network_result.LOST
