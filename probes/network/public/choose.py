"""Which public speed test measures, and what happens when one is refused, fails or is blocked.

Without an employer server the public services are the candidate's only network verdict, and
speedtest.net refuses tool users at times (403/429, in waves), is blocked on some networks, or
sits behind a captive portal. So the backends are tried in order (`--public-backend auto`:
speedtest.net, then Cloudflare's speed test) until one measures:

- A backend "fails" when it measured nothing (a reason: DNS, TLS, 403/429, a login page, no
  answer in time) or was cut short (a service that stops answering mid-test ends its transfer
  with a reason, and a partial run is not the line's figure).
- The first backend gets the network phase's budget (15 s) plus the failover allowance (10 s):
  past that it is stopped through its context, as Ctrl-C would, and the next one starts. So the
  next backend always starts within 25 s of the first; the last one gets its own time bound.
- The report names the service that measured (details `public_service`) and, for each one that
  was not used, why (details `public_not_used`: service and reason), and the methods say it.
- Every backend failing is NOT MEASURED with each service's reason and the way out (an employer
  server), as one failing backend was before.

`--public-backend speedtest|cloudflare` runs that one alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from homecheck.metrics import Metric
from homecheck.model import JSON, ProbeResult, Unmeasured
from homecheck.probe import ProbeContext, PublicBackend
from probes.network.public.errors import ADVICE
from probes.network.public.run import METRICS, NOT_HERE

# The network phase's budget, and how much longer the first backend may take before the next one
# is tried (issue 15: "within the network phase's 15 s budget plus at most 10 s").
PHASE_BUDGET_S = 15.0
FAILOVER_S = 10.0
# Without these the run is not the line's figure: the next backend is tried.
NEEDED = (Metric.DOWNLOAD_MBPS, Metric.UPLOAD_MBPS)


@dataclass(frozen=True)
class Backend:
    """One public speed-test service."""

    key: PublicBackend
    title: str  # the service's name as the report says it: "speedtest.net", "Cloudflare"
    run: Callable[[ProbeContext], ProbeResult]
    expected_s: float  # a whole test, typically
    bound_s: float  # the longest one test can take


@dataclass(frozen=True)
class NotUsed:
    title: str
    reason: str


def order(choice: PublicBackend, backends: Sequence[Backend]) -> tuple[Backend, ...]:
    """The backends to try for `--public-backend choice`, first choice first."""
    if choice is PublicBackend.AUTO:
        return tuple(backends)
    return tuple(b for b in backends if b.key is choice)


def bound_s(backends: Sequence[Backend]) -> float:
    """The longest a run of `backends` in turn can take (the probe's time bound)."""
    if not backends:
        return 0.0
    cut = PHASE_BUDGET_S + FAILOVER_S
    firsts = sum(min(b.bound_s, cut) for b in backends[:-1])
    return firsts + backends[-1].bound_s + 1.0


def expected_s(backends: Sequence[Backend]) -> float:
    return backends[0].expected_s if backends else 0.0


def run(context: ProbeContext, backends: Sequence[Backend]) -> ProbeResult:
    """Try `backends` in turn; the first that measures is the result."""
    started = time.monotonic()
    not_used: list[NotUsed] = []
    cut_short: ProbeResult | None = None
    for index, backend in enumerate(backends):
        last = index == len(backends) - 1
        if not_used:
            context.progress(0.0, f"{not_used[-1].title} failed; trying {backend.title}")
        allowed = backend.bound_s if last else min(backend.bound_s, PHASE_BUDGET_S + FAILOVER_S)
        result, overran = _bounded(context, backend, allowed)
        if context.cancelled.is_set():  # Ctrl-C or the runner's bound: no next backend
            return _named(result, backend, not_used)
        problem = _failure(result, overran, allowed)
        if problem is None:
            return _named(result, backend, not_used)
        not_used.append(NotUsed(backend.title, problem))
        if result.measurements and cut_short is None:
            cut_short = _named(result, backend, [])
    if cut_short is not None:  # every backend failed, one of them part-way: keep its figures
        kept = cut_short.details.get("public_service")
        return _with_not_used(cut_short, [n for n in not_used if n.title != kept])
    return _nothing(not_used, time.monotonic() - started)


def _bounded(context: ProbeContext, backend: Backend, seconds: float) -> tuple[ProbeResult, bool]:
    """`backend.run` with its own cancel event, set by the run's own (Ctrl-C, the runner's
    bound) or after `seconds`; (its result, whether it ran out of time)."""
    own = ProbeContext(
        options=context.options, cancelled=threading.Event(), progress=context.progress
    )
    finished = threading.Event()
    overran = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + seconds
        while not finished.is_set():
            if context.cancelled.is_set():
                own.cancelled.set()
                return
            if time.monotonic() >= deadline:
                overran.set()
                own.cancelled.set()
                return
            finished.wait(0.05)

    watcher = threading.Thread(target=watch, name=f"public-{backend.key}", daemon=True)
    watcher.start()
    try:
        result = backend.run(own)
    finally:
        finished.set()
        watcher.join(1.0)
    return result, overran.is_set()


def _failure(result: ProbeResult, overran: bool, seconds: float) -> str | None:
    """Why `result` is not the line's figure, or None when it is."""
    if result.reason:
        return _named_first(result.reason.split(ADVICE)[0].strip().rstrip("."))
    stopped = result.details.get("stopped_because") if isinstance(result.details, dict) else None
    if overran:
        return f"the test did not finish within {seconds:g} s"
    if isinstance(stopped, str) and stopped:
        return _named_first(stopped[0].upper() + stopped[1:])
    measured = {m.metric for m in result.measurements}
    missing = [m for m in NEEDED if m not in measured]
    if result.partial or missing:
        why = next((u.reason for u in result.unmeasured if u.metric in missing), None)
        return why or "the test was cut short"
    return None


def _named(result: ProbeResult, backend: Backend, not_used: Sequence[NotUsed]) -> ProbeResult:
    details: dict[str, JSON] = {**result.details, "public_service": backend.title}
    return _with_not_used(replace(result, details=details), not_used)


def _with_not_used(result: ProbeResult, not_used: Sequence[NotUsed]) -> ProbeResult:
    if not not_used:
        return result
    entries: list[JSON] = [{"service": n.title, "reason": n.reason} for n in not_used]
    return replace(result, details={**result.details, "public_not_used": entries})


def _nothing(not_used: Sequence[NotUsed], seconds: float) -> ProbeResult:
    """Every backend failed: NOT MEASURED, each service's reason, and the way out."""
    if len(not_used) == 1:
        reason = f"{not_used[0].reason.rstrip('.')}. {ADVICE}"
    else:
        each = "; ".join(f"{n.title}: {_lower(n.reason).rstrip('.')}" for n in not_used)
        reason = f"No public speed test could run ({each}). {ADVICE}"
    entries: list[JSON] = [{"service": n.title, "reason": n.reason} for n in not_used]
    return ProbeResult(
        probe="network",
        unmeasured=tuple(Unmeasured(m, reason) for m in (*METRICS, *NOT_HERE)),
        details={"public_not_used": entries},
        reason=reason,
        duration_s=round(seconds, 3),
    )


def _named_first(sentence: str) -> str:
    """A sentence that starts with a service's name keeps the name as it is written
    ("Speedtest.net refused" -> "speedtest.net refused")."""
    first = sentence.split(" ", 1)[0].rstrip(".,:")
    return sentence[0].lower() + sentence[1:] if "." in first else sentence


def _lower(text: str) -> str:
    return text[0].lower() + text[1:] if text[:1].isupper() and text[1:2].islower() else text
