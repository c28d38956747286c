"""The chooser's decisions (probes/network/public/choose.py) as a table: which backends run, when a
result counts, how an overrunning backend is stopped. The backends here are plain functions
returning results; the real services' failures are in test_failover.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from homecheck.metrics import Metric, measured
from homecheck.model import ProbeResult, Unmeasured
from homecheck.probe import ProbeContext, PublicBackend
from probes.network.public import choose
from probes.network.public.errors import ADVICE

FIGURES = (measured(Metric.DOWNLOAD_MBPS, 9.5), measured(Metric.UPLOAD_MBPS, 3.8))


def measuring(context: ProbeContext) -> ProbeResult:
    return ProbeResult(probe="network", measurements=FIGURES)


def refusing(sentence: str) -> Callable[[ProbeContext], ProbeResult]:
    def run(context: ProbeContext) -> ProbeResult:
        reason = f"{sentence}. {ADVICE}"
        return ProbeResult(
            probe="network", reason=reason, unmeasured=(Unmeasured(Metric.DOWNLOAD_MBPS, reason),)
        )

    return run


def hanging(context: ProbeContext) -> ProbeResult:
    """A service that stops answering and never gives up by itself: only its context ends it."""
    context.cancelled.wait(60)
    return ProbeResult(probe="network", measurements=FIGURES[:1], partial=True)


def backend(key: PublicBackend, run: Callable[[ProbeContext], ProbeResult]) -> choose.Backend:
    title = {PublicBackend.SPEEDTEST: "speedtest.net", PublicBackend.CLOUDFLARE: "Cloudflare"}
    return choose.Backend(key, title[key], run, expected_s=1.0, bound_s=5.0)


@pytest.mark.parametrize(
    ("choice", "titles"),
    [
        (PublicBackend.AUTO, ["speedtest.net", "Cloudflare"]),
        (PublicBackend.SPEEDTEST, ["speedtest.net"]),
        (PublicBackend.CLOUDFLARE, ["Cloudflare"]),
    ],
)
def test_the_choice_sets_the_order(choice: PublicBackend, titles: list[str]) -> None:
    every = (
        backend(PublicBackend.SPEEDTEST, measuring),
        backend(PublicBackend.CLOUDFLARE, measuring),
    )
    assert [b.title for b in choose.order(choice, every)] == titles


def test_the_first_that_measures_is_named_and_the_failed_one_says_why() -> None:
    first = backend(PublicBackend.SPEEDTEST, refusing("Speedtest.net refused the test (HTTP 403)"))
    result = choose.run(ProbeContext(), [first, backend(PublicBackend.CLOUDFLARE, measuring)])
    assert result.measurements == FIGURES and result.reason is None
    assert result.details["public_service"] == "Cloudflare"
    assert result.details["public_not_used"] == [
        {"service": "speedtest.net", "reason": "speedtest.net refused the test (HTTP 403)"}
    ]


def test_a_first_choice_that_measures_is_used_alone() -> None:
    calls: list[str] = []

    def second(context: ProbeContext) -> ProbeResult:
        calls.append("cloudflare")
        return measuring(context)

    first = backend(PublicBackend.SPEEDTEST, measuring)
    result = choose.run(ProbeContext(), [first, backend(PublicBackend.CLOUDFLARE, second)])
    assert result.details["public_service"] == "speedtest.net"
    assert "public_not_used" not in result.details and calls == []


def test_an_overrunning_backend_is_stopped_and_the_next_starts_in_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(choose, "PHASE_BUDGET_S", 0.3)
    monkeypatch.setattr(choose, "FAILOVER_S", 0.2)
    began = time.monotonic()
    started: list[float] = []

    def second(context: ProbeContext) -> ProbeResult:
        started.append(time.monotonic() - began)
        return measuring(context)

    first = backend(PublicBackend.SPEEDTEST, hanging)
    result = choose.run(ProbeContext(), [first, backend(PublicBackend.CLOUDFLARE, second)])
    assert 0.5 <= started[0] < 1.0
    assert result.details["public_service"] == "Cloudflare"
    (skipped,) = result.details["public_not_used"]
    assert skipped == {"service": "speedtest.net", "reason": "the test did not finish within 0.5 s"}


def test_every_backend_failing_gives_each_reason_and_the_way_out() -> None:
    result = choose.run(
        ProbeContext(),
        [
            backend(
                PublicBackend.SPEEDTEST, refusing("Speedtest.net is limiting tests (HTTP 429)")
            ),
            backend(PublicBackend.CLOUDFLARE, refusing("The name speed.cloudflare.com failed")),
        ],
    )
    assert result.reason == (
        "No public speed test could run (speedtest.net: speedtest.net is limiting tests (HTTP "
        f"429); Cloudflare: the name speed.cloudflare.com failed). {ADVICE}"
    )
    assert {u.metric for u in result.unmeasured} >= {Metric.DOWNLOAD_MBPS, Metric.UPLOAD_MBPS}
    assert [e["service"] for e in result.details["public_not_used"]] == [
        "speedtest.net",
        "Cloudflare",
    ]


def test_ctrl_c_stops_without_trying_the_next() -> None:
    context = ProbeContext()
    calls: list[str] = []

    def second(own: ProbeContext) -> ProbeResult:
        calls.append("cloudflare")
        return measuring(own)

    threading.Timer(0.2, context.cancelled.set).start()
    result = choose.run(
        context,
        [backend(PublicBackend.SPEEDTEST, hanging), backend(PublicBackend.CLOUDFLARE, second)],
    )
    assert calls == [] and result.partial
    assert result.details["public_service"] == "speedtest.net"


def test_the_time_bound_allows_the_first_its_cut_and_the_last_its_own() -> None:
    every = [
        backend(PublicBackend.SPEEDTEST, measuring),
        backend(PublicBackend.CLOUDFLARE, measuring),
    ]
    assert choose.bound_s(every) == pytest.approx(5.0 + 5.0 + 1.0)
    slow = [
        choose.Backend(PublicBackend.SPEEDTEST, "speedtest.net", measuring, 14.0, 40.0),
        every[1],
    ]
    assert choose.bound_s(slow) == pytest.approx(choose.PHASE_BUDGET_S + choose.FAILOVER_S + 6.0)
