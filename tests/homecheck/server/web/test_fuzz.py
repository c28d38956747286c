"""A bounded random fuzz of the web plane's HTTP surface (tests/support/fuzz.py): no 5xx and no
traceback in the child's log, whatever the method, path, headers, body or framing."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.homecheck.server.web.conftest import Running
from tests.support.fuzz import UNKNOWN_CODING, fuzz

REQUESTS = 2000


def test_random_requests_get_no_5xx_and_leave_no_traceback(
    web_plane: Callable[..., Running],
) -> None:
    running = web_plane(idle_timeout_s=2.0, max_body_bytes=100_000)
    started = time.monotonic()
    counts = fuzz("127.0.0.1", running.port, n=REQUESTS, seed=12, paths=("/", "/healthz"))
    took = time.monotonic() - started
    server_errors = {k: v for k, v in counts.items() if isinstance(k, int) and k >= 500}
    assert server_errors == {}, counts
    # The run reached the app and its errors, not only the parser's 400s.
    assert counts[200] > 100 and counts[404] > 50 and counts[405] > 50 and counts[400] > 100
    assert counts["timeout"] == 0, counts
    answered = sum(v for k, v in counts.items() if isinstance(k, int) and k >= 200)
    assert answered + counts[UNKNOWN_CODING] + counts["closed"] >= REQUESTS * 0.95
    assert running.get("/")[0] == 200
    running.plane.stop()
    log = running.log_text()
    assert "Traceback" not in log
    assert " ERROR " not in log, log[-2000:]
    assert took < 120
    print(f"fuzz: {REQUESTS} requests in {took:.1f} s: {sorted(counts.items(), key=str)}")
