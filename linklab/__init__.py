"""The link lab: real network links with known properties, on this machine only, for tests and
bench/. Lives at the top of the repository (not under tests/) because both the test suite and
the benchmarks import it, and it is not shipped with homecheck (setuptools packages omit it).

    from linklab import Link, LinkSpec
    with Link(LinkSpec(down_mbps=20, up_mbps=5, rtt_ms=40, jitter_ms=2)) as link:
        url = link.serve()            # homecheck serve in the server namespace
        with link.client():           # this thread now lives in the client namespace
            result = probe.run(context)

Needs root, iproute2, iptables, ethtool, iperf3 and /dev/net/tun (see link.check_environment).
"""

from linklab.link import Link, LinkSpec, check_environment
from linklab.netns import LabError

__all__ = ["LabError", "Link", "LinkSpec", "check_environment"]
