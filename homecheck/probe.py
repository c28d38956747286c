"""What a probe is, and what the runner hands it.

A probe measures and returns a `ProbeResult`; it never decides pass/fail and never prints. Progress
goes through `ProbeContext.progress`, and a long probe checks `ProbeContext.cancelled` so Ctrl-C or
the time bound can stop it with what it has measured so far.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Protocol

from homecheck.errors import HomecheckError
from homecheck.model import ProbeResult

# A network stability run (--duration) is judged in windows this long (a call drops in one bad
# stretch); a run shorter than one window has no worst window, so --duration starts here.
STABILITY_WINDOW_S = 10.0

# The reason every probe gives for what Ctrl-C left unmeasured (cause STOPPED).
STOPPED_REASON = "stopped by the user (Ctrl-C) before this was measured"


def _ignore_progress(fraction: float, message: str) -> None:
    """Default progress sink: nothing listens."""


class PublicBackend(StrEnum):
    """The public speed-test service used without --server (`--public-backend`)."""

    SPEEDTEST = "speedtest"  # speedtest.net (Ookla) only
    CLOUDFLARE = "cloudflare"  # speed.cloudflare.com only
    AUTO = "auto"  # speedtest.net, then Cloudflare when speedtest.net fails


@dataclass
class ProbeOptions:
    """User choices that probes read. Every field has a default that runs on a bare machine."""

    server: str | None = None  # a `homecheck serve` URL; None means public speed-test servers
    duration_s: float | None = None  # network stability run; None means the short default
    mic: str | None = None  # input device name or index
    speech: bool = False  # ask the person to read a sentence
    dns_names: tuple[str, ...] = ()  # names whose lookup is timed; () means the probe's defaults
    public_backend: PublicBackend = PublicBackend.AUTO  # without `server`: which public service
    # Under an employer's invite (homecheck run --invite): its secret, sent when a test session
    # opens, and who is told each test session id the server gives (the report names it).
    invite: str | None = None
    on_test_session: Callable[[str], None] | None = None


@dataclass
class ProbeContext:
    options: ProbeOptions = field(default_factory=ProbeOptions)
    # This probe's own event: set by Ctrl-C or when its time bound passes (then it has a short
    # grace to return what it measured).
    cancelled: threading.Event = field(default_factory=threading.Event)
    progress: Callable[[float, str], None] = _ignore_progress


class Probe(Protocol):
    """One measured area. `name` is the id used by `--only` and in the JSON report."""

    name: ClassVar[str]
    title: ClassVar[str]
    # The metric ids this probe is responsible for (see homecheck.metrics).
    metrics: ClassVar[tuple[str, ...]]

    def expected_seconds(self, options: ProbeOptions) -> float:
        """Roughly how long `run` takes: drives the progress bar's time left."""
        ...

    def timeout_seconds(self, options: ProbeOptions) -> float:
        """The hard bound: past it the runner gives up and reports NOT MEASURED."""
        ...

    def run(self, context: ProbeContext) -> ProbeResult: ...


class ProbeError(HomecheckError):
    """A probe could not measure; the message is shown to the user as the reason."""
