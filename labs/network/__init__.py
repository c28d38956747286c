"""The network lab: real network links with known properties, on this machine only, for tests and
bench/, and local stand-ins of the public services (speedtest_fake.py speaks speedtest.net's
protocol over https with a test CA; dns_server.py answers DNS with a set delay).

    from labs.network import Link, LinkSpec
    with Link(LinkSpec(down_mbps=20, up_mbps=5, rtt_ms=40, jitter_ms=2)) as link:
        url = link.serve()            # homecheck serve in the server namespace
        with link.client():           # this thread now lives in the client namespace
            result = probe.run(context)

Needs root, iproute2, iptables, ethtool, iperf3 and /dev/net/tun (see link.check_environment).
"""

from labs.network.link import Link, LinkSpec, check_environment
from labs.network.netns import LabError, Netns, VethPair, host_problem

__all__ = [
    "LabError",
    "Link",
    "LinkSpec",
    "Netns",
    "VethPair",
    "check_environment",
    "host_problem",
]
